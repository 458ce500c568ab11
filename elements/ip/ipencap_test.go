package ip

import (
	"bytes"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowbox/elements/elemtest"
)

// decodeIP parses an IPv4 packet with gopacket.
func decodeIP(t *testing.T, b []byte) *layers.IPv4 {
	t.Helper()
	pkt := gopacket.NewPacket(b, layers.LayerTypeIPv4, gopacket.NoCopy)
	ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if ip == nil {
		t.Fatalf("not an IPv4 packet: %v", pkt.ErrorLayer())
	}
	return ip
}

func TestIPEncap(t *testing.T) {
	payload := []byte("hello, world")
	cases := []struct {
		name, config string
		dstAnno      [4]byte
		wantDst      string
		wantTTL      uint8
		wantTOS      uint8
		wantFlags    layers.IPv4Flag
		wantProto    layers.IPProtocol
	}{
		{name: "defaults", config: "udp, 10.0.0.1, 10.0.0.2", wantDst: "10.0.0.2", wantTTL: 250, wantProto: layers.IPProtocolUDP},
		{name: "number proto, options", config: "4, 10.0.0.1, 10.0.0.2, TTL 9, TOS 4, DF true", wantDst: "10.0.0.2",
			wantTTL: 9, wantTOS: 4, wantFlags: layers.IPv4DontFragment, wantProto: layers.IPProtocolIPv4},
		{name: "dscp ect", config: "tcp, 10.0.0.1, 10.0.0.2, DSCP 46, ECT true", wantDst: "10.0.0.2", wantTTL: 250,
			wantTOS: 46<<2 | 2, wantProto: layers.IPProtocolTCP},
		{name: "ce", config: "tcp, 10.0.0.1, 10.0.0.2, CE true", wantDst: "10.0.0.2", wantTTL: 250, wantTOS: 3, wantProto: layers.IPProtocolTCP},
		{name: "dst anno", config: "gre, 10.0.0.1, DST_ANNO", dstAnno: [4]byte{192, 168, 1, 9}, wantDst: "192.168.1.9",
			wantTTL: 250, wantProto: layers.IPProtocolGRE},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "IPEncap", tc.config, 1, 1)
			p := h.Packet(payload)
			p.Anno.DstIP = tc.dstAnno
			headroom := p.Headroom()
			h.PushPackets(0, p, h.Packet(payload))
			out := h.Outs[0].Pkts[0]
			if out.Headroom() != headroom-20 {
				t.Fatalf("headroom %d, want %d (no copy)", out.Headroom(), headroom-20)
			}
			ip := decodeIP(t, out.Data())
			if ip.SrcIP.String() != "10.0.0.1" || ip.DstIP.String() != tc.wantDst || ip.TTL != tc.wantTTL ||
				ip.TOS != tc.wantTOS || ip.Flags != tc.wantFlags || ip.Protocol != tc.wantProto ||
				int(ip.Length) != 20+len(payload) || !bytes.Equal(ip.Payload, payload) {
				t.Fatalf("bad header %+v", ip)
			}
			if !ipSumValid(out.Data()) {
				t.Fatal("bad checksum")
			}
			if out.NetworkOffset() != 0 || out.TransportOffset() != 20 || out.Anno.DstIP != [4]byte(ip.DstIP.To4()) {
				t.Fatal("annotations not set")
			}
			if next := decodeIP(t, h.Outs[0].Pkts[1].Data()); next.Id != ip.Id+1 {
				t.Fatalf("IDs %d then %d, want consecutive", ip.Id, next.Id)
			}
		})
	}
}

func TestIPEncapHandlersAndErrors(t *testing.T) {
	h := elemtest.New(t, "IPEncap", "udp, 1.1.1.1, 2.2.2.2", 1, 1)
	if err := h.Write("dst", "DST_ANNO"); err != nil || h.Read("dst") != "DST_ANNO" {
		t.Fatalf("dst handler: %v %q", err, h.Read("dst"))
	}
	if err := h.Write("src", "3.3.3.3"); err != nil || h.Read("src") != "3.3.3.3" {
		t.Fatalf("src handler: %v %q", err, h.Read("src"))
	}
	p := h.Packet([]byte{1, 2, 3})
	p.Anno.DstIP = [4]byte{4, 4, 4, 4}
	h.PushPackets(0, p)
	if ip := decodeIP(t, h.Outs[0].Pkts[0].Data()); ip.SrcIP.String() != "3.3.3.3" || ip.DstIP.String() != "4.4.4.4" {
		t.Fatalf("handlers not applied: %v -> %v", ip.SrcIP, ip.DstIP)
	}
	noRoom := h.Packet([]byte{1})
	for noRoom.Push(h.Ctx.Pool, 1) {
	} // use up the headroom
	h.PushPackets(0, noRoom)
	if h.Read("drops") != "1" {
		t.Fatal("packet without headroom not dropped")
	}
	for _, cfg := range []string{"udp, 1.1.1.1", "nope, 1.1.1.1, 2.2.2.2", "udp, 1.1.1.1, 2.2.2.2, DSCP 64", "udp, 1.1.1.1, 2.2.2.2, TTL 300"} {
		if _, err := elemtest.Build(t, "IPEncap", cfg, elemtest.Options{Inputs: 1, Outputs: 1}); err == nil {
			t.Errorf("config %q accepted", cfg)
		}
	}
}
