package nat

import (
	"strings"
	"testing"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
	"flowbox/elements/elemtest"
)

// echo builds an IPv4 ICMP echo request (typ 8) or reply (typ 0) with
// correct checksums.
func echo(typ uint8, src, dst string, id, seq uint16) []byte {
	b := make([]byte, 20+8+24)
	b[0] = 0x45
	proto.Put16(b, proto.IPOffLen, uint16(len(b)))
	b[proto.IPOffTTL] = 64
	b[proto.IPOffProto] = proto.ProtoICMP
	proto.Put32(b, proto.IPOffSrc, ip4(src))
	proto.Put32(b, proto.IPOffDst, ip4(dst))
	m := b[20:]
	m[0] = typ
	proto.Put16(m, 4, id)
	proto.Put16(m, 6, seq)
	for i := 8; i < len(m); i++ {
		m[i] = byte(i*13 + 1)
	}
	proto.Put16(m, 2, proto.Checksum(m))
	proto.SetIPv4Checksum(b)
	return b
}

// checkICMPSums recomputes the IP header and whole-message ICMP checksums.
func checkICMPSums(t *testing.T, b []byte) {
	t.Helper()
	hl := int(b[0]&0xf) * 4
	if c := proto.Checksum(b[:hl]); c != 0 {
		t.Errorf("IP checksum invalid (residual %#04x)", c)
	}
	if c := proto.Checksum(b[hl:proto.U16(b, proto.IPOffLen)]); c != 0 {
		t.Errorf("ICMP checksum invalid (residual %#04x)", c)
	}
}

type echoView struct {
	typ      uint8
	src, dst uint32
	id, seq  uint16
}

func viewEcho(b []byte) echoView {
	return echoView{b[20], proto.U32(b, proto.IPOffSrc), proto.U32(b, proto.IPOffDst),
		proto.U16(b, 24), proto.U16(b, 26)}
}

