-- flowpolicy.lua: on_flow policy hook, called by LuaFlowHook for the
-- first packet of each new flow; the verdict sticks to the flow.
--
--   telnet (TCP 23) and SMB (TCP 445) from outside 10/8 -> drop
--   flows to the 10.0.0.0/8 data-centre prefix         -> output 1
--   everything else                                    -> output 0, painted 1
--
-- It may also serve as the boot/run configuration's hook file (the other
-- hooks are optional).

local inside = net.prefix("10.0.0.0/8")
local blocked = { [23] = true, [445] = true }
local seen = counter("flows")

function on_flow(p)
  seen:inc()
  local ip = p:ip()
  if not ip then return true end
  local tcp = p:tcp()
  if tcp and blocked[tcp:dport()] and not ip:src_in(inside) then
    log.warn("blocked flow from " .. ip:src() .. " to port " .. tcp:dport())
    return false
  end
  if ip:dst_in(inside) then return 1 end
  p:set_paint(1)
  return true
end
