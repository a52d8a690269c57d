-- Replace a user's password hash, unless the password changed since the caller checked it.
-- A password change moves the password epoch on, which the create-session script compares:
-- a login that checked the old password before this ran cannot open a session after it.
--
-- KEYS[1]  user hash               auth:{uid}:user
--
-- ARGV[1]  the password epoch the caller checked the current password against ('pw_epoch')
-- ARGV[2]  the new bcrypt hash
-- ARGV[3]  now, ms
--
-- Returns the new epoch, or false (nil) when the user is gone or the epoch moved: another
-- password change came first, so the password the caller checked is no longer the user's.
local user = KEYS[1]
local current = redis.call('HMGET', user, 'email', 'pw_epoch')
if not current[1] or (current[2] or '0') ~= ARGV[1] then
  return false
end
redis.call('HSET', user, 'pw', ARGV[2], 'pw_changed', ARGV[3])
return redis.call('HINCRBY', user, 'pw_epoch', 1)
