-- prio.lua: strict-priority scheduler for a pull context (LuaElement's
-- pull(port)). Input 0 is served first, then input 1, and so on; the
-- element sits between queues and whatever pulls:
--
--   hi :: Queue -> [0]s :: LuaElement(SCRIPT scripts/prio.lua, INPUTS 2);
--   lo :: Queue -> [1]s;
--   s -> Unqueue -> ToDevice(eth1);
--
-- Handlers: read s.served (packets served per input, "i=n" words);
-- counters input0, input1, ... (read s.counters).

local nin = 1
local served = {}

function init(args, info)
  nin = info.inputs
  if nin < 1 or info.outputs ~= 1 then
    return false, "prio.lua needs INPUTS >= 1 and OUTPUTS 1"
  end
  for i = 0, nin - 1 do
    served[i] = counter("input" .. i)
  end
end

function pull(port)
  for i = 0, nin - 1 do
    local p = input(i)
    if p then
      served[i]:inc()
      return p
    end
  end
  return nil
end

handlers = {
  served = function()
    local out = {}
    for i = 0, nin - 1 do
      out[#out + 1] = i .. "=" .. served[i]:get()
    end
    return table.concat(out, " ")
  end,
}