func TestICMPPingRewriterTable(t *testing.T) {
	const inside, server, nat = "10.0.1.2", "10.0.2.2", "192.0.2.1"
	type step struct {
		port  int
		frame []byte
		out   int       // expected output, -1 = dropped
		want  *echoView // expected header after rewriting
		check func(echoView) string
	}
	cases := []struct {
		name, config string
		steps        []step
	}{
		{"keep identifier", "pattern 192.0.2.1 - - - 0 1, drop", []step{
			{0, echo(8, inside, server, 77, 1), 0, &echoView{8, ip4(nat), ip4(server), 77, 1}, nil},
			{1, echo(0, server, nat, 77, 1), 1, &echoView{0, ip4(server), ip4(inside), 77, 1}, nil},
			{1, echo(0, server, nat, 78, 1), -1, nil, nil}, // no mapping
			{1, echo(8, server, nat, 77, 1), -1, nil, nil}, // unsolicited request
			{0, echo(8, inside, server, 77, 2), 0, &echoView{8, ip4(nat), ip4(server), 77, 2}, nil},
		}},
		{"identifier range", "pattern 192.0.2.1 5000-5009# - - 0 1, drop", []step{
			{0, echo(8, inside, server, 77, 1), 0, &echoView{8, ip4(nat), ip4(server), 5000, 1}, nil},
			{0, echo(8, "10.0.1.3", server, 77, 1), 0, &echoView{8, ip4(nat), ip4(server), 5001, 1}, nil},
			{1, echo(0, server, nat, 5001, 1), 1, &echoView{0, ip4(server), ip4("10.0.1.3"), 77, 1}, nil},
			{1, echo(0, server, nat, 5000, 1), 1, &echoView{0, ip4(server), ip4(inside), 77, 1}, nil},
		}},
		{"own identifier first", "pattern 192.0.2.1 1-65535 - - 0 1, drop", []step{
			{0, echo(8, inside, server, 4242, 9), 0, &echoView{8, ip4(nat), ip4(server), 4242, 9}, nil},
			// Same identifier from another host: its reply tuple must differ.
			{0, echo(8, "10.0.1.3", server, 4242, 9), 0, nil, func(v echoView) string {
				if v.id == 4242 || v.src != ip4(nat) {
					return "second host kept the taken identifier"
				}
				return ""
			}},
		}},
		{"identifier clash without range", "pattern 192.0.2.1 - - - 0 1, drop", []step{
			{0, echo(8, inside, server, 7, 1), 0, nil, nil},
			{0, echo(8, "10.0.1.3", server, 7, 1), -1, nil, nil}, // mapping failure
		}},
		{"pass and other types", "pattern 192.0.2.1 - - - 0 1, pass 1", []step{
			{1, echo(8, server, nat, 1, 1), 1, &echoView{8, ip4(server), ip4(nat), 1, 1}, nil},
			{0, udp(inside, 1, server, 2).build(), -1, nil, nil}, // not ICMP: spec 0 is a pattern
			{0, echo(13, inside, server, 1, 1), -1, nil, nil},    // timestamp
		}},
		{"legacy form", "192.0.2.1, -", []step{
			{0, echo(8, inside, server, 9, 1), 0, &echoView{8, ip4(nat), ip4(server), 9, 1}, nil},
			{0, echo(0, server, nat, 9, 1), 0, &echoView{0, ip4(server), ip4(inside), 9, 1}, nil},
			{0, udp(inside, 1, server, 2).build(), 1, nil, nil}, // unmapped: output 1
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nin, nout := 2, 2
			if strings.Count(tc.config, ",") == 1 && !strings.Contains(tc.config, "pattern") {
				nin = 1
			}
			h := newRW(t, "ICMPPingRewriter", tc.config, nin, nout)
			for i, s := range tc.steps {
				h.Ctx.Now = int64(i+1) * sec
				h.Push(s.port, s.frame)
				got := -1
				var data []byte
				var anno [4]byte
				for o := 0; o < nout; o++ {
					if len(h.Outs[o].Pkts) > 0 {
						anno = h.Outs[o].Pkts[0].Anno.DstIP
					}
					if d := take(h, o); len(d) > 0 {
						if len(d) != 1 || got >= 0 {
							t.Fatalf("step %d: packets on several outputs", i)
						}
						got, data = o, d[0]
					}
				}
				if got != s.out {
					t.Fatalf("step %d: output %d, want %d", i, got, s.out)
				}
				if data == nil || data[9] != proto.ProtoICMP {
					continue
				}
				checkICMPSums(t, data)
				v := viewEcho(data)
				if s.want != nil && v != *s.want {
					t.Errorf("step %d: got %+v, want %+v", i, v, *s.want)
				}
				if s.check != nil {
					if msg := s.check(v); msg != "" {
						t.Errorf("step %d: %s", i, msg)
					}
				}
				if s.want != nil && s.want.dst != ip4(nat) && proto.U32(anno[:], 0) != s.want.dst {
					t.Errorf("step %d: DST annotation %v, want the new destination", i, anno)
				}
			}
		})
	}
}

