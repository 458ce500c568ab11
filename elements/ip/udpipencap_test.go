package ip

import (
	"bytes"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowbox/elements/elemtest"
)

func TestUDPIPEncap(t *testing.T) {
	cases := []struct {
		name, config string
		payload      []byte
		anno         [4]byte
		wantDst      string
		wantSum      bool
	}{
		{name: "checksummed", config: "10.0.0.1, 1234, 10.0.0.2, 53", payload: []byte("query"), wantDst: "10.0.0.2", wantSum: true},
		{name: "empty payload", config: "10.0.0.1, 1234, 10.0.0.2, 53", payload: []byte{}, wantDst: "10.0.0.2", wantSum: true},
		{name: "no checksum", config: "10.0.0.1, 1234, 10.0.0.2, 53, false", payload: []byte("abc"), wantDst: "10.0.0.2"},
		{name: "dst anno", config: "10.0.0.1, 1234, DST_ANNO, 53", payload: []byte("x"), anno: [4]byte{8, 8, 4, 4}, wantDst: "8.8.4.4", wantSum: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "UDPIPEncap", tc.config, 1, 1)
			p := h.Packet(tc.payload)
			p.Anno.DstIP = tc.anno
			h.PushPackets(0, p)
			out := h.Outs[0].Pkts[0].Data()
			pkt := gopacket.NewPacket(out, layers.LayerTypeIPv4, gopacket.Default)
			ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
			if ip == nil || udp == nil {
				t.Fatalf("not UDP/IP: %v", pkt)
			}
			if ip.SrcIP.String() != "10.0.0.1" || ip.DstIP.String() != tc.wantDst || ip.TTL != 250 ||
				udp.SrcPort != 1234 || udp.DstPort != 53 || int(udp.Length) != 8+len(tc.payload) ||
				!bytes.Equal(udp.Payload, tc.payload) || !ipSumValid(out) {
				t.Fatalf("bad headers: %v", pkt)
			}
			if tc.wantSum != (udp.Checksum != 0) || (tc.wantSum && !transportSumValid(out)) {
				t.Fatalf("UDP checksum %#x, want computed=%v", udp.Checksum, tc.wantSum)
			}
			if h.Outs[0].Pkts[0].Anno.DstIP != [4]byte(ip.DstIP.To4()) {
				t.Fatal("DstIP annotation not set")
			}
		})
	}
}

func TestUDPIPEncapHandlers(t *testing.T) {
	h := elemtest.New(t, "UDPIPEncap", "10.0.0.1, 1, 10.0.0.2, 2", 1, 1)
	for name, v := range map[string]string{"src": "1.2.3.4", "sport": "1000", "dst": "5.6.7.8", "dport": "2000"} {
		if err := h.Write(name, v); err != nil || h.Read(name) != v {
			t.Fatalf("%s: %v, read back %q", name, err, h.Read(name))
		}
	}
	if err := h.Write("sport", "70000"); err == nil {
		t.Fatal("port 70000 accepted")
	}
}
