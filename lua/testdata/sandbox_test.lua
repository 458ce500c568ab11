-- Sandbox: what scripts must not reach.

function TestRemovedLibraries(t)
  t:raises(function() return io.open("/etc/passwd") end, "sandbox: io.open is not available")
  t:raises(function() return os.execute("true") end, "sandbox: os.execute")
  t:raises(function() return os.exit(1) end, "sandbox: os.exit")
  t:raises(function() return os.getenv("HOME") end, "sandbox")
  t:raises(function() return debug.getinfo(1) end, "sandbox")
  t:raises(function() return package.loadlib("x", "y") end, "sandbox")
  t:raises(function() return coroutine.create(print) end, "sandbox")
  t:raises(function() io.write = print end, "sandbox: io is read-only")
  t:eq(getmetatable(io), "sandbox", "metatable is locked")
end

function TestRemovedFunctions(t)
  t:raises(function() dofile("/etc/passwd") end, "sandbox: dofile")
  t:raises(function() loadfile("/etc/passwd") end, "sandbox: loadfile")
  t:raises(function() load(function() return nil end) end, "sandbox: load")
  t:raises(function() loadstring("return 1") end, "sandbox: loadstring")
  t:raises(function() collectgarbage() end, "sandbox: collectgarbage")
  t:raises(function() setfenv(1, {}) end, "sandbox: setfenv")
  t:raises(function() getfenv(1) end, "sandbox: getfenv")
end

function TestRequireIsConfined(t)
  t:raises(function() require("../../etc/passwd") end, "invalid module name")
  t:raises(function() require("/etc/passwd") end, "invalid module name")
  t:raises(function() require(".hidden") end, "invalid module name")
  t:raises(function() require("no_such_module_here") end, "module not found")
  local m = require("helper_mod")
  t:eq(m.double(21), 42)
  t:ok(require("helper_mod") == m, "cached")
  -- the module runs in the same sandbox
  t:raises(function() m.escape() end, "sandbox: os.execute")
end

function TestMemoryBombs(t)
  t:raises(function() return string.rep("x", 1e9) end, "larger than")
  t:raises(function() return ("x"):rep(1e9) end, "larger than")
  t:eq(string.rep("ab", 3), "ababab")
end

function TestStackOverflow(t)
  local function f(n) return f(n + 1) + 1 end
  t:raises(function() f(1) end, "stack overflow")
end

function TestStringMetatableLocked(t)
  -- scripts cannot reach a loader through the string metatable
  t:ok(type(getmetatable("").__index) == "table")
  t:eq(getmetatable("").__index.load, nil)
end

function TestSparseTableKeys(t)
  -- numeric keys far above the array bound go to the hash part instead of
  -- growing an array to that index (IPv4 addresses as keys)
  local tb = {}
  tb[60000000] = 1
  tb[net.ip4("200.1.2.3")] = 2
  t:eq(tb[60000000], 1)
  t:eq(tb[net.ip4("200.1.2.3")], 2)
  local n = 0
  for k, v in pairs(tb) do n = n + 1 end
  t:eq(n, 2)
  local seq = {}
  for i = 1, 1000 do seq[i] = i end
  t:eq(#seq, 1000)
end
