-- Authorize one access token: is its session alive, its user active, the token not denied?
-- The only Redis round trip of an authenticated request, so it also returns the user's
-- public fields (GET /me needs nothing else).
--
-- KEYS[1]  session hash            auth:{uid}:session:<sid>
-- KEYS[2]  denied access token     auth:{uid}:denied:<jti>
-- KEYS[3]  user hash               auth:{uid}:user
--
-- Returns {email, created_ms} when authorized, false (nil) otherwise. Missing keys mean
-- "ended": the check fails closed after a flush or an operator's delete.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return false
end
local user = redis.call('HMGET', KEYS[3], 'email', 'created', 'disabled')
if not user[1] or user[3] == '1' then
  return false
end
return {user[1], user[2]}
