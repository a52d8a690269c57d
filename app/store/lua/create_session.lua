-- Open a session at login, evicting the oldest ones beyond the per-user limit, and prune
-- index entries whose session already expired.
--
-- KEYS[1]  user hash               auth:{uid}:user
-- KEYS[2]  session index (zset)    auth:{uid}:sessions
-- KEYS[3]  new session hash        auth:{uid}:session:<sid>
-- KEYS[4 + 2i], KEYS[5 + 2i]       session hash and grace hash of the i-th session the caller
--                                  read from the index (i = 0 .. n-1)
--
-- ARGV[1]  new session id
-- ARGV[2]  SHA-256 (hex) of the first refresh token
-- ARGV[3]  now, ms
-- ARGV[4]  deadline of the first refresh token, ms since the epoch
-- ARGV[5]  absolute deadline of the session, ms since the epoch
-- ARGV[6]  client ip
-- ARGV[7]  client user agent
-- ARGV[8]  most sessions a user may hold
-- ARGV[9]  the password epoch the login checked its password against (the user's 'pw_epoch')
-- ARGV[10 + i]  session id of the i-th session the caller read from the index
--
-- Returns {'created', evicted_id, ...}; {'retry', session_id, ...} when the session to evict
-- is one opened since the caller read the index (its keys are not in KEYS): the ids now in the
-- index, to call again with;
-- {'disabled'} when the user is gone or disabled; {'password_changed'} when the password
-- changed after the login checked it (the old password must not open a session). A call that already ran (redis-py sent it
-- again after its answer was lost) finds its session and answers {'created'} again.
local user, index, session = KEYS[1], KEYS[2], KEYS[3]
local now, deadline = tonumber(ARGV[3]), tonumber(ARGV[4])
local limit = tonumber(ARGV[8])

local account = redis.call('HMGET', user, 'email', 'disabled', 'pw_epoch')
if not account[1] or account[2] == '1' then
  return {'disabled'}
end
if (account[3] or '0') ~= ARGV[9] then
  return {'password_changed'}
end

if redis.call('EXISTS', session) == 1 then
  return {'created'}
end

-- Drop index entries whose session expired; remember where each live one's keys are.
local live = {}
local known = #ARGV - 9
for i = 0, known - 1 do
  local sid = ARGV[10 + i]
  if redis.call('EXISTS', KEYS[4 + 2 * i]) == 1 then
    live[sid] = i
  else
    redis.call('ZREM', index, sid)
  end
end

-- The index now lists the live sessions the caller read, and any opened since (all live).
-- Decide every eviction before the first one: a retry must leave nothing half done.
local count = redis.call('ZCARD', index)
local result = {'created'}
if count >= limit then
  local oldest = redis.call('ZRANGE', index, 0, count - limit)
  for _, sid in ipairs(oldest) do
    if live[sid] == nil then
      local retry = redis.call('ZRANGE', index, 0, -1)
      table.insert(retry, 1, 'retry')
      return retry
    end
  end
  for _, sid in ipairs(oldest) do
    local i = live[sid]
    redis.call('DEL', KEYS[4 + 2 * i], KEYS[5 + 2 * i])
    redis.call('ZREM', index, sid)
    table.insert(result, sid)
  end
end

local ttl = deadline - now
redis.call('HSET', session,
  'rt', ARGV[2], 'gen', 0, 'created', now, 'used', now, 'exp', deadline, 'abs', ARGV[5],
  'ip', ARGV[6], 'ua', ARGV[7])
redis.call('PEXPIRE', session, ttl)
redis.call('ZADD', index, now, ARGV[1])
if redis.call('PTTL', index) < ttl then
  redis.call('PEXPIRE', index, ttl)
end
return result
