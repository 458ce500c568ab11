-- Transparent proxy detection: the depth at which port 80 is answered is
-- compared with port 21; if port 21 goes deeper, something closer than the
-- server terminates port 80.
dofile((SCRIPT_DIR or "./") .. "lib.lua")
local dst = argv[1]
local function depth(port)
  local d, last = nil, 0
  tracebox(IP / tcp{dst=port}, {callback=function(ttl, rip, mods)
    if rip then last = ttl end
    local r = mods:received()
    if rip and r and r:tcp() and r:tcp():getsource() == port and r:source() == dst then d = ttl end
    return 0
  end})
  return d, last
end
local d80, l80 = depth(80)
local d21, l21 = depth(21)
local r80, r21 = d80 or l80, d21 or l21
if r21 > r80 then
  print(string.format("proxy: port 80 answered at hop %d but port 21 reaches hop %d: a proxy lies between hop %d and hop %d", r80, r21, r80 - 1, r80))
else
  print(string.format("proxy: none detected (port 80 at hop %d, port 21 at hop %d)", r80, r21))
end
