-- Replace a user's password hash, unless the password changed since the caller checked it.
-- A password change moves the password epoch on, which the create-session script compares:
-- a login that checked the old password before this ran cannot open a session after it.
--
-- KEYS[1]  user hash               auth:{uid}:user
--
-- ARGV[1]  the password epoch the caller checked the current password against ('pw_epoch')
-- ARGV[2]  the new bcrypt hash
-- ARGV[3]  its pre-hash scheme ('pw_prehash')
-- ARGV[4]  now, ms, for a password change (the epoch moves on); '' when the same password is
--          hashed again (an upgrade at login: the epoch stays, racing logins stay valid)
--
-- Returns 1 when the hash was replaced, or false (nil) when the user is gone or the epoch
-- moved: another password change came first, so the password the caller checked is no longer
-- the user's.
local user = KEYS[1]
local current = redis.call('HMGET', user, 'email', 'pw_epoch')
if not current[1] or (current[2] or '0') ~= ARGV[1] then
  return false
end
redis.call('HSET', user, 'pw', ARGV[2], 'pw_prehash', ARGV[3])
if ARGV[4] ~= '' then
  redis.call('HSET', user, 'pw_changed', ARGV[4])
  redis.call('HINCRBY', user, 'pw_epoch', 1)
end
return 1
