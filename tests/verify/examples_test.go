package verify_test

import (
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/verify"
	"flowbox/verify/sym"
)

func ex(name string) string { return filepath.Join("testdata", "examples", name) }

func loadNet(t *testing.T, file string) *verify.Checker {
	t.Helper()
	n, g, err := verify.LoadNetwork(file)
	if err != nil {
		t.Fatal(err)
	}
	return &verify.Checker{G: g, Net: n}
}

func check(t *testing.T, c *verify.Checker, req string, want verify.Verdict) *verify.Answer {
	t.Helper()
	r, err := verify.ParseRequirement(req)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Check(r)
	if a.Verdict != want {
		t.Errorf("%s: got %s, want %s", req, a.Line(), want)
	} else {
		t.Logf("%s\n\t%s", req, a.Line())
	}
	return a
}

// SymNet §3.1: the firewall forbids 8.8.8.8; a tunnel gets the client
// there unless the tunnel's far end is 8.8.8.8 itself, and the payload
// (and the inner addresses) arrive unchanged.
func TestTunnelThroughFirewall(t *testing.T) {
	const req = "reach from client udp dst host 8.8.8.8 -> internet dst host 8.8.8.8 const payload && dst && src"
	check(t, loadNet(t, ex("direct.net")), req, verify.Violated)
	check(t, loadNet(t, ex("tunnel_203.0.113.2.net")), req, verify.Satisfied)
	a := check(t, loadNet(t, ex("tunnel_8.8.8.8.net")), req, verify.Violated)
	if !strings.Contains(a.Reason, "deny") && !strings.Contains(a.Reason, "rule 0") {
		t.Errorf("expected the firewall's deny as the reason: %s", a.Reason)
	}
	// which tunnel endpoints get through: the firewall's constraint on the
	// outer destination, seen at T2's entry
	check(t, loadNet(t, ex("tunnel_203.0.113.2.net")), "reach from client dst host 8.8.8.8 -> t2:FromDevice@1 not dst host 8.8.8.8", verify.Satisfied)
}

// SymNet Figure 3.2(a)/(c): client -> NAT -> server connectivity; the
// reply comes back through the NAT's mapping to the original sender.
// Unsolicited inbound traffic fails: no mapping, and the NAT's reply input
// drops packets without one.
func TestNATConnectivity(t *testing.T) {
	c := loadNet(t, ex("nat.net"))
	check(t, c, "reach from client tcp dst host 198.51.100.7 -> server:IPMirror@5 src host 192.0.2.1 -> client", verify.Satisfied)
	a := check(t, c, "reach from internet tcp -> client", verify.Violated)
	if !strings.Contains(a.Reason, "no mapping") {
		t.Errorf("unsolicited inbound should fail for want of a NAT mapping: %s", a.Reason)
	}
	// the reply reaches exactly the host (and port) that asked
	r, _ := verify.ParseRequirement("reach from client tcp dst host 198.51.100.7 -> client")
	paths := reachPaths(t, c, r)
	for _, p := range paths {
		s := p.State
		end := s.Last().At
		for _, f := range [][2]string{{"dst", "src"}, {"dst port", "src port"}, {"src", "dst"}} {
			e1 := field(t, s, end, f[0])
			e0 := field(t, s, s.Init, f[1])
			if !s.S.MustEqual(e1, e0) {
				t.Errorf("reply %s is not the request's %s: %s vs %s", f[0], f[1], s.Vars().Format(e1), s.Vars().Format(e0))
			}
		}
	}
	if len(paths) == 0 {
		t.Fatal("no reply path")
	}
}

// SymNet §3.1.5: the enterprise proxy must rewrite the source, or the
// server's reply bypasses it and the stateful firewall drops it.
func TestEnterpriseProxy(t *testing.T) {
	const req = "reach from c tcp src net 10.0.0.0/8 and dst host 192.0.2.10 and dst port 80 -> server -> back"
	check(t, load(t, ex("enterprise_rewrite.click")), req, verify.Satisfied)
	a := check(t, load(t, ex("enterprise_norewrite.click")), req, verify.Violated)
	if !strings.Contains(a.Reason, "fw") {
		t.Errorf("the firewall should be where the reply dies: %s", a.Reason)
	}
}

