package icmp

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowbox/elements/elemtest"
)

// decodeError parses an ICMP error datagram and checks both checksums.
func decodeError(t *testing.T, b []byte) (*layers.IPv4, *layers.ICMPv4) {
	t.Helper()
	pkt := gopacket.NewPacket(b, layers.LayerTypeIPv4, gopacket.Default)
	ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	ic, _ := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if ip == nil || ic == nil {
		t.Fatalf("not IP/ICMP: %v", pkt)
	}
	if refSum(b[:20]) != 0xffff || refSum(b[20:]) != 0xffff {
		t.Fatal("IP or ICMP checksum invalid")
	}
	if int(ip.Length) != len(b) {
		t.Fatalf("IP length %d, packet %d", ip.Length, len(b))
	}
	return ip, ic
}

func TestICMPErrorQuotes(t *testing.T) {
	cases := []struct {
		name, config string
		in           []byte
		netOff       int
		wantType     uint8
		wantCode     uint8
		wantQuote    int // bytes of the offending packet quoted
	}{
		{name: "timeexceeded small", config: "10.0.0.254, timeexceeded", in: udpPacket(t, "10.0.0.1", "8.8.8.8", 100),
			wantType: 11, wantQuote: 100},
		{name: "quote capped at 576", config: "10.0.0.254, 11", in: udpPacket(t, "10.0.0.1", "8.8.8.8", 1000),
			wantType: 11, wantQuote: 576 - 28},
		{name: "exactly fits", config: "10.0.0.254, timeexceeded", in: udpPacket(t, "10.0.0.1", "8.8.8.8", 548),
			wantType: 11, wantQuote: 548},
		{name: "after ethernet header, padding excluded", config: "10.0.0.254, unreachable, port",
			in: append(append(make([]byte, 14), udpPacket(t, "10.0.0.1", "8.8.8.8", 40)...), 0, 0, 0, 0, 0, 0), netOff: 14,
			wantType: 3, wantCode: 3, wantQuote: 40},
		{name: "type and code in one argument", config: "10.0.0.254, unreachable host", in: udpPacket(t, "10.0.0.1", "8.8.8.8", 64),
			wantType: 3, wantCode: 1, wantQuote: 64},
		{name: "answers echo requests", config: "10.0.0.254, parameterproblem", in: icmpPacket(t, "10.0.0.1", "8.8.8.8", 8, 0, 10),
			wantType: 12, wantQuote: 38},
		{name: "first fragment answered", config: "10.0.0.254, timeexceeded reassembly",
			in: corrupt(udpPacket(t, "10.0.0.1", "8.8.8.8", 64), func(c []byte) { c[6] = 0x20 }), wantType: 11, wantCode: 1, wantQuote: 64},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "ICMPError", tc.config, 1, 1)
			h.PushPackets(0, annotated(h, tc.in, tc.netOff))
			if h.Outs[0].Count != 1 {
				t.Fatalf("no error generated (drops %s)", h.Read("drops"))
			}
			q := h.Outs[0].Pkts[0]
			ip, ic := decodeError(t, q.Data())
			if len(q.Data()) > 576 || len(q.Data()) != 28+tc.wantQuote {
				t.Fatalf("error length %d, want %d", len(q.Data()), 28+tc.wantQuote)
			}
			orig := tc.in[tc.netOff:]
			if !bytes.Equal(ic.Payload, orig[:tc.wantQuote]) {
				t.Fatal("quote is not the start of the offending packet")
			}
			if ip.SrcIP.String() != "10.0.0.254" || ip.DstIP.String() != "10.0.0.1" || ip.Protocol != layers.IPProtocolICMPv4 {
				t.Fatalf("addresses %v -> %v", ip.SrcIP, ip.DstIP)
			}
			if ic.TypeCode.Type() != tc.wantType || ic.TypeCode.Code() != tc.wantCode {
				t.Fatalf("type/code %v", ic.TypeCode)
			}
			if q.Anno.DstIP != [4]byte{10, 0, 0, 1} || q.NetworkOffset() != 0 || q.TransportOffset() != 20 {
				t.Fatal("annotations not set")
			}
			if h.Read("count") != "1" {
				t.Fatal("count not 1")
			}
		})
	}
}

func TestICMPErrorFields(t *testing.T) {
	h := elemtest.New(t, "ICMPError", "10.0.0.254, unreachable, needfrag, MTU 1400", 1, 1)
	h.PushPackets(0, annotated(h, udpPacket(t, "10.0.0.1", "8.8.8.8", 64), 0))
	if _, ic := decodeError(t, h.Outs[0].Pkts[0].Data()); ic.Seq != 1400 || ic.Id != 0 {
		t.Fatalf("needfrag MTU field %d/%d, want 0/1400", ic.Id, ic.Seq)
	}
	h = elemtest.New(t, "ICMPError", "10.0.0.254, redirect, host", 1, 1)
	p := annotated(h, udpPacket(t, "10.0.0.1", "8.8.8.8", 64), 0)
	p.Anno.DstIP = [4]byte{10, 0, 0, 2}
	h.PushPackets(0, p)
	d := h.Outs[0].Pkts[0].Data()
	decodeError(t, d)
	if !bytes.Equal(d[24:28], []byte{10, 0, 0, 2}) || d[20] != 5 || d[21] != 1 {
		t.Fatalf("redirect gateway % x type %d code %d", d[24:28], d[20], d[21])
	}
}

