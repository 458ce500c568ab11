package luaelement

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
	"flowbox/elements/elemtest"
	"flowbox/lua/luatest"
)

const filterPush = `
function push(port, p)
  local u = p:udp()
  if u and u:dport() == 53 then return nil end
  return 0
end`

const filterBatch = `
function push_batch(port, pkts, n)
  for i = 1, n do
    local u = pkts[i]:udp()
    if u and u:dport() == 53 then pkts[i]:drop() end
  end
end`

func quote(code string) string { return `"` + strings.ReplaceAll(code, `"`, `\"`) + `"` }

func mixedFrames() [][]byte {
	return [][]byte{
		luatest.UDP4("10.0.0.1", "10.0.0.2", 1000, 53, []byte("dns")),
		luatest.UDP4("10.0.0.1", "10.0.0.2", 1000, 80, nil),
		luatest.TCP4("10.0.0.1", "10.0.0.2", 1000, 53, proto.TCPSyn),
		luatest.ICMP4("10.0.0.1", "10.0.0.2", 8, 1, 1),
	}
}

func TestFilterPushAndBatch(t *testing.T) {
	for _, code := range []string{filterPush, filterBatch} {
		h := elemtest.New(t, "LuaElement", "CODE "+quote(code), 1, 1)
		frames := mixedFrames()
		h.Push(0, frames...)
		if got := h.Outs[0].Count; got != 3 {
			t.Fatalf("passed %d packets, want 3", got)
		}
		for _, d := range h.Outs[0].Data() {
			if string(d) == string(frames[0]) {
				t.Fatalf("the DNS packet was not dropped")
			}
		}
		if h.Elem.Core().Drops != 1 {
			t.Fatalf("drops = %d, want 1", h.Elem.Core().Drops)
		}
		if h.Read("errors") != "0" {
			t.Fatalf("errors: %s (%s)", h.Read("errors"), h.Read("last_error"))
		}
	}
}

func TestPortsAndArgs(t *testing.T) {
	code := `
local dst
function init(args)
  if args.port == nil then return false, "port= required" end
  dst = args.port
  names = args
end
function push(port, p)
  local u = p:udp()
  if u and u:dport() == dst then return 1 end
  if p:tcp() then return 2 end
  return 0
end
handlers = {
  port = function() return dst end,
  words = function() return table.concat(names, "+") .. " " .. #names.list end,
  setport = { write = function(v) local n = tonumber(v) if not n then return false, "not a number" end dst = n end },
}`
	cfg := "CODE " + quote(code) + `, OUTPUTS 3, ARGS "port=80 alpha beta list=1,2,3"`
	h := elemtest.New(t, "LuaElement", cfg, 1, 3)
	h.Push(0, mixedFrames()...)
	if h.Outs[0].Count != 2 || h.Outs[1].Count != 1 || h.Outs[2].Count != 1 {
		t.Fatalf("outputs %d/%d/%d, want 2/1/1", h.Outs[0].Count, h.Outs[1].Count, h.Outs[2].Count)
	}
	if got := h.Read("port"); got != "80" {
		t.Fatalf("read port = %q", got)
	}
	if got := h.Read("words"); got != "alpha+beta 3" {
		t.Fatalf("read words = %q", got)
	}
	if err := h.Write("setport", "53"); err != nil {
		t.Fatal(err)
	}
	if err := h.Write("setport", "x"); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Fatalf("write setport x: %v", err)
	}
	h.Push(0, mixedFrames()[0])
	if h.Outs[1].Count != 2 {
		t.Fatalf("after setport 53 the DNS packet should go to output 1")
	}

	// port count mismatch and init rejection are configuration errors
	if _, err := elemtest.Build(t, "LuaElement", "CODE "+quote(code)+`, OUTPUTS 3, ARGS "port=80"`,
		elemtest.Options{Inputs: 1, Outputs: 2}); err == nil || !strings.Contains(err.Error(), "OUTPUTS 3") {
		t.Fatalf("port mismatch: %v", err)
	}
	if _, err := elemtest.Build(t, "LuaElement", "CODE "+quote(code)+`, OUTPUTS 3`,
		elemtest.Options{Inputs: 1, Outputs: 3}); err == nil || !strings.Contains(err.Error(), "port= required") {
		t.Fatalf("init rejection: %v", err)
	}
	for _, bad := range []string{"", `CODE "x = 1"`, `CODE "function push(", OUTPUTS 1`, `SCRIPT nonexistent.lua`,
		`CODE "function push() end", POLICY maybe`, `SCRIPT a.lua, CODE "function push() end"`} {
		if _, err := elemtest.Build(t, "LuaElement", bad, elemtest.Options{Inputs: 1, Outputs: 1}); err == nil {
			t.Errorf("config %q accepted", bad)
		}
	}
}

