-- Stateful middlebox: SYN1 finds the server distance D; SYN2 (same 5-tuple,
-- seq-10) dies before the server (max TTL D-1); SYN3 (seq-20) must still
-- reach the server, otherwise state created in a box blocks it.
dofile((SCRIPT_DIR or "./") .. "lib.lua")
local dst = argv[1]
local t = tcp{dst=80, seq=100000}
local sport = t:getsource()
local hops, d = tbx.trace(IP / t, dst)
if d == nil then print("stateful: server not reached, cannot test") return end
local old = set_ttl_range{max_ttl=d - 1}
local h2 = tbx.trace(IP / tcp{dst=80, src=sport, seq=99990}, dst)
set_ttl_range{max_ttl=old.max_ttl}
local h3, d3 = tbx.trace(IP / tcp{dst=80, src=sport, seq=99980}, dst)
if d3 == nil then
  local last = 0
  for ttl = 1, tbx.maxttl(h3) do if h3[ttl] and h3[ttl].rip then last = ttl end end
  print(string.format("stateful: a middlebox after hop %d (%s) keeps state and drops SYN3", last, last > 0 and h3[last].rip or "source"))
else
  print(string.format("stateful: no stateful middlebox detected (server at hop %d)", d3))
end
