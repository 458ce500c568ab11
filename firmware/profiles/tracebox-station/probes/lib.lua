-- Shared helpers for the detector scripts (dofile'd).
tbx = tbx or {}
-- trace(pkt) returns a table ttl -> {rip=, mods=, quote=} and the hop
-- count at which the destination answered (nil if never).
function tbx.trace(pkt, dst)
  local hops, reached = {}, nil
  tracebox(pkt, {callback=function(ttl, rip, mods)
    local q = mods:received()
    hops[ttl] = {rip=rip, mods=mods, quote=q, text=tostring(mods)}
    if rip ~= nil and rip == dst then reached = ttl end
    return 0
  end})
  return hops, reached
end
function tbx.maxttl(h) local m = 0 for k in pairs(h) do if k > m then m = k end end return m end
-- first hop (a router, not the destination) whose quote differs from the
-- previous answering hop in field f(quote); returns prev, hop.
function tbx.first_change(hops, dst, f)
  local prevv, prevhop = nil, nil
  for ttl = 1, tbx.maxttl(hops) do
    local h = hops[ttl]
    if h and h.rip and h.rip ~= dst and h.quote then
      local v = f(h.quote, h.mods)
      if v ~= nil then
        if prevv ~= nil and v ~= prevv then return prevhop, ttl, prevv, v end
        prevv, prevhop = v, ttl
      end
    end
  end
  return nil
end
function tbx.verdict(name, hops, a, b, extra)
  if a == nil then
    print(name .. ": no change detected")
  else
    print(string.format("%s: changed between hop %d (%s) and hop %d (%s)%s", name, a, hops[a].rip, b, hops[b].rip, extra or ""))
  end
end