func TestICMPErrorRefuses(t *testing.T) {
	udp := udpPacket(t, "10.0.0.1", "8.8.8.8", 64)
	withMac := func(dst0 byte) []byte { return append(append([]byte{dst0, 0, 0, 0, 0, 1}, make([]byte, 8)...), udp...) }
	cases := []struct {
		name, config string
		in           []byte
		macAnno      bool
	}{
		{name: "time exceeded message", in: icmpPacket(t, "10.0.0.1", "8.8.8.8", 11, 0, 28)},
		{name: "unreachable message", in: icmpPacket(t, "10.0.0.1", "8.8.8.8", 3, 3, 28)},
		{name: "redirect message", in: icmpPacket(t, "10.0.0.1", "8.8.8.8", 5, 1, 28)},
		{name: "parameter problem message", in: icmpPacket(t, "10.0.0.1", "8.8.8.8", 12, 0, 28)},
		{name: "source quench message", in: icmpPacket(t, "10.0.0.1", "8.8.8.8", 4, 0, 28)},
		{name: "later fragment", in: corrupt(udp, func(c []byte) { c[7] = 1 })},
		{name: "broadcast destination", in: udpPacket(t, "10.0.0.1", "255.255.255.255", 64)},
		{name: "multicast destination", in: udpPacket(t, "10.0.0.1", "224.0.0.9", 64)},
		{name: "zero source", in: udpPacket(t, "0.0.0.0", "8.8.8.8", 64)},
		{name: "broadcast source", in: udpPacket(t, "255.255.255.255", "8.8.8.8", 64)},
		{name: "multicast source", in: udpPacket(t, "239.1.1.1", "8.8.8.8", 64)},
		{name: "loopback source", in: udpPacket(t, "127.0.0.1", "8.8.8.8", 64)},
		{name: "BADADDRS source", config: "BADADDRS 10.0.0.255 10.0.0.1", in: udp},
		{name: "BADADDRS destination", config: "BADADDRS 8.8.8.8", in: udp},
		{name: "link broadcast", in: withMac(0xff), macAnno: true},
		{name: "link multicast", in: withMac(0x01), macAnno: true},
		{name: "bad version", in: corrupt(udp, func(c []byte) { c[0] = 0x65 })},
		{name: "ihl past data", in: corrupt(udp[:22], func(c []byte) { c[0] = 0x46 })},
		{name: "truncated icmp", in: corrupt(icmpPacket(t, "10.0.0.1", "8.8.8.8", 8, 0, 0)[:20], func(c []byte) { c[3] = 28 })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := "10.0.0.254, timeexceeded"
			if tc.config != "" {
				cfg += ", " + tc.config
			}
			h := elemtest.New(t, "ICMPError", cfg, 1, 1)
			off := 0
			if tc.macAnno {
				off = 14
			}
			p := annotated(h, tc.in, off)
			if tc.macAnno {
				p.SetMacAt(0)
			}
			h.PushPackets(0, p)
			if h.Outs[0].Count != 0 || h.Read("drops") != "1" || h.Read("count") != "0" {
				t.Fatalf("answered (out %d, drops %s)", h.Outs[0].Count, h.Read("drops"))
			}
		})
	}
	// A unicast link header does not prevent the error.
	h := elemtest.New(t, "ICMPError", "10.0.0.254, timeexceeded", 1, 1)
	p := annotated(h, withMac(0x02), 14)
	p.SetMacAt(0)
	h.PushPackets(0, p)
	if h.Outs[0].Count != 1 {
		t.Fatal("unicast frame not answered")
	}
}

func TestICMPErrorConfig(t *testing.T) {
	good := map[string][2]uint8{
		"1.1.1.1, timeexceeded":                 {11, 0},
		"1.1.1.1, unreachable, needfrag":        {3, 4},
		"1.1.1.1, unreachable filterprohibited": {3, 13},
		"1.1.1.1, 3, 10":                        {3, 10},
		"1.1.1.1, parameterproblem, length":     {12, 2},
		"1.1.1.1, TYPE redirect, CODE tos-host": {5, 3},
	}
	for cfg, want := range good {
		h := elemtest.New(t, "ICMPError", cfg, 1, 1)
		e := h.Elem.(*ICMPError)
		if e.icmpType != want[0] || e.icmpCode != want[1] {
			t.Errorf("%q: type/code %d/%d, want %v", cfg, e.icmpType, e.icmpCode, want)
		}
	}
	for _, cfg := range []string{"1.1.1.1", "1.1.1.1, echo", "1.1.1.1, 8", "1.1.1.1, unreachable, bogus",
		"1.1.1.1, nosuchtype", "x, timeexceeded", "1.1.1.1, timeexceeded, MTU 10", "1.1.1.1, unreachable a b"} {
		if _, err := elemtest.Build(t, "ICMPError", cfg, elemtest.Options{Inputs: 1, Outputs: 1}); err == nil {
			t.Errorf("config %q accepted", cfg)
		}
	}
}

// TestICMPErrorBatchOrder pushes answered and refused packets together.
func TestICMPErrorBatchOrder(t *testing.T) {
	h := elemtest.New(t, "ICMPError", "10.0.0.254, timeexceeded", 1, 1)
	a := annotated(h, udpPacket(t, "10.0.0.1", "8.8.8.8", 64), 0)
	bad := annotated(h, icmpPacket(t, "10.0.0.2", "8.8.8.8", 3, 1, 28), 0)
	c := annotated(h, udpPacket(t, "10.0.0.3", "8.8.8.8", 64), 0)
	h.PushPackets(0, a, bad, c)
	if h.Outs[0].Count != 2 || h.Read("drops") != "1" {
		t.Fatalf("out %d drops %s", h.Outs[0].Count, h.Read("drops"))
	}
	if d := h.Outs[1-1].Pkts[1].Data(); binary.BigEndian.Uint32(d[16:]) != 0x0a000003 {
		t.Fatal("order not kept")
	}
}
