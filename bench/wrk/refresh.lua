-- Every connection chains its own refresh tokens: each request is a real rotation.
dofile(os.getenv("ROTOR_BENCH_LUA") .. "/common.lua")

function init(args)
  token = read_line(id)
end

function request()
  return wrk.format("POST", "/api/auth/refresh", {["Content-Type"] = "application/json"},
    '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  if status == 200 then
    token = body:match('"refresh_token":"([^"]+)"')
  end
end
