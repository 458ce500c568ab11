-- portknock.lua: port-knocking filter (LuaElement, 1 input, 1 output).
--
-- A source that sends TCP SYNs to the knock ports in order (within
-- `window` seconds) may then open connections to the protected port for
-- `window` seconds. SYNs to the protected port from other sources are
-- dropped; SYNs to knock ports are always dropped (a wrong port restarts
-- the sequence); all other traffic passes.
--
-- IPv4 and IPv6 sources are tracked alike.
--
-- ARGS: knock=P1,P2,...  open=PORT  window=SECONDS (default 10)
-- Handlers: read e.open_sources  (sources currently allowed, one per line)
--           write e.close ADDR   (revoke a source)

local knock, open_port, window
local progress = {}   -- src (IPv4: number, IPv6: text) -> { step = n, at = time }
local allowed = {}    -- src -> expiry time
local is_knock = {}   -- port -> true
local knocks = counter("knocks")
local opened = counter("opened")
local refused = counter("refused")

function init(args)
  knock = args.knock
  if type(knock) == "number" then knock = { knock } end
  open_port = args.open
  window = args.window or 10
  if type(knock) ~= "table" or #knock == 0 or not open_port then
    return false, "ARGS need knock=P1,P2,... and open=PORT"
  end
  for _, k in ipairs(knock) do is_knock[k] = true end
end

-- source returns p's source address as a table key (IPv4: a number,
-- IPv6: its text) and as text.
local function source(p)
  local ip = p:ip()
  if ip then return ip:src_u32(), ip:src() end
  local ip6 = p:ip6()
  return ip6:src(), ip6:src()
end

function push(port, p)
  local tcp = p:tcp()
  if not tcp or not tcp:has_flags(TCP.SYN) or tcp:has_flags(TCP.ACK) then
    return 0                                 -- not a connection attempt
  end
  local src, text = source(p)
  local dport, t = tcp:dport(), now()
  if dport == open_port then
    local exp = allowed[src]
    if exp and exp >= t then return 0 end
    refused:inc()
    return nil
  end
  if not is_knock[dport] then return 0 end  -- ordinary traffic
  -- every SYN to a knock port is swallowed; it advances or resets progress
  local st = progress[src]
  if st and t - st.at > window then st = nil end
  local step = st and st.step or 0
  if dport ~= knock[step + 1] then
    step = (dport == knock[1]) and 0 or -1  -- wrong knock: start over
    if step < 0 then progress[src] = nil return nil end
  end
  knocks:inc()
  if step + 1 == #knock then
    progress[src] = nil
    allowed[src] = t + window
    opened:inc()
    log.info("port " .. open_port .. " opened for " .. text)
  else
    progress[src] = { step = step + 1, at = t }
  end
  return nil
end

handlers = {
  open_sources = function()
    local out, t = {}, now()
    for src, exp in pairs(allowed) do
      if exp >= t then out[#out + 1] = type(src) == "number" and net.ntoa(src) or src end
    end
    table.sort(out)
    return table.concat(out, "\n")
  end,
  close = { write = function(addr)
    if allowed[addr] then allowed[addr] = nil return end  -- IPv6, as open_sources shows it
    if not net.valid(addr) then return false, "not an address: " .. addr end
    allowed[net.ip4(addr)] = nil
  end },
}
