-- A resource server's protected endpoint with the connection's own Rotor access token.
dofile(os.getenv("ROTOR_BENCH_LUA") .. "/common.lua")

function init(args)
  local header = "Bearer " .. read_line(id)
  req = wrk.format("GET", "/api/protected", {["Authorization"] = header})
end

function request()
  return req
end
