package iproute

import (
	"net/netip"
	"strings"
	"testing"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

// pktTo makes a small packet whose destination annotation is dst.
func pktTo(h *elemtest.Harness, dst string) *packet.Packet {
	p := h.Packet(make([]byte, 60))
	p.Anno.DstIP = netip.MustParseAddr(dst).As4()
	return p
}

const testRoutes = "18.26.4.24/32 0, 18.26.4.0/24 1, 18.26.0.0/16 18.26.4.1 2, 0.0.0.0/0 9.9.9.9 3, 10.0.0.0/255.0.0.0 2"

// routingCases hold for every lookup element configured with testRoutes.
var routingCases = []struct {
	dst     string
	out     int // -1: dropped
	nextHop string
}{
	{"18.26.4.24", 0, "18.26.4.24"},
	{"18.26.4.25", 1, "18.26.4.25"},
	{"18.26.7.1", 2, "18.26.4.1"},
	{"1.2.3.4", 3, "9.9.9.9"},
	{"10.200.0.1", 2, "10.200.0.1"},
}

// checkRouting pushes one packet per case and checks where it went and
// what the destination annotation became.
func checkRouting(t *testing.T, class, config string, nout int, cases []struct {
	dst     string
	out     int
	nextHop string
}) {
	t.Helper()
	h := elemtest.New(t, class, config, 1, nout)
	for _, c := range cases {
		for _, o := range h.Outs {
			o.Pkts = nil
		}
		h.PushPackets(0, pktTo(h, c.dst))
		for i, o := range h.Outs {
			want := 0
			if i == c.out {
				want = 1
			}
			if len(o.Pkts) != want {
				t.Fatalf("%s: dst %s: output %d got %d packets, want %d", class, c.dst, i, len(o.Pkts), want)
			}
		}
		if c.out < 0 {
			continue
		}
		got := netip.AddrFrom4(h.Outs[c.out].Pkts[0].Anno.DstIP).String()
		if got != c.nextHop {
			t.Errorf("%s: dst %s: annotation %s, want %s", class, c.dst, got, c.nextHop)
		}
	}
}

func TestRoutingAllClasses(t *testing.T) {
	for _, class := range []string{"LinearIPLookup", "StaticIPLookup", "RadixIPLookup"} {
		t.Run(class, func(t *testing.T) {
			checkRouting(t, class, testRoutes, 4, routingCases)
			// Without a default route, unmatched packets are dropped and counted.
			h := elemtest.New(t, class, "10.0.0.0/8 0", 1, 1)
			h.PushPackets(0, pktTo(h, "11.0.0.1"), pktTo(h, "10.0.0.1"), pktTo(h, "12.0.0.1"))
			if len(h.Outs[0].Pkts) != 1 || h.Read("no_route") != "2" || h.Elem.Core().Drops != 2 {
				t.Fatalf("got %d out, no_route %s, drops %d", len(h.Outs[0].Pkts), h.Read("no_route"), h.Elem.Core().Drops)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct{ config, want string }{
		{"10.0.0.0/8 2", "out of range"},
		{"10.0.0.0/8 0, 10.0.0.0/8 1", "conflicts"},
		{"10.0.0.0/33 0", "bad prefix"},
		{"10.0.0.0/8", "expected"},
		{"10.0.0.0/8 1.2.3.4 x", "bad output"},
		{"10.0.0.0/8 nothere 1", "bad gateway"},
		{"::/0 1", "bad prefix"},
	}
	for _, class := range []string{"LinearIPLookup", "StaticIPLookup", "RadixIPLookup"} {
		for _, c := range cases {
			_, err := elemtest.Build(t, class, c.config, elemtest.Options{Inputs: 1, Outputs: 2})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s(%s): error %v, want it to mention %q", class, c.config, err, c.want)
			}
		}
	}
}

func TestTableAndLookupHandlers(t *testing.T) {
	for _, class := range []string{"LinearIPLookup", "StaticIPLookup", "RadixIPLookup"} {
		h := elemtest.New(t, class, "18.26.4.0/24 1, 0.0.0.0/0 18.26.4.1 0", 1, 2)
		want := "18.26.4.0/24\t\t-\t\t1\n0.0.0.0/0\t\t18.26.4.1\t0\n"
		if got := h.Read("table"); got != want {
			t.Errorf("%s table = %q, want %q", class, got, want)
		}
		for addr, want := range map[string]string{"18.26.4.9": "1", "1.1.1.1": "0 18.26.4.1"} {
			if got := h.Read("lookup", addr); got != want {
				t.Errorf("%s lookup %s = %q, want %q", class, addr, got, want)
			}
		}
		// The table output parses back as a configuration.
		cfg := strings.ReplaceAll(strings.TrimSpace(h.Read("table")), "\n", ",")
		h2 := elemtest.New(t, class, cfg, 1, 2)
		if h2.Read("table") != want {
			t.Errorf("%s: table does not round-trip: %q", class, h2.Read("table"))
		}
	}
	h := elemtest.New(t, "RadixIPLookup", "10.0.0.0/8 0", 1, 1)
	if got := h.Read("lookup", "11.0.0.1"); got != "-1" {
		t.Errorf("lookup without route = %q, want -1", got)
	}
}

func TestStaticHasNoWriteHandlers(t *testing.T) {
	h := elemtest.New(t, "StaticIPLookup", "10.0.0.0/8 0", 1, 1)
	for _, name := range []string{"add", "set", "remove", "ctrl"} {
		if _, ok := h.Handler(name); ok {
			t.Errorf("StaticIPLookup has handler %q", name)
		}
	}
}

func TestWriteHandlers(t *testing.T) {
	steps := []struct {
		handler, value string
		wantErr        bool
		table          string // expected `lookup` answers "addr=answer;..."
	}{
		{"add", "10.1.0.0/16 10.0.0.1 1", false, "10.1.2.3=1 10.0.0.1;10.2.0.0=0"},
		{"add", "10.1.0.0/16 0", true, "10.1.2.3=1 10.0.0.1"},
		{"set", "10.1.0.0/16 0", false, "10.1.2.3=0"},
		{"add", "10.3.0.0/16 1, 10.4.0.0/16 7", true, "10.3.0.1=0"}, // port 7: nothing added
		{"add", "10.3.0.0/16 1\n10.4.0.0/16 1", false, "10.3.0.1=1;10.4.0.1=1"},
		{"remove", "10.3.0.0/16 0", true, "10.3.0.1=1"}, // output does not match
		{"remove", "10.3.0.0/16 1", false, "10.3.0.1=0"},
		{"remove", "10.9.0.0/16", true, ""},
		{"ctrl", "remove 10.4.0.0/16\nadd 10.5.0.0/16 1", false, "10.4.0.1=0;10.5.0.1=1"},
		{"ctrl", "remove 10.5.0.0/16\nadd 10.1.0.0/16 1", true, "10.5.0.1=1;10.1.0.1=0"}, // rolled back
		{"ctrl", "frob 10.5.0.0/16", true, ""},
		{"remove", "0.0.0.0/0", false, "10.2.0.0=-1;10.5.9.9=1"},
	}
	for _, class := range []string{"LinearIPLookup", "RadixIPLookup"} {
		h := elemtest.New(t, class, "0.0.0.0/0 0", 1, 2)
		for _, s := range steps {
			err := h.Write(s.handler, s.value)
			if (err != nil) != s.wantErr {
				t.Fatalf("%s: write %s %q: err %v, want error %v", class, s.handler, s.value, err, s.wantErr)
			}
			if s.table == "" {
				continue
			}
			for _, pair := range strings.Split(s.table, ";") {
				addr, want, _ := strings.Cut(pair, "=")
				if got := h.Read("lookup", addr); got != want {
					t.Fatalf("%s: after %s %q: lookup %s = %q, want %q", class, s.handler, s.value, addr, got, want)
				}
			}
		}
	}
}

// newRouter builds elem with config inside a FakeRouter-backed harness,
// named rt so TakeState sees the same name.
func buildNamed(t *testing.T, class, config string, nout int) *elemtest.Harness {
	h, err := elemtest.Build(t, class, config, elemtest.Options{Inputs: 1, Outputs: nout, Name: "rt"})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestTakeState(t *testing.T) {
	for _, class := range []string{"LinearIPLookup", "RadixIPLookup"} {
		old := buildNamed(t, class, "10.0.0.0/8 0", 2)
		if err := old.Write("add", "11.0.0.0/8 1"); err != nil {
			t.Fatal(err)
		}
		same := buildNamed(t, class, "10.0.0.0/8 0", 2)
		same.Elem.(core.StateTaker).TakeState(old.Elem)
		if got := same.Read("lookup", "11.1.1.1"); got != "1" {
			t.Errorf("%s: unchanged config lost the run-time route: lookup = %q", class, got)
		}
		// The new element has its own copy: edits do not leak back.
		_ = same.Write("remove", "10.0.0.0/8")
		if got := old.Read("lookup", "10.1.1.1"); got != "0" {
			t.Errorf("%s: new element's edit changed the old table: %q", class, got)
		}
		// Routes to outputs the new element lacks are dropped, not kept.
		fewer := buildNamed(t, class, "10.0.0.0/8 0", 1)
		fewer.Elem.(core.StateTaker).TakeState(old.Elem)
		if got := fewer.Read("lookup", "11.1.1.1"); got != "-1" {
			t.Errorf("%s: route to missing output kept: %q", class, got)
		}
		fewer.PushPackets(0, pktTo(fewer, "10.1.1.1"))
		if len(fewer.Outs[0].Pkts) != 1 {
			t.Errorf("%s: taken table does not route", class)
		}
		changed := buildNamed(t, class, "12.0.0.0/8 0", 2)
		changed.Elem.(core.StateTaker).TakeState(old.Elem)
		if got := changed.Read("lookup", "11.1.1.1"); got != "-1" {
			t.Errorf("%s: changed config kept old run-time route: %q", class, got)
		}
		if got := changed.Read("lookup", "12.1.1.1"); got != "0" {
			t.Errorf("%s: changed config lost its own route: %q", class, got)
		}
	}
}

// checkPushAllocs asserts a batch through the element allocates nothing.
func checkPushAllocs(t *testing.T, class, config string) {
	h := elemtest.New(t, class, config, 1, 4)
	for _, o := range h.Outs {
		o.Discard = true
	}
	dsts := []string{"18.26.4.24", "18.26.4.25", "18.26.7.1", "1.2.3.4", "10.1.1.1"}
	var b packet.Batch
	fill := func() {
		for i := 0; i < packet.MaxBatch; i++ {
			b.Append(pktTo(h, dsts[i%len(dsts)]))
		}
	}
	fill()
	h.PushBatch(0, &b) // warm the pool
	n := testing.AllocsPerRun(100, func() {
		fill()
		h.PushBatch(0, &b)
	})
	if n != 0 {
		t.Fatalf("%s: %v allocations per batch", class, n)
	}
}

func TestPushAllocatesNothing(t *testing.T) {
	for _, class := range []string{"LinearIPLookup", "StaticIPLookup", "RadixIPLookup"} {
		checkPushAllocs(t, class, testRoutes)
	}
}

func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8 1", "1.2.3.4/32 5.6.7.8 0", "18.26.4/24 - 2", "0/0 0", "1.2.3.4/255.255.0.0 0", "x y z", ""} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, forRemove bool) {
		r, err := ParseRoute(s, forRemove)
		if err != nil {
			return
		}
		if !r.Prefix.Addr().Is4() || (r.Out < 0 && !forRemove) {
			t.Fatalf("ParseRoute(%q) accepted %v", s, r)
		}
		// A parsed route survives printing and re-parsing.
		r2, err := ParseRoute(r.String(), forRemove)
		if r.Out >= 0 && (err != nil || r2 != r) {
			t.Fatalf("round trip %q -> %v -> %v %v", s, r, r2, err)
		}
	})
}