func TestICMPPingRewriterHandlers(t *testing.T) {
	h := newRW(t, "ICMPPingRewriter", "pattern 192.0.2.1 - - - 0 1, drop", 2, 2)
	h.Ctx.Now = sec
	h.Push(0, echo(8, "10.0.1.2", "10.0.2.2", 77, 1))
	if n := h.Read("table_size"); n != "1" {
		t.Errorf("table_size = %q", n)
	}
	tab := h.Read("icmp_table")
	if !strings.Contains(tab, "(10.0.1.2, 77, 10.0.2.2, 0) => (192.0.2.1, 77, 10.0.2.2, 0)") {
		t.Errorf("icmp_table:\n%s", tab)
	}
	if h.Read("table") != tab {
		t.Error("table differs from icmp_table")
	}
	if _, ok := h.Handler("tcp_table"); ok {
		t.Error("tcp_table handler on a ping rewriter")
	}
	if err := h.Write("clear", ""); err != nil {
		t.Fatal(err)
	}
	if n := h.Read("table_size"); n != "0" {
		t.Errorf("table_size after clear = %q", n)
	}
	// Expiry: UDP_TIMEOUT governs ping mappings.
	h2 := newRW(t, "ICMPPingRewriter", "pattern 192.0.2.1 - - - 0 1, drop, UDP_TIMEOUT 10s", 2, 2)
	h2.Ctx.Now = sec
	h2.Push(0, echo(8, "10.0.1.2", "10.0.2.2", 77, 1))
	take(h2, 0)
	h2.Ctx.Now = 12 * sec
	h2.Push(1, echo(0, "10.0.2.2", "192.0.2.1", 77, 1))
	if d := take(h2, 1); len(d) != 0 {
		t.Error("reply after the mapping expired was rewritten")
	}
}

func TestICMPPingRewriterConfigErrors(t *testing.T) {
	for _, c := range []string{"", "pattern 1.2.3.4 - - - 0 5, drop", "bogus, drop", "pattern 1.2.3.4 0 - - 0 1, drop"} {
		if _, err := buildErr(t, "ICMPPingRewriter", c, 2, 2); err == nil {
			t.Errorf("config %q accepted", c)
		}
	}
}

func TestICMPPingRewriterMalformed(t *testing.T) {
	h := newRW(t, "ICMPPingRewriter", "pattern 192.0.2.1 - - - 0 1, pass 1", 2, 2)
	good := echo(8, "10.0.1.2", "10.0.2.2", 1, 1)
	for _, f := range [][]byte{nil, good[:10], good[:22], good[:27], {0x45, 0, 0, 20}} {
		h.Push(0, f)
	}
	if n := h.Read("malformed"); n == "0" {
		t.Errorf("malformed = %s", n)
	}
	for o := range h.Outs {
		if len(take(h, o)) != 0 {
			t.Errorf("malformed packet left on output %d", o)
		}
	}
}

func TestICMPPingRewriterAllocs(t *testing.T) {
	h := newRW(t, "ICMPPingRewriter", "pattern 192.0.2.1 1024-65535 - - 0 1, drop", 2, 2)
	s := &sink{}
	h.Elem.Core().Output(0).Connect(s, 0)
	h.Elem.Core().Output(1).Connect(s, 0)
	req := h.Packet(echo(8, "10.0.1.2", "10.0.2.2", 77, 1))
	h.Ctx.Now = sec
	var b packet.Batch
	b.Append(req)
	h.PushBatch(0, &b)
	allocs := testing.AllocsPerRun(200, func() {
		b.Append(req)
		h.PushBatch(0, &b)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per packet", allocs)
	}
}

func FuzzICMPPingRewriter(f *testing.F) {
	f.Add(echo(8, "10.0.1.2", "10.0.2.2", 77, 1), 0)
	f.Add(echo(0, "10.0.2.2", "192.0.2.1", 77, 1), 1)
	f.Add(udp("10.0.1.2", 1, "10.0.2.2", 2).build(), 0)
	f.Add([]byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 1, 2, 10, 0, 2, 2, 8}, 0)
	f.Fuzz(func(t *testing.T, data []byte, port int) {
		h := newRW(t, "ICMPPingRewriter", "pattern 192.0.2.1 1024-1030 - - 0 1, pass 1", 2, 2)
		h.Push(port&1, data)
		h.Push(0, echo(8, "10.0.1.2", "10.0.2.2", 77, 1))
		h.Push(1, data)
	})
}

// buildErr builds a harness and returns the configuration error.
func buildErr(t *testing.T, class, config string, nin, nout int) (core.Element, error) {
	t.Helper()
	h, err := elemtest.Build(t, class, config, elemtest.Options{Inputs: nin, Outputs: nout})
	if err != nil {
		return nil, err
	}
	return h.Elem, nil
}
