package verify

import (
	"net/netip"
	"strings"
	"testing"

	"flowbox/verify/sym"
)

func TestParseRequirement(t *testing.T) {
	r, err := ParseRequirement("reach from internet udp -> Batcher:dst:0 dst 172.16.15.133 -> client dst port 1500 const proto && dst port && payload")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Hops) != 3 || r.Hops[0].Node.Kind != NodeInternet || r.Hops[1].Node.Box != "Batcher" ||
		r.Hops[1].Node.Elem != "dst" || r.Hops[1].Node.Port != 0 || r.Hops[2].Node.Kind != NodeClient {
		t.Fatalf("bad parse: %+v", r.Hops)
	}
	if got := strings.Join(r.Hops[2].Const, ","); got != "proto,dst port,payload" {
		t.Fatalf("const = %q", got)
	}
	for _, bad := range []string{"", "reach", "reach from x", "reach from a -> b const", "reach from a -> b const bogus",
		"reach from a udp port -> b", "reach from 10.0.0.0/33 -> b", "reach from a const src -> b", "reach from a:b:c:d -> e"} {
		if _, err := ParseRequirement(bad); err == nil {
			t.Errorf("%q: expected an error", bad)
		}
	}
}

func FuzzParseRequirement(f *testing.F) {
	for _, s := range []string{
		"reach from in udp -> out const payload",
		"reach from internet udp -> Batcher:dst:0 dst 172.16.15.133 -> client dst port 1500 const proto && dst port && payload",
		"reach from 10.0.0.0/8 tcp src port 80 -> HTTPOptimizer -> client",
		"reach from a:1 -> b const src && dst && ttl",
		"reach from client -> 8.8.8.8 (udp or tcp) and not dst port 53 const seq&&ack",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRequirement(s)
		if err != nil {
			return
		}
		if len(r.Hops) < 2 {
			t.Fatalf("%q: parsed with %d hops", s, len(r.Hops))
		}
		// a parsed flow must evaluate on a symbolic packet without panicking
		for _, h := range r.Hops {
			if h.Flow != nil {
				st := sym.NewPacket(sym.NewVars(), sym.EtherFrame, "")
				sn := st.Snapshot()
				st.Split(h.Flow, st.HdrBases(sn), &sn)
			}
		}
	})
}

func TestSetsAndSolver(t *testing.T) {
	s, exact := sym.Masked(16, 0x1fff, sym.EQ, 0)
	if !exact || len(s) != 8 || !s.Contains(0x2000) || s.Contains(1) {
		t.Fatalf("frag offset 0: %v", s)
	}
	s, _ = sym.Masked(8, 0xf0, sym.GE, 0x50)
	if s.Contains(0x4f) || !s.Contains(0x50) || !s.Contains(0xff) {
		t.Fatalf("off >= 5: %v", s)
	}
	if got := sym.Range(250, 255).Shift(10, 8); !got.Equal(sym.Range(4, 9)) {
		t.Fatalf("wrapping shift: %v", got)
	}
	if got := sym.Range(250, 255).Shift(3, 8); !got.Equal(sym.Range(0, 2).Union(sym.Range(253, 255))) {
		t.Fatalf("split shift: %v", got)
	}
	vs := sym.NewVars()
	sv := sym.NewSolver(vs)
	x, y := vs.New("x", 8), vs.New("y", 8)
	y1, _ := y.Add(1)
	sv.Eq(x, y1) // x = y + 1
	sv.In(y, sym.Range(10, 20))
	if r := sv.Range(x); !r.Equal(sym.Range(11, 21)) {
		t.Fatalf("x range %v", r)
	}
	if !sv.MustEqual(x, y1) || sv.MustEqual(x, y) {
		t.Fatal("equality with offsets")
	}
	sv.In(x, sym.Point(15))
	m, ok := sv.Model()
	if !ok || m.Value(y) != 14 {
		t.Fatalf("model y=%d", m.Value(y))
	}
	c := sv.Clone()
	if c.Ne(y, sym.Const(8, 14)) {
		t.Fatal("y != 14 should be unsatisfiable")
	}
	// 8-bit wrap-around: z + 1 == 0  =>  z == 255
	z := vs.New("z", 8)
	z1, _ := z.Add(1)
	sv2 := sym.NewSolver(vs)
	sv2.In(z1, sym.Point(0))
	if r := sv2.Range(z); !r.Equal(sym.Point(255)) {
		t.Fatalf("z range %v", r)
	}
}

// FuzzVerifyConfig runs the verifier on arbitrary configurations: errors
// are fine, panics are not.
func FuzzVerifyConfig(f *testing.F) {
	for _, s := range []string{
		"in :: FromDevice(eth0); in -> Strip(14) -> CheckIPHeader -> IPFilter(allow udp, deny all) -> out :: ToDevice(eth1);",
		"in :: FromDevice(a); in -> Classifier(12/0800, -) => (Strip(14) -> CheckIPHeader -> RadixIPLookup(10.0.0.0/8 0, 0/0 1.2.3.4 1) => (out :: ToDevice(b), out)), Discard;",
		"in :: FromDevice(a); in -> Strip(14) -> MarkIPHeader -> IPRewriter(pattern 1.2.3.4 1-9 - - 0 0) -> t :: Tee(2) -> IPMirror -> out :: ToDevice(a); t[1] -> IPEncap(4, 1.1.1.1, 2.2.2.2) -> StripIPHeader -> Unstrip(20) -> ICMPError(1.1.1.1, unreachable) -> out;",
		"in :: FromDevice(a); in -> Strip(14) -> CheckIPHeader -> p :: Paint(2) -> ps :: PaintSwitch -> out :: ToDevice(b); ps[1] -> DecIPTTL -> [0]ps;",
	} {
		f.Add(s, "reach from in -> out const payload && src")
	}
	f.Fuzz(func(t *testing.T, conf, req string) {
		lg, err := ParseConfig("f.click", []byte(conf))
		if err != nil {
			return
		}
		g := NewGraph()
		if err := g.AddBox("", lg); err != nil {
			return
		}
		c := &Checker{G: g, Limits: Limits{MaxHops: 256, MaxPaths: 2000, MaxSteps: 20000}}
		if r, err := ParseRequirement(req); err == nil {
			c.Check(r)
		}
		c.Security(SecurityOptions{Role: ThirdParty, Address: netipAddr("10.0.0.1")})
	})
}

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
