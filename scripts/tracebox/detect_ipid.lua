-- IP ID rewriting (NAT, normaliser): first hop whose quoted ID differs.
dofile((SCRIPT_DIR or "./") .. "lib.lua")
local dst = argv[1]
local p = ip{id=4242} / tcp{dst=80}
local hops = tbx.trace(p, dst)
for ttl = 1, tbx.maxttl(hops) do
  local h = hops[ttl]
  if h and h.rip and h.rip ~= dst and h.quote:ip() and h.quote:ip():id() ~= 4242 then
    local prev = ttl - 1
    while prev > 0 and (hops[prev] == nil or hops[prev].rip == nil) do prev = prev - 1 end
    print(string.format("IP::Identification: changed between hop %d (%s) and hop %d (%s)", prev, prev > 0 and hops[prev].rip or "source", ttl, h.rip))
    return
  end
end
print("IP::Identification: no change detected")