// SymNet Figure 3.3: an ISN-randomizing box keeps TCP working when both
// directions cross it (B's ACK, shifted back, acknowledges A's sequence
// number + 1), and breaks it when the return path bypasses it.
func TestISNRandomizer(t *testing.T) {
	c := load(t, ex("isn.click"))
	r, _ := verify.ParseRequirement("reach from a -> back")
	var via, bypass int
	for _, p := range reachPaths(t, c, r) {
		s := p.State
		end := s.Last().At
		paint, _ := end.Meta["paint"]
		color, _ := paint.IsConst()
		ack := field(t, s, end, "ack")
		seq := field(t, s, s.Init, "seq")
		want, _ := seq.Add(1)
		ok := s.S.MustEqual(ack, want)
		switch color {
		case 1:
			via++
			if !ok {
				t.Errorf("through the box: ack %s should be seq+1 %s", s.Vars().Format(ack), s.Vars().Format(want))
			}
		case 2:
			bypass++
			if ok {
				t.Errorf("bypassing the box: ack %s cannot be seq+1", s.Vars().Format(ack))
			}
		}
	}
	if via == 0 || bypass == 0 {
		t.Fatalf("paths: %d through the box, %d bypassing it", via, bypass)
	}
}

func reachPaths(t *testing.T, c *verify.Checker, r *verify.Requirement) []*verify.Path {
	t.Helper()
	ps, err := c.Paths(r)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func field(t *testing.T, s *sym.State, sn sym.Snap, name string) sym.Expr {
	t.Helper()
	e, err := verify.FieldAt(s, sn, name)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestTCPResponder is SymNet's TCP endpoint "response rule": it answers a
// segment with the addresses and ports swapped, SYN|ACK set and ack =
// seq + 1.
type testTCPResponder struct{ core.Base }

func init() {
	core.Register(core.Class{Name: "TestTCPResponder", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(testTCPResponder) }})
	sym.SetModel("TestTCPResponder", sym.Model(func(core.Element) (sym.Behavior, error) {
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			ip, err := s.Net()
			if err != nil {
				x.Drop(s, "no IP header")
				return
			}
			l4 := ip + 20
			src, _ := s.Load(ip+sym.IPSrc, 4)
			dst, _ := s.Load(ip+sym.IPDst, 4)
			sp, _ := s.Load(l4, 2)
			dp, _ := s.Load(l4+2, 2)
			seq, err := s.Load(l4+4, 4)
			if err != nil {
				x.Fail(s, err)
				return
			}
			ack, _ := seq.Add(1)
			_ = s.Store(ip+sym.IPSrc, 4, dst)
			_ = s.Store(ip+sym.IPDst, 4, src)
			_ = s.Store(l4, 2, dp)
			_ = s.Store(l4+2, 2, sp)
			_ = s.Store(l4+8, 4, ack)
			_ = s.Store(l4+4, 4, s.Vars().New("b.isn", 32))
			_ = s.Store(l4+13, 1, sym.Const(8, 0x12))
			s.SetMeta("dst anno", src)
			x.Emit(0, s)
		}), nil
	}))
}

func (r *testTCPResponder) Process(ctx *core.Ctx, b *packet.Batch) {
	for _, p := range b.P[:b.N] {
		ip := p.Network()
		if len(ip) < 40 {
			continue
		}
		t := ip[20:]
		var a [4]byte
		copy(a[:], ip[12:16])
		copy(ip[12:16], ip[16:20])
		copy(ip[16:20], a[:])
		t[0], t[1], t[2], t[3] = t[2], t[3], t[0], t[1]
		binary.BigEndian.PutUint32(t[8:], binary.BigEndian.Uint32(t[4:])+1)
		t[13] = 0x12
	}
}
