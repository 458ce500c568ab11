package lua_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"flowbox/appliance/packet"
	"flowbox/lua"
	"flowbox/lua/luatest"
)

const hookScript = `
local allowed = { net.prefix("10.0.0.0/8"), net.prefix("192.168.0.0/16") }
configs = 0
function on_config(req)
  configs = configs + 1
  for _, e in ipairs(req.elements) do
    if e.class == "EtherRewrite" then return false, "EtherRewrite not allowed in " .. req.name end
  end
  if req.text:find("Spin") then while true do end end
  if req.text:find("Boom") then error("hook bug") end
  if req.text:find("Nothing") then return end
  return true
end
function on_flow(p)
  local ip = p:ip()
  if not ip then return nil end
  if ip:dst_in("10.0.0.0/8") then return 1 end
  if ip:ttl() == 1 then return false end
  if ip:ttl() == 2 then while true do end end
  if ip:ttl() == 3 then return "bad" end
  p:set_paint(9)
  return true
end
function on_tenant(req)
  if req.name == "evil" then return false, "no evil tenants" end
  return { vlan = 100 + #req.name, name = req.name }
end
probes = {}
function on_probe_result(res)
  probes[#probes + 1] = res.target
  return { seen = #probes }
end
`

func TestHooksOnConfig(t *testing.T) {
	var logs []string
	var mu sync.Mutex
	h, err := lua.LoadHooksString("hooks.lua", hookScript, lua.HookOptions{Budget: 30 * time.Millisecond,
		Log: func(l, m string) { mu.Lock(); logs = append(logs, l+": "+m); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, name := range lua.HookNames {
		if !h.Has(name) {
			t.Fatalf("hook %s not found", name)
		}
	}
	ok, reason, err := h.OnConfig(lua.ConfigRequest{Name: "a.click", Text: "FromDevice -> Counter -> Discard",
		Elements: []lua.ElementInfo{{Name: "c", Class: "Counter"}}})
	if !ok || reason != "" || err != nil {
		t.Fatalf("accept: %v %q %v", ok, reason, err)
	}
	ok, reason, err = h.OnConfig(lua.ConfigRequest{Name: "b.click", Elements: []lua.ElementInfo{{Name: "r", Class: "EtherRewrite"}}})
	if ok || reason != "EtherRewrite not allowed in b.click" || err != nil {
		t.Fatalf("reject: %v %q %v", ok, reason, err)
	}
	ok, reason, _ = h.OnConfig(lua.ConfigRequest{Text: "Nothing"})
	if ok || reason != "rejected by on_config" {
		t.Fatalf("a hook returning nothing must reject (fail closed): %v %q", ok, reason)
	}
	start := time.Now()
	ok, reason, err = h.OnConfig(lua.ConfigRequest{Text: "Spin"})
	var se *lua.ScriptError
	if ok || err == nil || !errors.As(err, &se) || !se.Timeout || !strings.Contains(reason, "time budget exceeded") {
		t.Fatalf("runaway on_config: %v %q %v", ok, reason, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("runaway hook took %v", d)
	}
	ok, reason, err = h.OnConfig(lua.ConfigRequest{Text: "Boom"})
	if ok || err == nil || !strings.Contains(reason, "hooks.lua:10: hook bug") {
		t.Fatalf("erroring on_config: %v %q %v", ok, reason, err)
	}
	// the state survives errors and timeouts
	if ok, _, _ := h.OnConfig(lua.ConfigRequest{Text: "fine"}); !ok {
		t.Fatal("hooks unusable after errors")
	}
	if h.Errors.Load() != 2 || h.Timeouts.Load() != 1 {
		t.Fatalf("errors %d timeouts %d", h.Errors.Load(), h.Timeouts.Load())
	}
	if len(logs) != 2 {
		t.Fatalf("logs: %v", logs)
	}
}

func TestHooksOnFlow(t *testing.T) {
	h, err := lua.LoadHooksString("hooks.lua", hookScript, lua.HookOptions{FlowBudget: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	pool := packet.NewPool(nil)
	mk := func(dst string, ttl uint8) *packet.Packet {
		return pool.NewFrom(luatest.Frame{Src: "1.1.1.1", Dst: dst, Proto: 17, TTL: ttl, Sport: 1, Dport: 2}.Build())
	}
	p := mk("10.1.1.1", 64)
	if v := h.OnFlow(pool, p); !v.Accept || v.Port != 1 || v.Err != nil {
		t.Fatalf("steer: %+v", v)
	}
	p = mk("8.8.8.8", 64)
	if v := h.OnFlow(pool, p); !v.Accept || v.Port != -1 || p.Anno.Paint != 9 {
		t.Fatalf("accept+paint: %+v paint %d", v, p.Anno.Paint)
	}
	if v := h.OnFlow(pool, mk("8.8.8.8", 1)); v.Accept || v.Err != nil {
		t.Fatalf("drop: %+v", v)
	}
	start := time.Now()
	v := h.OnFlow(pool, mk("8.8.8.8", 2))
	if !v.Accept || v.Err == nil || !strings.Contains(v.Err.Error(), "time budget (5ms) exceeded") {
		t.Fatalf("runaway on_flow: %+v", v)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("runaway on_flow took %v", d)
	}
	if v := h.OnFlow(pool, mk("8.8.8.8", 3)); v.Err == nil {
		t.Fatalf("bad return accepted: %+v", v)
	}
	closed := false
	h2, _ := lua.LoadHooksString("h2.lua", `function on_flow(p) error("x") end`, lua.HookOptions{FlowFailOpen: &closed})
	defer h2.Close()
	if v := h2.OnFlow(pool, p); v.Accept || v.Err == nil {
		t.Fatalf("fail-closed on_flow: %+v", v)
	}
	// concurrent workers each get their own state
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pl := packet.NewPool(nil)
			for i := 0; i < 200; i++ {
				q := pl.NewFrom(luatest.UDP4("1.1.1.1", "10.0.0.1", 1, 2, nil))
				if v := h.OnFlow(pl, q); v.Err == nil && v.Port != 1 {
					t.Errorf("concurrent verdict %+v", v)
				}
				pl.Free(q)
			}
		}()
	}
	wg.Wait()
}

func TestHooksTenantProbe(t *testing.T) {
	h, err := lua.LoadHooksString("hooks.lua", hookScript, lua.HookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	r, err := h.OnTenant(map[string]any{"name": "acme"})
	if err != nil || !r.Accept || r.Values["vlan"] != int64(104) || r.Values["name"] != "acme" {
		t.Fatalf("tenant: %+v %v", r, err)
	}
	r, err = h.OnTenant(map[string]any{"name": "evil"})
	if err != nil || r.Accept || r.Reason != "no evil tenants" {
		t.Fatalf("evil tenant: %+v %v", r, err)
	}
	for i, target := range []string{"a", "b"} {
		r, err = h.OnProbeResult(map[string]any{"target": target, "hops": []any{1, 2}})
		if err != nil || r.Values["seen"] != int64(i+1) {
			t.Fatalf("probe: %+v %v", r, err)
		}
	}
	// no hooks defined: accept
	h2, _ := lua.LoadHooksString("empty.lua", `x = 1`, lua.HookOptions{})
	defer h2.Close()
	if ok, _, err := h2.OnConfig(lua.ConfigRequest{}); !ok || err != nil {
		t.Fatal("no on_config must accept")
	}
	if v := h2.OnFlow(nil, nil); !v.Accept {
		t.Fatal("no on_flow must accept")
	}
	// load errors
	if _, err := lua.LoadHooksString("bad.lua", `function (`, lua.HookOptions{}); err == nil {
		t.Fatal("syntax error accepted")
	}
	if _, err := lua.LoadHooksString("spin.lua", `while true do end`, lua.HookOptions{Budget: 10 * time.Millisecond}); err == nil ||
		!strings.Contains(err.Error(), "time budget") {
		t.Fatalf("runaway top level: %v", err)
	}
	if _, err := lua.LoadHooks("testdata/nonexistent.lua", lua.HookOptions{}); err == nil {
		t.Fatal("missing file accepted")
	}
	lua.SetActiveHooks(h)
	if lua.ActiveHooks() != h {
		t.Fatal("active hooks")
	}
	lua.SetActiveHooks(nil)
}
