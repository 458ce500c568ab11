-- classify.lua: mark-and-steer classifier (LuaElement, 1 input, 3
-- outputs), written in the batch form.
--
--   class 1 "voice": UDP to SIP (5060) or the RTP range, or DSCP EF
--                    -> paint 1, DSCP EF (46), output 1
--   class 2 "web":   TCP to 80/443 -> paint 2, DSCP AF21 (18), output 2
--   class 0 other:   paint 0, DSCP unchanged, output 0
--   sources in `trusted` keep their DSCP (only painted and steered).
--
-- ARGS: rtp_low=N rtp_high=N (default 16384..32767) trusted=PREFIX
-- Handlers: read e.classes ("other N", "voice N", "web N")

local rtp_low, rtp_high = 16384, 32767
local trusted = nil
local EF, AF21 = 46, 18
local cnt = { [0] = counter("other"), counter("voice"), counter("web") }

function init(args)
  rtp_low = args.rtp_low or rtp_low
  rtp_high = args.rtp_high or rtp_high
  if args.trusted then trusted = net.prefix(args.trusted) end
end

local function class(p)
  local ip = p:ip()
  if not ip then return 0 end
  local u = p:udp()
  if u then
    local d = u:dport()
    if d == 5060 or (d >= rtp_low and d <= rtp_high) then return 1, ip end
  end
  local t = p:tcp()
  if t then
    local d = t:dport()
    if d == 80 or d == 443 then return 2, ip end
  end
  if math.floor(ip:tos() / 4) == EF then return 1, ip end
  return 0, ip
end

function push_batch(port, pkts, n)
  for i = 1, n do
    local p = pkts[i]
    local c, ip = class(p)
    cnt[c]:inc()
    p:set_paint(c)
    if c ~= 0 and not (trusted and ip:src_in(trusted)) then
      local dscp = (c == 1) and EF or AF21
      ip:set_tos(dscp * 4 + ip:tos() % 4)  -- keeps ECN bits; checksum fixed
    end
    p:send(c)
  end
end

handlers = {
  classes = function()
    return string.format("other %d\nvoice %d\nweb %d", cnt[0]:get(), cnt[1]:get(), cnt[2]:get())
  end,
}
