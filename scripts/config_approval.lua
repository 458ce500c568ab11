-- config_approval.lua: policy hook (named in the boot/run configuration)
-- that rejects configurations sending traffic to non-whitelisted
-- destinations.
--
-- Destinations are the addresses an element writes into packets or sends
-- to: the DST of encapsulators and address setters, socket peers, and any
-- DST/DADDR/GATEWAY keyword argument. Addresses written as prefixes count
-- as a destination if any of the prefix lies outside the whitelist.

whitelist = {
  net.prefix("10.0.0.0/8"),
  net.prefix("192.168.0.0/16"),
  net.prefix("2001:db8::/32"),
}

-- class -> 1-based positional argument holding a destination address
local DST_ARG = {
  IPEncap = 3, UDPIPEncap = 3, SetIPAddress = 1, SetIPDst = 1, StoreIPAddress = 1,
  IPRewriterPatterns = 3, Socket = 2, RawSocket = 2, ICMPPingSource = 2,
}
local DST_KEYS = { DST = true, DADDR = true, GATEWAY = true, DSTIP = true }

local function allowed(addr)
  for _, pfx in ipairs(whitelist) do
    if pfx:contains(addr) then return true end
  end
  return false
end

-- check returns nil if value is fine, else a reason.
local function check(elem, value)
  value = value:gsub("^%s+", ""):gsub("%s+$", "")
  local addr = value:match("^([%x:%.]+)/%d+$") or value
  if not net.valid(addr) then return nil end -- not an address (port, name, '-')
  if not allowed(addr) then
    return string.format("element %s (%s) sends to %s, outside the whitelist", elem.name, elem.class, value)
  end
  if value:find("/") then -- a prefix must lie entirely inside
    local p = net.prefix(value)
    for _, w in ipairs(whitelist) do
      if w:contains(p:addr()) and w:bits() <= p:bits() then return nil end
    end
    return string.format("element %s (%s) prefix %s is wider than the whitelist", elem.name, elem.class, value)
  end
  return nil
end

function on_config(req)
  for _, e in ipairs(req.elements) do
    local pos = 0
    for _, arg in ipairs(e.args) do
      local kw, val = arg:match("^([%u_]+)%s+(.+)$")
      if kw and DST_KEYS[kw] then
        local why = check(e, val)
        if why then return false, why end
      elseif not kw then
        pos = pos + 1
        if DST_ARG[e.class] == pos then
          local why = check(e, arg)
          if why then return false, why end
        end
      end
    end
  end
  return true
end
