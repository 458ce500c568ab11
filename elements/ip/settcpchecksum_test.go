package ip

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestSetTCPChecksum(t *testing.T) {
	tcp := tcpPacket(t, "10.0.0.1", "10.0.0.2", 11)
	cases := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{name: "zeroed", in: corrupt(tcp, func(c []byte) { c[36], c[37] = 0, 0 }), ok: true},
		{name: "payload changed", in: corrupt(tcp, func(c []byte) { c[len(c)-1] = 0xab }), ok: true},
		{name: "udp packet", in: udpPacket(t, "10.0.0.1", "10.0.0.2", 64, 64)},
		{name: "fragment", in: corrupt(tcp, func(c []byte) { c[6] = 0x20 })},
		{name: "truncated header", in: corrupt(tcp[:30], func(c []byte) { c[2], c[3] = 0, 30 })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "SetTCPChecksum", "", 1, 1)
			h.PushPackets(0, marked(h, tc.in)...)
			if !tc.ok {
				if h.Outs[0].Count != 0 || h.Read("drops") != "1" {
					t.Fatal("packet not dropped")
				}
				return
			}
			if !transportSumValid(h.Outs[0].Pkts[0].Data()) {
				t.Fatal("TCP checksum invalid")
			}
		})
	}
}
