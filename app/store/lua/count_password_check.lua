-- Count a password check before it runs, or refuse it: the counting and the decision are one
-- step, so however many checks arrive at once, at most each limit of them run per window.
-- Refused when the email has had its limit of failures from this client address, or (the
-- brake) from all addresses while this address also failed in its shortest window: an address
-- that has not failed lately (the owner's own) passes the brake.
--
-- KEYS[1 .. n]       the email's failures from this address, one counter per window, the
--                    shortest window first    auth:{login:<digest>}:fails:<window s>:<ip>
-- KEYS[n+1 .. #KEYS] the email's failures from every address, one per window (the brake;
--                    may be none)             auth:{login:<digest>}:fails:<window s>
--
-- ARGV[1]            n
-- ARGV[2i], ARGV[2i + 1]  limit and window (ms) of KEYS[i]
--
-- Returns {1} when the check may run (counted in every window, each counter expiring with
-- its window), or {0, retry_after_ms} when it is refused (nothing counted).
local n = tonumber(ARGV[1])

local function count(i)
  return tonumber(redis.call('GET', KEYS[i])) or 0
end

local function remaining_ms(i)
  local ttl = redis.call('PTTL', KEYS[i])
  return ttl > 0 and ttl or tonumber(ARGV[2 * i + 1])
end

for i = 1, n do
  if count(i) >= tonumber(ARGV[2 * i]) then
    return {0, remaining_ms(i)}
  end
end

if count(1) > 0 then
  for i = n + 1, #KEYS do
    if count(i) >= tonumber(ARGV[2 * i]) then
      -- Braked until the brake's window ends, or this address's shortest one does.
      return {0, math.min(remaining_ms(i), remaining_ms(1))}
    end
  end
end

for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then
    redis.call('PEXPIRE', KEYS[i], ARGV[2 * i + 1])
  end
end
return {1}
