package luaelement

import (
	"strings"
	"testing"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
	"flowbox/lua/luatest"
)

func pullHarness(t *testing.T, config string, nin, nout int) *elemtest.Harness {
	t.Helper()
	h, err := elemtest.Build(t, "LuaElement", config, elemtest.Options{Inputs: nin, Outputs: nout, PullInputs: true, PullOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func feed(h *elemtest.Harness, in int, frames ...[]byte) {
	for _, f := range frames {
		h.Srcs[in].Queue = append(h.Srcs[in].Queue, h.Packet(f))
	}
}

func udpFrames(n int, dport func(i int) uint16) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = luatest.UDP4("10.0.0.1", "10.0.0.2", uint16(1000+i), dport(i), nil)
	}
	return out
}

const pullFilter = `
function pull(port)
  while true do
    local p = input(0)
    if p == nil then return nil end
    local u = p:udp()
    if not (u and u:dport() == 53) then
      p:set_paint(port + 7)
      if u then u:set_sport(4242) end
      return p
    end
    -- taken and not returned: dropped
  end
end`

func TestPullFilterAndTransform(t *testing.T) {
	h := pullHarness(t, "CODE "+quote(pullFilter), 1, 1)
	feed(h, 0, udpFrames(100, func(i int) uint16 {
		if i%4 == 0 {
			return 53
		}
		return 80
	})...)
	var got []*packet.Packet
	for k := 0; k < 10; k++ {
		got = append(got, h.Pull(0, 16)...)
	}
	if len(got) != 75 {
		t.Fatalf("pulled %d packets, want 75", len(got))
	}
	for _, p := range got {
		d := p.Data()
		if p.Anno.Paint != 7 || d[34] != 4242>>8 || d[35] != 4242&0xff {
			t.Fatalf("packet not transformed: paint %d sport %x", p.Anno.Paint, d[34:36])
		}
		if err := luatest.VerifyChecksums(d); err != nil {
			t.Fatal(err)
		}
		h.Ctx.Pool.Free(p)
	}
	if h.Elem.Core().Drops != 25 || h.Read("errors") != "0" || h.Read("held") != "0" {
		t.Fatalf("drops %d errors %s (%s) held %s", h.Elem.Core().Drops, h.Read("errors"), h.Read("last_error"), h.Read("held"))
	}
	if len(h.Pull(0, 16)) != 0 {
		t.Fatal("pulled from an empty input")
	}
}

func TestPullBatchesUpstream(t *testing.T) {
	// One pull(port) call per packet handed out; upstream is pulled in
	// batches of what the puller asked for, leftovers wait ("held").
	code := `
function pull(port)
  local p = input(0)
  if p and p:udp():dport() == 9 then return nil end -- stop early: the rest waits
  return p
end`
	h := pullHarness(t, "CODE "+quote(code), 1, 1)
	feed(h, 0, udpFrames(40, func(i int) uint16 {
		if i == 10 {
			return 9
		}
		return 80
	})...)
	got := h.Pull(0, 32)
	if len(got) != 10 || h.Read("held") != "21" || len(h.Srcs[0].Queue) != 8 {
		t.Fatalf("first pull: %d packets, held %s, upstream %d", len(got), h.Read("held"), len(h.Srcs[0].Queue))
	}
	got = append(got, h.Pull(0, 64)...)
	if len(got) != 39 || h.Read("held") != "0" {
		t.Fatalf("second pull: total %d, held %s", len(got), h.Read("held"))
	}
	for _, p := range got {
		h.Ctx.Pool.Free(p)
	}
	// calls: 11 in the first pull (10 packets + the one that stopped),
	// 29 + 1 (nil) in the second
	if h.Read("calls") != "41" {
		t.Fatalf("calls = %s", h.Read("calls"))
	}
	// leftovers are freed at cleanup
	feed(h, 0, udpFrames(5, func(int) uint16 { return 9 })...)
	h.Pull(0, 8)
	if h.Read("held") != "4" {
		t.Fatalf("held %s", h.Read("held"))
	}
	d := h.Elem.Core().Drops
	h.Elem.(*LuaElement).Cleanup(h.Ctx)
	if h.Read("held") != "0" || h.Elem.Core().Drops != d+4 {
		t.Fatalf("cleanup: held %s drops %d", h.Read("held"), h.Elem.Core().Drops)
	}
}

func TestPullCloneAndMultipleInputs(t *testing.T) {
	// Round robin over two inputs; each packet of input 1 also yields a
	// clone (returned on the next call is impossible: unreturned clones
	// are dropped), and the clone itself may be returned.
	code := `
local next_in = 0
function pull(port)
  for k = 1, 2 do
    local i = next_in
    next_in = 1 - next_in
    local p = input(i)
    if p then
      if i == 1 then
        local c = p:clone()
        c:set_paint(99)
        return c          -- the original is dropped, the clone goes out
      end
      return p
    end
  end
end`
	h := pullHarness(t, "CODE "+quote(code)+", INPUTS 2", 2, 1)
	feed(h, 0, udpFrames(3, func(int) uint16 { return 1 })...)
	feed(h, 1, udpFrames(3, func(int) uint16 { return 2 })...)
	got := h.Pull(0, 64)
	if len(got) != 6 {
		t.Fatalf("pulled %d, want 6", len(got))
	}
	for i, p := range got {
		wantPaint, wantPort := uint8(0), byte(1)
		if i%2 == 1 {
			wantPaint, wantPort = 99, 2
		}
		if p.Anno.Paint != wantPaint || p.Data()[37] != wantPort {
			t.Fatalf("packet %d: paint %d dport %d", i, p.Anno.Paint, p.Data()[37])
		}
		h.Ctx.Pool.Free(p)
	}
	if h.Elem.Core().Drops != 3 {
		t.Fatalf("drops %d, want 3 (the cloned originals)", h.Elem.Core().Drops)
	}
}

func TestPullErrorsAndPolicy(t *testing.T) {
	for _, tc := range []struct {
		code, policy, err string
	}{
		{`function pull(port) local p = input(0) if p then error("boom") end end`, "pass", "e.CODE:1: boom"},
		{`function pull(port) local p = input(0) return 42 end`, "drop", "pull returned a number"},
		{`keep = nil function pull(port) if keep == nil then keep = input(0) return nil end return keep end`, "pass", "did not come from input()"},
		{`function pull(port) return input(5) end`, "drop", "no input 5"},
	} {
		h := pullHarness(t, "CODE "+quote(tc.code)+", MAX_ERRORS 3, POLICY "+tc.policy, 1, 1)
		feed(h, 0, udpFrames(40, func(int) uint16 { return 80 })...)
		var got []*packet.Packet
		for k := 0; k < 8; k++ {
			got = append(got, h.Pull(0, 4)...)
		}
		if !strings.Contains(h.Read("last_error"), tc.err) {
			t.Errorf("%s: last_error %q, want %q", tc.code, h.Read("last_error"), tc.err)
		}
		if h.Read("disabled") != "true" {
			t.Errorf("%s: not disabled after repeated errors (errors %s)", tc.code, h.Read("errors"))
		}
		total := len(got) + int(h.Elem.Core().Drops) + len(h.Srcs[0].Queue)
		if tc.policy == "pass" && len(got) < 16 { // at least the 4 pulls after disabling
			t.Errorf("%s: policy pass delivered only %d packets", tc.code, len(got))
		}
		if tc.policy == "drop" && len(got) != 0 {
			t.Errorf("%s: policy drop delivered %d packets", tc.code, len(got))
		}
		if total+atoi(h.Read("held")) != 40 {
			t.Errorf("%s: %d packets accounted for, want 40", tc.code, total)
		}
		for _, p := range got {
			h.Ctx.Pool.Free(p)
		}
		if err := h.Write("enable", ""); err != nil || h.Read("disabled") != "false" {
			t.Errorf("enable: %v", err)
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestPushScriptInPullContext(t *testing.T) {
	for _, code := range []string{filterPush, filterBatch} {
		h := pullHarness(t, "CODE "+quote(code), 1, 1)
		for _, f := range mixedFrames() {
			feed(h, 0, f)
		}
		got := h.Pull(0, 64)
		if len(got) != 3 || h.Elem.Core().Drops != 1 {
			t.Fatalf("pulled %d drops %d", len(got), h.Elem.Core().Drops)
		}
		for _, p := range got {
			h.Ctx.Pool.Free(p)
		}
	}
}

func TestPullContextChecks(t *testing.T) {
	for _, c := range []struct {
		code string
		nin  int
		nout int
		want string
	}{
		{filterPush, 2, 1, "pull context needs pull(port)"},
		{`function pull(port) return nil end`, 1, 0, "pull inputs need pull outputs"},
	} {
		cfg := "CODE " + quote(c.code) + ", INPUTS " + string(rune('0'+c.nin)) + ", OUTPUTS " + string(rune('0'+c.nout))
		_, err := elemtest.Build(t, "LuaElement", cfg, elemtest.Options{Inputs: c.nin, Outputs: c.nout, PullInputs: true, PullOutputs: true})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", cfg, err, c.want)
		}
	}
	// a pull-only script in a push context
	_, err := elemtest.Build(t, "LuaElement", "CODE "+quote(`function pull(port) return input(0) end`), elemtest.Options{Inputs: 1, Outputs: 1})
	if err == nil || !strings.Contains(err.Error(), "push context") {
		t.Errorf("pull script pushed: %v", err)
	}
	// input() outside pull
	h := elemtest.New(t, "LuaElement", "CODE "+quote(`function push(port, p) input(0) return 0 end`), 1, 1)
	h.Push(0, mixedFrames()[0])
	if !strings.Contains(h.Read("last_error"), "only available during pull") {
		t.Errorf("input() in push: %q", h.Read("last_error"))
	}
}

func TestPullTakeStateMovesHeldPackets(t *testing.T) {
	code := `function pull(port) local p = input(0) return p end`
	old := pullHarness(t, "CODE "+quote(code), 1, 1)
	feed(old, 0, udpFrames(10, func(int) uint16 { return 80 })...)
	// a pull into a nearly full batch is clamped to its room
	var b packet.Batch
	b.N = packet.MaxBatch - 4
	old.Elem.(*LuaElement).Pull(old.Ctx, 0, &b, 64)
	if b.N != packet.MaxBatch || old.Read("held") != "0" {
		t.Fatalf("b.N %d held %s", b.N, old.Read("held"))
	}
	for i := packet.MaxBatch - 4; i < b.N; i++ {
		old.Ctx.Pool.Free(b.P[i])
	}
	// leftovers: a script that stops after one packet
	stop := `n = 0 function pull(port) n = n + 1 if n % 2 == 0 then return nil end return input(0) end`
	old = pullHarness(t, "CODE "+quote(stop), 1, 1)
	feed(old, 0, udpFrames(10, func(int) uint16 { return 80 })...)
	got := old.Pull(0, 10)
	if len(got) != 1 || old.Read("held") != "9" {
		t.Fatalf("got %d held %s", len(got), old.Read("held"))
	}
	old.Ctx.Pool.Free(got[0])
	nu := pullHarness(t, "CODE "+quote(code), 1, 1)
	nu.Elem.(*LuaElement).TakeState(old.Elem)
	if old.Read("held") != "0" || nu.Read("held") != "9" {
		t.Fatalf("after TakeState: old held %s, new held %s", old.Read("held"), nu.Read("held"))
	}
	if got := nu.Pull(0, 64); len(got) != 9 {
		t.Fatalf("new element served %d of the 9 held packets", len(got))
	}
}