func TestErrorsDisableAndPolicy(t *testing.T) {
	code := `
function push(port, p)
  if p:udp() and p:udp():dport() == 53 then
    return os.execute("rm -rf /")   -- line 4: sandbox violation
  end
  return 0
end`
	for _, policy := range []string{"pass", "drop"} {
		h := elemtest.New(t, "LuaElement", "CODE "+quote(code)+", MAX_ERRORS 3, POLICY "+policy, 1, 1)
		dns := mixedFrames()[0]
		other := mixedFrames()[1]
		h.Push(0, dns, other, dns)
		if h.Read("errors") != "2" || h.Read("disabled") != "false" {
			t.Fatalf("errors=%s disabled=%s", h.Read("errors"), h.Read("disabled"))
		}
		le := h.Read("last_error")
		if !strings.Contains(le, "e.CODE:4:") || !strings.Contains(le, "sandbox: os.execute") {
			t.Fatalf("last_error %q lacks file:line or reason", le)
		}
		passed := 1
		if policy == "pass" {
			passed = 3 // the failed packets follow the policy
		}
		if h.Outs[0].Count != passed {
			t.Fatalf("policy %s: passed %d, want %d", policy, h.Outs[0].Count, passed)
		}
		// errors are consecutive failing calls: the successful call reset it,
		// so three more DNS packets disable the element.
		h.Push(0, dns, dns, dns)
		if h.Read("disabled") != "true" {
			t.Fatalf("not disabled after 3 consecutive errors")
		}
		before := h.Outs[0].Count
		calls := h.Read("calls")
		h.Push(0, other, other)
		if h.Read("calls") != calls {
			t.Fatalf("disabled element still calls the script")
		}
		want := before
		if policy == "pass" {
			want += 2
		}
		if h.Outs[0].Count != want {
			t.Fatalf("disabled with policy %s: out %d, want %d", policy, h.Outs[0].Count, want)
		}
		if err := h.Write("enable", ""); err != nil {
			t.Fatal(err)
		}
		h.Push(0, other)
		if h.Read("disabled") != "false" || h.Outs[0].Count != want+1 {
			t.Fatalf("enable did not restore processing")
		}
		if len(h.Router.Logs) == 0 || !strings.Contains(strings.Join(h.Router.Logs, "\n"), "disabled after 3") {
			t.Fatalf("no disable log: %v", h.Router.Logs)
		}
	}
}

func TestRunawayScriptStopped(t *testing.T) {
	code := `
function push(port, p)
  if p:udp() and p:udp():dport() == 53 then
    while true do end
  end
  return 0
end`
	h := elemtest.New(t, "LuaElement", "CODE "+quote(code)+", BUDGET 20ms, MAX_ERRORS 2", 1, 1)
	dns, other := mixedFrames()[0], mixedFrames()[1]
	start := time.Now()
	h.Push(0, dns)
	took := time.Since(start)
	if took < 20*time.Millisecond || took > 2*time.Second {
		t.Fatalf("runaway call took %v, want about 20-40ms", took)
	}
	if h.Read("timeouts") != "1" || !strings.Contains(h.Read("last_error"), "time budget (20ms) exceeded") ||
		!strings.Contains(h.Read("last_error"), "e.CODE:4:") {
		t.Fatalf("timeouts=%s last_error=%q", h.Read("timeouts"), h.Read("last_error"))
	}
	// the data plane keeps running: the next packets are processed
	h.Push(0, other, other)
	if h.Outs[0].Count != 3 || h.Read("errors") != "1" {
		t.Fatalf("out=%d errors=%s after a timeout", h.Outs[0].Count, h.Read("errors"))
	}
	// batch form too
	code2 := `function push_batch(port, pkts, n) local x = 0 while true do x = x + 1 end end`
	h2 := elemtest.New(t, "LuaElement", "CODE "+quote(code2)+", BUDGET 10ms, POLICY drop", 1, 1)
	h2.Push(0, other, other)
	if h2.Read("timeouts") != "1" || h2.Elem.Core().Drops != 2 {
		t.Fatalf("batch runaway: timeouts=%s drops=%d", h2.Read("timeouts"), h2.Elem.Core().Drops)
	}
}

