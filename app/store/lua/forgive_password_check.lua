-- Take a password check that passed back out of the failure counters: a right password is
-- not a failure, so the owner's own logins never spend the budget.
--
-- KEYS[1 .. n]  every counter count_password_check.lua counted the check in
--
-- Returns 1. A counter that expired meanwhile (its window ended) is left alone.
for i = 1, #KEYS do
  if (tonumber(redis.call('GET', KEYS[i])) or 0) > 0 then
    redis.call('DECR', KEYS[i])
  end
end
return 1
