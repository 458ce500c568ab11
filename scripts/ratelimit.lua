-- ratelimit.lua: per-source rate limiter (LuaElement, 1 input, 1 or 2
-- outputs), one token bucket per IPv4 source address.
--
-- Packets within the rate go to output 0; excess packets go to output 1
-- when the element has two outputs, else they are dropped.
-- Non-IPv4 packets pass.
--
-- ARGS: rate=PACKETS_PER_SECOND (default 1000)  burst=PACKETS (default rate)
-- Handlers: read e.limited (excess packets), read e.sources (buckets)
--
-- Uses the batch form: one Go->Lua call per batch.

local rate, burst, excess_port
local buckets = {}     -- src -> { tokens, last }
local nsources = 0
local limited = counter("limited")

function init(args, info)
  rate = args.rate or 1000
  burst = args.burst or rate
  if info.outputs >= 2 then excess_port = 1 end
  if rate <= 0 or burst < 1 then return false, "rate and burst must be positive" end
end

function push_batch(port, pkts, n)
  local t = now()
  for i = 1, n do
    local p = pkts[i]
    local ip = p:ip()
    if ip then
      local src = ip:src_u32()
      local b = buckets[src]
      if not b then
        b = { tokens = burst, last = t }
        buckets[src] = b
        nsources = nsources + 1
      else
        local tk = b.tokens + (t - b.last) * rate
        if tk > burst then tk = burst end
        b.tokens, b.last = tk, t
      end
      if b.tokens >= 1 then
        b.tokens = b.tokens - 1
      else
        limited:inc()
        if excess_port then p:send(excess_port) else p:drop() end
      end
    end
  end
end

handlers = {
  limited = function() return limited:get() end,
  sources = function() return nsources end,
}
