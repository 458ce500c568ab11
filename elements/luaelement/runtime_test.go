package luaelement_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/lang"
	"flowbox/appliance/runtime"
	_ "flowbox/elements/luaelement"
	_ "flowbox/elements/standard"
)

// udp64: Ethernet/IPv4/UDP 10.0.0.1:1234 -> 10.0.0.2:5678, valid checksums.
const udp64 = `\<00000000 00020000 00000001 08004500 00320000 40004011 26b90a00 00010a00 ` +
	`000204d2 162e001e d0af0000 00000000 00000000 00000000 00000000 00000000>`

func q(code string) string { return `"` + strings.ReplaceAll(code, `"`, `\"`) + `"` }

func parse(t *testing.T, conf string) *lang.Graph {
	t.Helper()
	g, err := lang.Parse("test.click", []byte(conf), lang.Options{IsClass: func(s string) bool { return core.Lookup(s) != nil }})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func build(t *testing.T, conf string) *runtime.Router {
	t.Helper()
	r, err := runtime.Build(parse(t, conf), runtime.BuildOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func read(t *testing.T, r interface {
	Read(string, string) (string, error)
}, h string) string {
	t.Helper()
	v, err := r.Read(h, "")
	if err != nil {
		t.Fatalf("read %s: %v", h, err)
	}
	return strings.TrimSpace(v)
}

// The checker counts UDP packets to port 9999 with a correct checksum.
const checker = `ok = counter("ok")
function push(port, p)
  local u = p:udp()
  if u and u:dport() == 9999 and u:checksum_ok() then ok:inc() end
  return 0
end`

// A pull script on a pull path: every 4th packet is dropped, the others
// leave with UDP destination port 9999.
const pullRewrite = `n = 0
function pull(port)
  while true do
    local p = input(0)
    if p == nil then return nil end
    n = n + 1
    if n % 4 ~= 0 then
      p:udp():set_dport(9999)
      return p
    end
  end
end`

func TestRuntimePullPath(t *testing.T) {
	const n = 4000
	for _, tc := range []struct{ name, code string }{
		{"pull", pullRewrite},
		// a push_batch script works on the pull path too (through push)
		{"push_batch", `n = 0
function push_batch(port, pkts, k)
  for i = 1, k do
    n = n + 1
    if n % 4 == 0 then pkts[i]:drop() else pkts[i]:udp():set_dport(9999) end
  end
end`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := fmt.Sprintf(`InfiniteSource(%s, LIMIT %d, STOP true, TIMESTAMP false, BURST 32)
  -> Queue(%d) -> l :: LuaElement(CODE %s) -> Unqueue(BURST 16)
  -> chk :: LuaElement(CODE %s) -> c :: Counter -> Discard;`, udp64, n, n, q(tc.code), q(checker))
			r := build(t, conf)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := r.Run(ctx, runtime.RunOptions{}); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprint(n * 3 / 4)
			if got := read(t, r, "c.count"); got != want {
				t.Fatalf("c.count = %s, want %s", got, want)
			}
			if got := read(t, r, "chk.counters"); got != "ok "+want {
				t.Fatalf("rewritten packets: %q, want ok %s", got, want)
			}
			if e := read(t, r, "l.errors"); e != "0" {
				t.Fatalf("errors %s: %s", e, read(t, r, "l.last_error"))
			}
		})
	}
}

func TestRuntimePrioScript(t *testing.T) {
	// Two sources into two queues; the prio script serves queue 0 first.
	conf := fmt.Sprintf(`hi :: InfiniteSource(%s, LIMIT 300, STOP true, TIMESTAMP false) -> hq :: Queue(1000) -> [0]s :: LuaElement(SCRIPT ../../scripts/prio.lua, INPUTS 2);
lo :: InfiniteSource(%s, LIMIT 200, STOP true, TIMESTAMP false) -> lq :: Queue(1000) -> [1]s;
s -> Unqueue -> c :: Counter -> Discard;`, udp64, udp64)
	r := build(t, conf)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Run(ctx, runtime.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, r, "c.count"); got != "500" {
		t.Fatalf("c.count = %s", got)
	}
	if got := read(t, r, "s.served"); got != "0=300 1=200" {
		t.Fatalf("served %q", got)
	}
}

// counting is the script whose data must survive a reconfiguration.
const counting = `state = { n = 0 }
pkts = counter("pkts")
function push(port, p)
  state.n = state.n + 1
  pkts:inc()
  return 0
end
handlers = { n = function() return state.n end, tag = function() return state.tag end }`

func TestRuntimeHotReconfiguration(t *testing.T) {
	src := func(active bool) string {
		return fmt.Sprintf("src :: InfiniteSource(%s, LIMIT 1000, ACTIVE %v, TIMESTAMP false, BURST 10)", udp64, active)
	}
	r := build(t, src(true)+" -> l :: LuaElement(CODE "+q(counting)+", ARGS a=1) -> Discard;")
	rn := runtime.NewRunner(r, runtime.BuildOptions{Threads: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rn.Run(ctx, runtime.RunOptions{}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	wait := func(h, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := read(t, rn, h)
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %q, want %q (src.count %s, l.calls %s, l.last_error %q)", h, got, want,
					read(t, rn, "src.count"), read(t, rn, "l.calls"), read(t, rn, "l.last_error"))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	wait("l.n", "1000")
	reload := func(conf string) runtime.SwapReport {
		t.Helper()
		rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer rcancel()
		rep, err := rn.Reload(rctx, parse(t, conf))
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}

	// Same script and ARGS: state and counters carried over.
	rep := reload(src(false) + " -> l :: LuaElement(CODE " + q(counting) + ", ARGS a=1) -> Discard;")
	if !strings.Contains(strings.Join(rep.Kept, " "), "l") {
		t.Fatalf("l not kept: %+v", rep)
	}
	if got := read(t, rn, "l.n"); got != "1000" {
		t.Fatalf("state.n after same-script reload = %s, want 1000", got)
	}
	if got := read(t, rn, "l.calls"); got != "1000" {
		t.Fatalf("calls after reload = %s, want 1000 (carried)", got)
	}
	if got := read(t, rn, "l.counters"); got != "pkts 1000" {
		t.Fatalf("counters after reload = %q", got)
	}

	// Other ARGS, no take_state: the state starts afresh.
	reload(src(false) + " -> l :: LuaElement(CODE " + q(counting) + ", ARGS a=2) -> Discard;")
	if got := read(t, rn, "l.n"); got != "0" {
		t.Fatalf("state.n after reload with other ARGS = %s, want 0", got)
	}
	if got := read(t, rn, "l.calls"); got != "0" {
		t.Fatalf("calls after a changed reload = %s, want 0", got)
	}

	// Back to a=1 with traffic, then a changed script with take_state.
	reload(src(true) + " -> l :: LuaElement(CODE " + q(counting) + ", ARGS a=1) -> Discard;")
	if err := rn.Write("src.reset", ""); err != nil { // the source kept its count: restart it
		t.Fatal(err)
	}
	wait("l.n", "1000")
	migrating := counting + `
function take_state(old, info)
  state.n = old.n + 1
  state.tag = info.same and "same" or "changed"
end`
	reload(src(false) + " -> l :: LuaElement(CODE " + q(migrating) + ", ARGS a=1) -> Discard;")
	if got := read(t, rn, "l.n"); got != "1001" {
		t.Fatalf("take_state: n = %s, want 1001", got)
	}
	if got := read(t, rn, "l.tag"); got != "changed" {
		t.Fatalf("take_state: tag = %q", got)
	}
	if got := read(t, rn, "l.calls"); got != "0" {
		t.Fatalf("calls after changed-script reload = %s, want 0 (not carried)", got)
	}
	// The same migrating script again: take_state runs with same = true.
	reload(src(false) + " -> l :: LuaElement(CODE " + q(migrating) + ", ARGS a=1) -> Discard;")
	if got := read(t, rn, "l.n") + " " + read(t, rn, "l.tag"); got != "1002 same" {
		t.Fatalf("take_state same: %q", got)
	}
}
