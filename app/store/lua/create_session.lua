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
-- ARGV[9 + i]  session id of the i-th session the caller read from the index
--
-- Returns {'created', evicted_id, ...}, {'retry'} when the index changed since the caller read
-- it (read it again and call again), or {'disabled'} when the user is gone or disabled.
local user, index, session = KEYS[1], KEYS[2], KEYS[3]
local now, deadline = tonumber(ARGV[3]), tonumber(ARGV[4])
local limit = tonumber(ARGV[8])

local account = redis.call('HMGET', user, 'email', 'disabled')
if not account[1] or account[2] == '1' then
  return {'disabled'}
end

-- Drop index entries whose session expired; remember where each live one's keys are.
local live = {}
local live_count = 0
local known = #ARGV - 8
for i = 0, known - 1 do
  local sid = ARGV[9 + i]
  if redis.call('EXISTS', KEYS[4 + 2 * i]) == 1 then
    live[sid] = i
    live_count = live_count + 1
  else
    redis.call('ZREM', index, sid)
  end
end
if redis.call('ZCARD', index) ~= live_count then
  return {'retry'}
end

local result = {'created'}
while live_count >= limit do
  local oldest = redis.call('ZRANGE', index, 0, 0)[1]
  local i = live[oldest]
  redis.call('DEL', KEYS[4 + 2 * i], KEYS[5 + 2 * i])
  redis.call('ZREM', index, oldest)
  live_count = live_count - 1
  table.insert(result, oldest)
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
