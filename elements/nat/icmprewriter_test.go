package nat

import (
	"bytes"
	"testing"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
	"flowbox/elements/elemtest"
)

// icmpError builds an ICMP error (typ, code) from src to dst quoting the
// first n bytes of quote (all of it when n < 0), with correct checksums.
func icmpError(typ, code uint8, src, dst string, quote []byte, n int) []byte {
	if n < 0 || n > len(quote) {
		n = len(quote)
	}
	b := make([]byte, 20+8+n)
	b[0] = 0x45
	proto.Put16(b, proto.IPOffLen, uint16(len(b)))
	b[proto.IPOffTTL] = 64
	b[proto.IPOffProto] = proto.ProtoICMP
	proto.Put32(b, proto.IPOffSrc, ip4(src))
	proto.Put32(b, proto.IPOffDst, ip4(dst))
	m := b[20:]
	m[0], m[1] = typ, code
	copy(m[8:], quote[:n])
	proto.Put16(m, 2, proto.Checksum(m))
	proto.SetIPv4Checksum(b)
	return b
}

// icmpRW is an ICMPRewriter wired to the rewriters of a shared FakeRouter.
type icmpRW struct {
	e    core.Element
	push core.Pusher
	outs []*elemtest.Collector
	ctx  *core.Ctx
}

func newICMPRW(t *testing.T, rt *elemtest.FakeRouter, ctx *core.Ctx, config string, nout int) (*icmpRW, error) {
	t.Helper()
	e := core.Lookup("ICMPRewriter").New()
	b := e.Core()
	b.Setup("icmprw", "ICMPRewriter", config, "test:1:1", 1, nout)
	b.Input(0).Kind = core.Push
	x := &icmpRW{e: e, ctx: ctx}
	for i := 0; i < nout; i++ {
		b.Output(i).Kind = core.Push
		c := &elemtest.Collector{}
		b.Output(i).Connect(c, 0)
		x.outs = append(x.outs, c)
	}
	if err := e.(core.Configurer).Configure(core.NewArgs(config)); err != nil {
		return nil, err
	}
	rt.AddElement("icmprw", e)
	b.SetRouter(rt)
	if err := e.(core.Initializer).Initialize(rt); err != nil {
		return nil, err
	}
	x.push = core.AsPusher(e)
	return x, nil
}

func (x *icmpRW) send(frames ...[]byte) {
	var b packet.Batch
	for _, f := range frames {
		b.Append(x.ctx.Pool.NewFrom(f))
	}
	x.push.Push(x.ctx, 0, &b)
}

func (x *icmpRW) take(o int) [][]byte {
	d := x.outs[o].Data()
	x.outs[o].Pkts = nil
	return d
}

// natSetup returns an IPRewriter "nat" and an ICMPPingRewriter "ping"
// (both pattern 192.0.2.1, ports/identifiers 5000-5999 sequential) sharing
// one FakeRouter, and an ICMPRewriter over both.
func natSetup(t *testing.T, nout int) (nat, ping *elemtest.Harness, x *icmpRW) {
	t.Helper()
	var err error
	nat, err = elemtest.Build(t, "IPRewriter", "pattern 192.0.2.1 5000-5999# - - 0 1, drop",
		elemtest.Options{Inputs: 2, Outputs: 2, Name: "nat"})
	if err != nil {
		t.Fatal(err)
	}
	ping, err = elemtest.Build(t, "ICMPPingRewriter", "pattern 192.0.2.1 7000-7999# - - 0 1, drop",
		elemtest.Options{Inputs: 2, Outputs: 2, Name: "ping"})
	if err != nil {
		t.Fatal(err)
	}
	ping.Ctx = nat.Ctx
	nat.Router.AddElement("ping", ping.Elem)
	nat.Ctx.Now = sec
	if x, err = newICMPRW(t, nat.Router, nat.Ctx, "nat ping", nout); err != nil {
		t.Fatal(err)
	}
	return nat, ping, x
}

