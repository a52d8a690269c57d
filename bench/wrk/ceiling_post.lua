-- The ceiling's POST: a small JSON body like a refresh request's.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"refresh_token":"' .. string.rep("x", 400) .. '"}'
