-- TCP sequence-number rewriting (and its offset).
-- Usage: tracebox -s detect_seq.lua DST [DPORT]
dofile((SCRIPT_DIR or "./") .. "lib.lua")
local dst = argv[1]
local seq = 1000000
local p = IP / tcp{dst=tonumber(argv[2]) or 80, seq=seq}
local fw = filter(p)
local hops = tbx.trace(p, dst)
fw:close()
local a, b, old, new = tbx.first_change(hops, dst, function(q)
  if q:tcp() then return q:tcp():getseq() end
  if q:partialtcp() then return q:partialtcp():getseq() end
end)
if a == nil then
  -- a change before the first answering hop shows against the probe
  for ttl = 1, tbx.maxttl(hops) do
    local h = hops[ttl]
    if h and h.quote and h.rip ~= dst then
      local q = h.quote
      local s = (q:tcp() and q:tcp():getseq()) or (q:partialtcp() and q:partialtcp():getseq())
      if s and s ~= seq then a, b, old, new = 0, ttl, seq, s end
      break
    end
  end
end
if a == nil then print("TCP::SeqNumber: no change detected") return end
local off = (new - old) % 4294967296
if a == 0 then
  print(string.format("TCP::SeqNumber: changed before hop %d (%s), offset %d", b, hops[b].rip, off))
else
  tbx.verdict("TCP::SeqNumber", hops, a, b, string.format(", offset %d", off))
end
