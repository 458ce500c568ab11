package ip

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestSetUDPChecksum(t *testing.T) {
	udp := udpPacket(t, "10.0.0.1", "10.0.0.2", 64, 61) // odd length
	padded := append(append([]byte(nil), udp...), 0xee, 0xee)
	cases := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{name: "zeroed", in: corrupt(udp, func(c []byte) { c[26], c[27] = 0, 0 }), ok: true},
		{name: "payload changed", in: corrupt(udp, func(c []byte) { c[40] ^= 0x55 }), ok: true},
		{name: "link padding ignored", in: corrupt(padded, func(c []byte) { c[26], c[27] = 0, 0 }), ok: true},
		{name: "tcp packet", in: tcpPacket(t, "10.0.0.1", "10.0.0.2", 0)},
		{name: "later fragment", in: corrupt(udp, func(c []byte) { c[7] = 1 })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "SetUDPChecksum", "", 1, 1)
			h.PushPackets(0, marked(h, tc.in)...)
			if !tc.ok {
				if h.Outs[0].Count != 0 || h.Read("drops") != "1" {
					t.Fatal("packet not dropped")
				}
				return
			}
			out := h.Outs[0].Pkts[0].Data()
			if !transportSumValid(out) {
				t.Fatal("UDP checksum invalid")
			}
			if len(out) != len(tc.in) {
				t.Fatal("length changed")
			}
		})
	}
}
