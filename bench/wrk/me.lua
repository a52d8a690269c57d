-- An authenticated GET /me with the connection's own access token.
dofile(os.getenv("ROTOR_BENCH_LUA") .. "/common.lua")

function init(args)
  local header = "Bearer " .. read_line(id)
  req = wrk.format("GET", "/api/auth/me", {["Authorization"] = header})
end

function request()
  return req
end