func TestICMPRewriterTable(t *testing.T) {
	const inside, server, natIP, router = "10.0.1.2", "10.0.2.2", "192.0.2.1", "10.0.2.254"
	udpOut := udp(inside, 1111, server, 53)
	tcpOut := tcp(inside, 2222, server, 80, proto.TCPSyn)
	pingOut := echo(8, inside, server, 77, 1)
	cases := []struct {
		name string
		// orig is the packet the inside host sent; it goes through the NAT
		// (nat input 0 or ping input 0) and the translated copy is quoted.
		orig     []byte
		isPing   bool
		typ      uint8
		code     uint8
		from     string // outer source of the error ("" = the server)
		quoteLen int
		wantSrc  string
	}{
		{"udp port unreachable from server", udpOut.build(), false, 3, 3, "", -1, server},
		{"udp ttl exceeded from router", udpOut.build(), false, 11, 0, router, -1, router},
		{"udp short quote (28 bytes)", udpOut.build(), false, 3, 3, "", 28, server},
		{"tcp unreachable, 8-byte quote", tcpOut.build(), false, 3, 1, router, 28, router},
		{"tcp unreachable, full quote", tcpOut.build(), false, 3, 1, "", -1, server},
		{"tcp needfrag, odd-length quote", tcpOut.build(), false, 3, 4, router, 45, router},
		{"ping ttl exceeded", pingOut, true, 11, 0, router, -1, router},
		{"ping unreachable, 28 bytes", pingOut, true, 3, 1, router, 28, router},
		{"udp without checksum", func() []byte { u := udpOut; u.noUDPSum = true; return u.build() }(), false, 3, 3, "", -1, server},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nat, ping, x := natSetup(t, 2)
			h := nat
			if tc.isPing {
				h = ping
			}
			h.Push(0, tc.orig)
			out := take(h, 0)
			if len(out) != 1 {
				t.Fatalf("NAT emitted %d packets", len(out))
			}
			translated := out[0]
			if proto.U32(translated, proto.IPOffSrc) != ip4(natIP) {
				t.Fatal("NAT did not translate the source")
			}
			from := tc.from
			if from == "" {
				from = server
			}
			x.send(icmpError(tc.typ, tc.code, from, natIP, translated, tc.quoteLen))
			got := x.take(0)
			if len(got) != 1 || len(x.take(1)) != 0 {
				t.Fatalf("got %d rewritten errors", len(got))
			}
			e := got[0]
			checkICMPSums(t, e)
			if e[20] != tc.typ || e[21] != tc.code {
				t.Errorf("type/code changed to %d/%d", e[20], e[21])
			}
			if s, d := proto.U32(e, proto.IPOffSrc), proto.U32(e, proto.IPOffDst); s != ip4(tc.wantSrc) || d != ip4(inside) {
				t.Errorf("outer %s -> %s, want %s -> %s", addrString(s), addrString(d), tc.wantSrc, inside)
			}
			// The quote must be the inside host's own packet, byte for byte:
			// this checks the quoted IP header checksum and the transport
			// checksum (where quoted) by full recomputation.
			quote := e[28:]
			n := len(quote)
			if !bytes.Equal(quote, tc.orig[:n]) {
				t.Errorf("quote differs from the original packet:\n got %x\nwant %x", quote, tc.orig[:n])
			}
			if c := proto.Checksum(quote[:20]); c != 0 {
				t.Errorf("quoted IP checksum invalid")
			}
			if n == len(tc.orig) && !tc.isPing {
				checkSums(t, quote)
			}
		})
	}
}

// TestICMPRewriterInbound: an inside host's error about a translated
// incoming packet goes back out addressed to the outside peer, from the
// NAT address.
func TestICMPRewriterInbound(t *testing.T) {
	nat, _, x := natSetup(t, 2)
	nat.Push(0, udp("10.0.1.2", 1111, "10.0.2.2", 53).build())
	out := take(nat, 0)
	natPort := proto.U16(out[0], 20)
	reply := udp("10.0.2.2", 53, "192.0.2.1", natPort).build()
	nat.Push(1, reply)
	in := take(nat, 1)
	if len(in) != 1 {
		t.Fatal("reply not translated")
	}
	x.send(icmpError(3, 3, "10.0.1.2", "10.0.2.2", in[0], -1))
	got := x.take(0)
	if len(got) != 1 {
		t.Fatal("inside error not rewritten")
	}
	e := got[0]
	checkICMPSums(t, e)
	if s, d := proto.U32(e, proto.IPOffSrc), proto.U32(e, proto.IPOffDst); s != ip4("192.0.2.1") || d != ip4("10.0.2.2") {
		t.Errorf("outer %s -> %s, want 192.0.2.1 -> 10.0.2.2", addrString(s), addrString(d))
	}
	if !bytes.Equal(e[28:], reply) {
		t.Errorf("quote is not the packet the outside host sent")
	}
}

