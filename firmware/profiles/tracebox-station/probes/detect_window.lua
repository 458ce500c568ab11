-- Receive-window rewriting: two traces, window 0 and 65535.
-- Usage: tracebox -s detect_window.lua DST
dofile((SCRIPT_DIR or "./") .. "lib.lua")
local dst = argv[1]
local any = false
for _, w in ipairs({0, 65535}) do
  local p = IP / tcp{dst=80, win=w}
  local hops = tbx.trace(p, dst)
  for ttl = 1, tbx.maxttl(hops) do
    local h = hops[ttl]
    if h and h.rip ~= dst and h.mods:has("TCP::WindowsSize") then
      local prev = ttl - 1
      while prev > 0 and (hops[prev] == nil or hops[prev].rip == nil) do prev = prev - 1 end
      print(string.format("TCP::WindowsSize (win %d): changed between hop %d (%s) and hop %d (%s), now %d",
        w, prev, prev > 0 and hops[prev].rip or "source", ttl, h.rip, h.quote:tcp():getwin()))
      any = true
      break
    end
  end
end
if not any then print("TCP::WindowsSize: no change detected") end
