-- dnslog.lua: DNS query logger (LuaElement, 1 input, 1 output). Every
-- packet passes; UDP queries to port 53 are decoded (first question:
-- name and type) and logged, rate-limited by the log itself.
--
-- ARGS: keep=N  (recent queries kept for the handler, default 16)
-- Handlers: read e.recent  ("src name type" lines, oldest first)
--           read e.queries (count)

local keep = 16
local recent, head = {}, 0
local queries = counter("queries")
local malformed = counter("malformed")
local TYPES = { [1] = "A", [2] = "NS", [5] = "CNAME", [6] = "SOA", [12] = "PTR",
                [15] = "MX", [16] = "TXT", [28] = "AAAA", [33] = "SRV", [255] = "ANY" }

function init(args) keep = args.keep or keep end

-- qname decodes the question name at offset off; returns name, next offset.
local function qname(p, off, last)
  local labels = {}
  while off <= last do
    local len = p:byte(off)
    if len == 0 then return table.concat(labels, "."), off + 1 end
    if len >= 64 or off + len > last then return nil end -- pointer or truncated
    labels[#labels + 1] = p:bytes(off + 1, len)
    off = off + 1 + len
  end
  return nil
end

function push(port, p)
  local u = p:udp()
  if not u or u:dport() ~= 53 or u:payload_len() < 12 + 5 then return 0 end
  local d = u:payload_offset()
  local flags = p:u16(d + 2)
  if flags >= 0x8000 or p:u16(d + 4) == 0 then return 0 end -- response, or no question
  local name, off = qname(p, d + 12, d + u:payload_len() - 1)
  if not name or off + 4 > p:len() then malformed:inc() return 0 end
  local qtype = p:u16(off)
  local src = p:ip() and p:ip():src() or p:ip6():src()
  local line = src .. " " .. (name == "" and "." or name) .. " " .. (TYPES[qtype] or tostring(qtype))
  queries:inc()
  head = head % keep + 1
  recent[head] = line
  log.info("dns " .. line)
  return 0
end

handlers = {
  recent = function()
    local out = {}
    for i = 1, keep do
      local l = recent[(head + i - 1) % keep + 1]
      if l then out[#out + 1] = l end
    end
    return table.concat(out, "\n")
  end,
  queries = function() return queries:get() end,
}
