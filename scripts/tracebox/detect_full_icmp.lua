-- Full-ICMP (RFC 1812) router census: which routers quote the whole probe
-- and which only quote 8 bytes (RFC 792).
dofile((SCRIPT_DIR or "./") .. "lib.lua")
local dst = argv[1]
local hops = tbx.trace(IP / tcp{dst=80} / mss(1460) / raw("tracebox"), dst)
local full, partial = 0, 0
for ttl = 1, tbx.maxttl(hops) do
  local h = hops[ttl]
  if h and h.rip and h.rip ~= dst then
    if h.mods:partial() == 1 then
      partial = partial + 1
      print(string.format("hop %d (%s): RFC 792 quote (8 bytes)", ttl, h.rip))
    else
      full = full + 1
      print(string.format("hop %d (%s): full quote (RFC 1812)", ttl, h.rip))
    end
  end
end
print(string.format("full-ICMP census: %d full, %d partial", full, partial))
