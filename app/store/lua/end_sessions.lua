-- End sessions of one user: delete their keys and take them out of the index.
-- Logout, logout-all, password change, session delete and operator revokes all come here.
--
-- KEYS[1]  session index (zset)    auth:{uid}:sessions
-- KEYS[2]  denied access token     auth:{uid}:denied:<jti> (only read when ARGV[1] > 0)
-- KEYS[3 + 2i], KEYS[4 + 2i]       session hash and grace hash of the i-th session to end
--
-- ARGV[1]  ms to deny the access token named by KEYS[2] (its remaining lifetime); 0: none
-- ARGV[2 + i]  session id of the i-th session to end
--
-- Returns the number of sessions that were alive and are now ended.
local index = KEYS[1]
local deny_ms = tonumber(ARGV[1])
if deny_ms > 0 then
  redis.call('SET', KEYS[2], '1', 'PX', deny_ms)
end
local ended = 0
for i = 0, #ARGV - 2 do
  ended = ended + redis.call('DEL', KEYS[3 + 2 * i])
  redis.call('DEL', KEYS[4 + 2 * i])
  redis.call('ZREM', index, ARGV[2 + i])
end
if redis.call('ZCARD', index) == 0 then
  redis.call('DEL', index)
end
return ended