func TestCloneAndTimer(t *testing.T) {
	code := `
local ticks = 0
function push(port, p)
  local c = p:clone()
  c:ip():set_ttl(1)
  c:send(1)
  return 0
end
function timer() ticks = ticks + 1 return 0.5 end
handlers = { ticks = function() return ticks end }`
	h := elemtest.New(t, "LuaElement", "CODE "+quote(code)+", OUTPUTS 2, INTERVAL 1s", 1, 2)
	h.Push(0, mixedFrames()[1])
	if h.Outs[0].Count != 1 || h.Outs[1].Count != 1 {
		t.Fatalf("outputs %d/%d", h.Outs[0].Count, h.Outs[1].Count)
	}
	orig, clone := h.Outs[0].Pkts[0], h.Outs[1].Pkts[0]
	if orig.Data()[14+8] != 64 || clone.Data()[14+8] != 1 {
		t.Fatalf("ttl orig %d clone %d: copy-on-write broken", orig.Data()[14+8], clone.Data()[14+8])
	}
	if err := luatest.VerifyChecksums(clone.Data()); err != nil {
		t.Fatal(err)
	}
	if len(h.Router.Timers) != 1 {
		t.Fatalf("timer not registered")
	}
	tm := h.Router.Timers[0]
	h.FireTimers(tm.When())
	if h.Read("ticks") != "1" {
		t.Fatalf("timer not run")
	}
	if d := tm.When() - h.Ctx.Now; d != int64(500*time.Millisecond) {
		t.Fatalf("timer rescheduled in %v, want 0.5s", time.Duration(d))
	}
}

func TestScriptFileAndCounters(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "lib.lua"), []byte(`return { port = 53 }`), 0o644)
	os.WriteFile(filepath.Join(dir, "f.lua"), []byte(`
local lib = require("lib")
local dropped = counter("dns_dropped")
function push(port, p)
  local u = p:udp()
  if u and u:dport() == lib.port then dropped:inc() return nil end
  return 0
end`), 0o644)
	h := elemtest.New(t, "LuaElement", "SCRIPT "+filepath.Join(dir, "f.lua"), 1, 1)
	h.Push(0, mixedFrames()...)
	h.Push(0, mixedFrames()...)
	if got := h.Read("counters"); got != "dns_dropped 2" {
		t.Fatalf("counters = %q", got)
	}
}

// TestAllocs measures allocations per batch on the packet path.
func TestAllocs(t *testing.T) {
	for _, c := range []struct{ name, code string }{{"push", filterPush}, {"push_batch", filterBatch}} {
		h := elemtest.New(t, "LuaElement", "CODE "+quote(c.code), 1, 1)
		h.Outs[0].Discard = true
		tmpl := h.Packet(luatest.UDP4("10.0.0.1", "10.0.0.2", 1000, 80, nil))
		var b packet.Batch
		allocs := testing.AllocsPerRun(200, func() {
			h.Ctx.Pool.CloneN(tmpl, &b, packet.MaxBatch)
			h.PushBatch(0, &b)
		})
		t.Logf("%s: %.2f allocs per 64-packet batch", c.name, allocs)
		if allocs > 1 {
			t.Errorf("%s: %.2f allocs per batch, want at most 1", c.name, allocs)
		}
	}
}

