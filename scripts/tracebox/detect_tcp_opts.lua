-- TCP option stripping / alteration / addition (MSS, WScale, SACK-permitted,
-- timestamps, MD5 kind 19, MP_CAPABLE).
dofile((SCRIPT_DIR or "./") .. "lib.lua")
local dst = argv[1]
-- {verdict name, option, tracebox layer name of the option}
local opts = {
  {"MSS", function() return mss(1460) end, "TCPOptionMaxSegSize"},
  {"WScale", function() return WSCALE end, "TCPOptionWindowScale"},
  {"SACKPermitted", function() return SACKP end, "TCPOptionSACKPermitted"},
  {"Timestamp", function() return TS end, "TCPOptionTimestamp"},
  {"MD5", function() return TCPOption.new{kind=19, length=18, data={1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16}} end, "TCPOption"},
  {"MPCapable", function() return MPCAPABLE end, "TCPOptionMPTCPCapable"},
}
-- touches(text, layer): the modification list removes the option layer
-- ("-Layer") or changes one of its fields ("Layer::Field"); other options
-- added or changed by the path (a MSS clamp adding MSS) do not count.
local function touches(text, layer)
  for tok in string.gmatch(text, "%S+") do
    if tok == "-" .. layer or string.sub(tok, 1, #layer + 2) == layer .. "::" then return true end
  end
  return false
end
-- baseline without options: detects added options
local hops = tbx.trace(IP / tcp{dst=80}, dst)
for ttl = 1, tbx.maxttl(hops) do
  local h = hops[ttl]
  if h and h.rip and h.rip ~= dst and string.find(h.text, "+TCPOption") then
    print(string.format("TCP options: added before hop %d (%s): %s", ttl, h.rip, h.text))
    break
  end
end
for _, o in ipairs(opts) do
  local p = IP / tcp{dst=80} / o[2]()
  local hs = tbx.trace(p, dst)
  local verdict = o[1] .. ": no change detected"
  for ttl = 1, tbx.maxttl(hs) do
    local h = hs[ttl]
    if h and h.rip and h.rip ~= dst and h.mods:partial() == 0 and touches(h.text, o[3]) then
      verdict = string.format("%s: removed or changed before hop %d (%s): %s", o[1], ttl, h.rip, h.text)
      break
    end
  end
  print(verdict)
end
