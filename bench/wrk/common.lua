-- Shared by the scenario scripts: give each wrk thread (one connection each) its own line of
-- the file named by ROTOR_BENCH_TOKENS, so every connection carries its own credentials.
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function read_line(n)
  local path = os.getenv("ROTOR_BENCH_TOKENS")
  local file = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  local i = 0
  for line in file:lines() do
    i = i + 1
    if i == n then
      file:close()
      return line
    end
  end
  file:close()
  error("no line " .. n .. " in " .. path)
end