func TestICMPRewriterUnmatched(t *testing.T) {
	nat, _, x := natSetup(t, 2)
	u := udp("10.0.1.2", 1111, "10.0.2.2", 53).build()
	nat.Push(0, u)
	tr := take(nat, 0)[0]
	frames := [][]byte{
		udp("10.0.2.2", 1, "192.0.2.1", 2).build(),                                             // not ICMP
		echo(8, "10.0.2.2", "192.0.2.1", 1, 1),                                                 // not an error
		icmpError(3, 3, "10.0.2.2", "192.0.2.1", udp("1.1.1.1", 1, "10.0.2.2", 2).build(), -1), // no mapping
		icmpError(3, 3, "10.0.2.2", "192.0.2.1", tr, 20),                                       // truncated quote
		icmpError(3, 3, "10.0.2.2", "192.0.2.1", tr, 10),                                       // truncated IP header
	}
	x.send(frames...)
	if n := len(x.take(1)); n != len(frames) {
		t.Errorf("output 1 got %d, want %d", n, len(frames))
	}
	if n := len(x.take(0)); n != 0 {
		t.Errorf("output 0 got %d", n)
	}
	r := x.e.(*ICMPRewriter)
	if r.unmatched != 3 || r.malformed != 2 {
		t.Errorf("unmatched %d malformed %d", r.unmatched, r.malformed)
	}
	// Expired mappings are not used.
	nat.Ctx.Now = 1 << 62
	x.send(icmpError(3, 3, "10.0.2.2", "192.0.2.1", tr, -1))
	if len(x.take(0)) != 0 {
		t.Error("error translated through an expired mapping")
	}
	// One output: unmatched packets are dropped.
	_, _, x2 := natSetup(t, 1)
	x2.send(frames...)
	if n := len(x2.take(0)); n != 0 {
		t.Errorf("single output passed %d unmatched", n)
	}
	if x2.e.Core().Drops != uint64(len(frames)) {
		t.Errorf("drops = %d", x2.e.Core().Drops)
	}
}

func TestICMPRewriterConfig(t *testing.T) {
	nat, _, _ := natSetup(t, 2)
	for _, c := range []string{"", "nosuch", "icmprw", "nat, DST_ANNO maybe"} {
		if _, err := newICMPRW(t, nat.Router, nat.Ctx, c, 2); err == nil {
			t.Errorf("config %q accepted", c)
		}
	}
	x, err := newICMPRW(t, nat.Router, nat.Ctx, "nat ping, DST_ANNO false", 2)
	if err != nil {
		t.Fatal(err)
	}
	hp := x.e.(core.HandlerProvider)
	for _, h := range hp.Handlers() {
		if h.Name == "maps" {
			if v, _ := h.Read(""); v != "nat ping" {
				t.Errorf("maps = %q", v)
			}
		}
	}
	if d := core.Lookup("ICMPRewriter").Doc; d.Synopsis == "" || d.Example == "" || len(d.Handlers) == 0 {
		t.Error("incomplete doc")
	}
	if d := core.Lookup("ICMPPingRewriter").Doc; d.Synopsis == "" || d.Example == "" || len(d.Handlers) == 0 {
		t.Error("incomplete doc")
	}
}

func TestICMPRewriterAllocs(t *testing.T) {
	nat, _, x := natSetup(t, 2)
	nat.Push(0, udp("10.0.1.2", 1111, "10.0.2.2", 53).build())
	tr := take(nat, 0)[0]
	s := &sink{}
	x.e.Core().Output(0).Connect(s, 0)
	x.e.Core().Output(1).Connect(s, 0)
	p := x.ctx.Pool.NewFrom(icmpError(3, 3, "10.0.2.2", "192.0.2.1", tr, -1))
	var b packet.Batch
	allocs := testing.AllocsPerRun(200, func() {
		b.Append(p)
		x.push.Push(x.ctx, 0, &b)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per packet", allocs)
	}
}

func FuzzICMPRewriter(f *testing.F) {
	u := udp("10.0.1.2", 1111, "10.0.2.2", 53)
	tr := u
	tr.src, tr.sport = "192.0.2.1", 5000
	f.Add(icmpError(3, 3, "10.0.2.2", "192.0.2.1", tr.build(), -1))
	f.Add(icmpError(11, 0, "10.0.2.2", "192.0.2.1", echo(8, "192.0.2.1", "10.0.2.2", 7000, 1), 28))
	f.Add(icmpError(3, 3, "10.0.2.2", "192.0.2.1", tr.build(), 22))
	f.Add([]byte{0x45, 0, 0, 48, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 2, 2, 192, 0, 2, 1, 3, 3, 0, 0, 0, 0, 0, 0, 0x4f})
	f.Fuzz(func(t *testing.T, data []byte) {
		nat, ping, x := natSetup(t, 2)
		nat.Push(0, u.build())
		ping.Push(0, echo(8, "10.0.1.2", "10.0.2.2", 77, 1))
		x.send(data)
	})
}
