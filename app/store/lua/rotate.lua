-- Rotate a refresh token in one atomic step: rotate it, replay the successor inside the grace
-- window, re-synchronize after a failover lost the last rotation, or report reuse of a consumed
-- token (and end the session when told to).
--
-- KEYS[1]  session hash            auth:{uid}:session:<sid>
-- KEYS[2]  grace hash              auth:{uid}:grace:<sid>
-- KEYS[3]  session index (zset)    auth:{uid}:sessions
-- KEYS[4]  user hash               auth:{uid}:user
--
-- ARGV[1]  SHA-256 (hex) of the presented refresh token
-- ARGV[2]  generation the presented token carries
-- ARGV[3]  SHA-256 (hex) of the successor refresh token
-- ARGV[4]  now, ms
-- ARGV[5]  successor deadline, ms since the epoch: min(idle deadline, absolute deadline)
-- ARGV[6]  grace window, ms (0: no grace)
-- ARGV[7]  successor pair sealed under a key derived from the presented token ('' if no grace)
-- ARGV[8]  '1' to end the session when reuse is detected, '0' to keep it
-- ARGV[9]  session id (member of the index)
-- ARGV[10] client ip, ARGV[11] client user agent (the session's "last seen from")
--
-- Returns one of
--   {'rotated', new_generation}            also when this very call ran before and its answer
--                                          was lost (redis-py sent it again): the session's
--                                          token is already ARGV[3], the successor that only
--                                          this request holds; nothing is written again
--   {'resynced', new_generation}           the presented token is exactly one generation ahead
--                                          of the store: a rotation Redis lost (asynchronous
--                                          replication, failover); rotated from it
--   {'replayed', sealed_pair}              the presented token was consumed inside the window
--   {'reused', session_generation, ended, ip, ua}  a consumed token; ended is 1 if the session
--                                          ended; ip and ua are the session's last rotation
--   {'ended'}                              no such session (ended, expired, flushed) or the
--                                          user is gone or disabled
local session, grace, index, user = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[4])

local account = redis.call('HMGET', user, 'email', 'disabled')
if not account[1] or account[2] == '1' then
  return {'ended'}
end

local current = redis.call('HMGET', session, 'rt', 'gen', 'ip', 'ua')
if not current[1] then
  return {'ended'}
end

-- Consume the presented token: the successor becomes current, the presented one replayable.
local function rotate(outcome)
  local ttl = tonumber(ARGV[5]) - now
  if ttl <= 0 then
    return {'ended'}
  end
  local generation = tonumber(ARGV[2]) + 1
  redis.call('HSET', session, 'rt', ARGV[3], 'gen', generation, 'used', now, 'exp', ARGV[5],
    'ip', ARGV[10], 'ua', ARGV[11])
  redis.call('PEXPIRE', session, ttl)
  local window = tonumber(ARGV[6])
  if window > 0 then
    redis.call('HSET', grace, 'rt', ARGV[1], 'pair', ARGV[7])
    redis.call('PEXPIRE', grace, window)
  else
    redis.call('DEL', grace)
  end
  -- The index lives as long as the longest-lived session it lists.
  if redis.call('PTTL', index) < ttl then
    redis.call('PEXPIRE', index, ttl)
  end
  return {outcome, generation}
end

-- A retry of a rotation that already ran (a timeout or a dropped connection lost its answer):
-- answer it again instead of finding the presented token consumed, which would look like reuse.
if current[1] == ARGV[3] then
  return {'rotated', current[2]}
end

if current[1] == ARGV[1] then
  return rotate('rotated')
end

local replay = redis.call('HMGET', grace, 'rt', 'pair')
if replay[1] == ARGV[1] then
  return {'replayed', replay[2]}
end

-- Only Rotor signs refresh tokens, and it hands out generation n+1 only after recording it:
-- a signed token exactly one generation ahead is the successor of a rotation the store lost.
if tonumber(ARGV[2]) == tonumber(current[2]) + 1 then
  return rotate('resynced')
end

if ARGV[8] == '1' then
  redis.call('DEL', session, grace)
  redis.call('ZREM', index, ARGV[9])
  return {'reused', current[2], 1, current[3], current[4]}
end
return {'reused', current[2], 0, current[3], current[4]}
