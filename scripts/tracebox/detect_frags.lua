-- Fragmentation behaviour (port of detect_frags.py, plus a path-MTU probe).
-- Usage: tracebox -s detect_frags.lua DST [SIZE]
--
-- 1. A baseline SYN with a 64-byte payload finds the routers of the path.
-- 2. The same probe is split into IP fragments of 32 bytes (fragment())
--    and the first fragment is traced up to the last router: a hop that
--    drops fragments (or reassembles them, holding the lone fragment)
--    ends the trace early. Only the first fragment is traced: routers
--    send no ICMP errors about non-first fragments (RFC 1812 4.3.2.7).
-- 3. A SIZE-byte (1400) probe with DF set is traced: the router before
--    a smaller-MTU link answers "fragmentation needed" with the MTU; a
--    silent loss is a PMTU black hole.
dofile((SCRIPT_DIR or "./") .. "lib.lua")
local dst = argv[1]
local size = tonumber(argv[2] or "1400")

local base = IP / tcp{dst=80} / raw(string.rep("x", 64))
local hops, reached = tbx.trace(base, dst)
-- deepest router (not the destination) answering in a trace
local function deepest(hs)
  local d = 0
  for ttl = 1, tbx.maxttl(hs) do
    local h = hs[ttl]
    if h and h.rip and h.rip ~= dst then d = ttl end
  end
  return d
end
local function hopname(ttl)
  if ttl == 0 then return "the source" end
  local h = hops[ttl]
  return string.format("hop %d (%s)", ttl, h and h.rip or "*")
end
local last = deepest(hops)
if last == 0 then print("fragments: no router answers the baseline probe") return end

-- 2. fragments
local frags = fragment(base, 32)
set_ttl_range{min_ttl=1, max_ttl=last}
local fh = tbx.trace(frags[1], dst)
local fd = deepest(fh)
if fd < last then
  print(string.format("fragments: dropped between %s and %s (%d fragments of 32 bytes)", hopname(fd), hopname(fd + 1), #frags))
else
  print(string.format("fragments: forwarded up to %s (%d fragments of 32 bytes)", hopname(last), #frags))
end

-- 3. path MTU with DF
set_ttl_range{min_ttl=1, max_ttl=reached or last}
local big = ip{flags=2} / tcp{dst=80} / raw(string.rep("x", math.max(size - 40, 0)))
local needfrag, deep, got_dst = nil, 0, false
tracebox(big, {callback=function(ttl, rip, mods)
  if rip == nil then return 0 end
  local reply = mods:reply()
  local ic = reply and reply:icmp()
  if ic and ic:type() == 3 and ic:code() == 4 then
    needfrag = {ttl=ttl, rip=rip, mtu=ic:mtu()}
    return 1
  end
  if rip == dst then got_dst = true else deep = ttl end
  return 0
end})
if needfrag then
  print(string.format("PMTU: %d-byte DF probe too big after %s (answered at TTL %d): next-hop MTU %d",
    size, needfrag.rip, needfrag.ttl, needfrag.mtu))
elseif got_dst then
  print(string.format("PMTU: %d-byte DF probe reaches the destination", size))
elseif deep < last then
  print(string.format("PMTU: %d-byte DF probe lost between %s and %s without ICMP (black hole)", size, hopname(deep), hopname(deep + 1)))
else
  print(string.format("PMTU: %d-byte DF probe forwarded up to %s", size, hopname(deep)))
end
