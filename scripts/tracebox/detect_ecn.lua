-- ECN / DSCP bleaching: traces with ECT(0), CE, DSCP 10 and a SYN with ECE+CWR.
dofile((SCRIPT_DIR or "./") .. "lib.lua")
local dst = argv[1]
local tests = {
  {"ECN ECT(0)", ip{ecn=2} / tcp{dst=80}, "IP::ExpCongestionNot"},
  {"ECN CE", ip{ecn=3} / tcp{dst=80}, "IP::ExpCongestionNot"},
  {"DSCP 10", ip{dscp=10} / tcp{dst=80}, "IP::DiffServicesCP"},
  {"TCP ECE+CWR", IP / tcp{dst=80, flags=194}, "TCP::Flags"},
}
for _, t in ipairs(tests) do
  local hops = tbx.trace(t[2], dst)
  local done = false
  for ttl = 1, tbx.maxttl(hops) do
    local h = hops[ttl]
    if h and h.rip and h.rip ~= dst and h.mods:has(t[3]) then
      local prev = ttl - 1
      while prev > 0 and (hops[prev] == nil or hops[prev].rip == nil) do prev = prev - 1 end
      print(string.format("%s: %s reset between hop %d (%s) and hop %d (%s)", t[1], t[3], prev, prev > 0 and hops[prev].rip or "source", ttl, h.rip))
      done = true
      break
    end
  end
  if not done then print(t[1] .. ": no change detected") end
end
