-- POST /login with the connection's own account (line: email password).
dofile(os.getenv("ROTOR_BENCH_LUA") .. "/common.lua")

function init(args)
  local email, password = read_line(id):match("^(%S+) (.+)$")
  req = wrk.format("POST", "/api/auth/login", {["Content-Type"] = "application/json"},
    '{"email":"' .. email .. '","password":"' .. password .. '"}')
end

function request()
  return req
end