func benchFilter(b *testing.B, code, extra string) {
	h := elemtest.New(b, "LuaElement", "CODE "+quote(code)+extra, 1, 1)
	h.Outs[0].Discard = true
	frames := mixedFrames()
	tmpls := make([]*packet.Packet, len(frames))
	for i, f := range frames {
		tmpls[i] = h.Packet(f)
	}
	var bt packet.Batch
	b.ReportAllocs()
	b.ResetTimer()
	pkts := 0
	for i := 0; i < b.N; i++ {
		for _, tp := range tmpls {
			h.Ctx.Pool.CloneN(tp, &bt, packet.MaxBatch/len(tmpls))
		}
		pkts += bt.N
		h.PushBatch(0, &bt)
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(pkts)/sec/1e6, "Mpps")
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(pkts), "ns/pkt")
}

// BenchmarkLuaElementFilter: a 5-line filter (drop UDP to port 53, else
// output 0) on 64-packet batches of mixed traffic, per packet (push) and
// per batch (push_batch), with the default 5ms budget and without budget.
func BenchmarkLuaElementFilter(b *testing.B) {
	b.Run("push", func(b *testing.B) { benchFilter(b, filterPush, "") })
	b.Run("push_batch", func(b *testing.B) { benchFilter(b, filterBatch, "") })
	b.Run("push/nobudget", func(b *testing.B) { benchFilter(b, filterPush, ", BUDGET 0") })
	b.Run("push_batch/nobudget", func(b *testing.B) { benchFilter(b, filterBatch, ", BUDGET 0") })
}

// BenchmarkCallCost isolates the Go->Lua crossing: an empty push (one call
// per packet) versus an empty push_batch (one call per batch).
func BenchmarkCallCost(b *testing.B) {
	b.Run("per-packet", func(b *testing.B) { benchFilter(b, `function push(port, p) return 0 end`, "") })
	b.Run("per-batch", func(b *testing.B) { benchFilter(b, `function push_batch(port, pkts, n) end`, "") })
}

func TestMisuseIsContained(t *testing.T) {
	code := `
saved = nil
function push_batch(port, pkts, n)
  for i = 1, n do
    local p = pkts[i]
    saved = p
    local u = p:udp()
    if u and u:dport() == 80 then p:send(7) end          -- no output 7
    if p:tcp() then for k = 1, 100 do p:clone() end end  -- too many clones
  end
end
handlers = { stale = function() return saved:len() end }`
	h := elemtest.New(t, "LuaElement", "CODE "+quote(code)+", POLICY drop", 1, 1)
	fr := mixedFrames()
	h.Push(0, fr[1])
	if h.Read("bad_port") != "1" || h.Elem.Core().Drops != 1 {
		t.Fatalf("bad_port %s drops %d", h.Read("bad_port"), h.Elem.Core().Drops)
	}
	if _, err := h.Handler("stale"); !err {
		t.Fatal("no stale handler")
	}
	x, _ := h.Handler("stale")
	if _, err := x.Read(""); err == nil || !strings.Contains(err.Error(), "outside of its call") {
		t.Fatalf("stale handle: %v", err)
	}
	h.Push(0, fr[2], fr[3])
	if !strings.Contains(h.Read("last_error"), "too many clones") || h.Elem.Core().Drops != 3 {
		t.Fatalf("clone limit: %q drops %d", h.Read("last_error"), h.Elem.Core().Drops)
	}
	if h.Outs[0].Count != 0 {
		t.Fatalf("clones of a failed batch leaked to the output: %d", h.Outs[0].Count)
	}
}

func TestHandlersAfterCleanup(t *testing.T) {
	code := `n = 0
function push(port, p) n = n + 1 return 0 end
handlers = { n = function() return n end, spin = function() while true do end end }`
	h := elemtest.New(t, "LuaElement", "CODE "+quote(code)+", BUDGET 20ms", 1, 1)
	h.Push(0, mixedFrames()...)
	h.Elem.(*LuaElement).Cleanup(h.Ctx)
	if got := h.Read("n"); got != "4" {
		t.Fatalf("n after cleanup = %q", got)
	}
	x, _ := h.Handler("spin")
	start := time.Now()
	if _, err := x.Read(""); err == nil || !strings.Contains(err.Error(), "time budget exceeded") || time.Since(start) > 2*time.Second {
		t.Fatalf("runaway handler after cleanup: %v (%v)", err, time.Since(start))
	}
}
