package ip

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestSetIPChecksum(t *testing.T) {
	pkt := udpPacket(t, "10.0.0.1", "10.0.0.2", 64, 64)
	cases := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{name: "zeroed sum", in: corrupt(pkt, func(c []byte) { c[10], c[11] = 0, 0 }), ok: true},
		{name: "changed field", in: corrupt(pkt, func(c []byte) { c[8] = 3; c[15] = 99 }), ok: true},
		{name: "options", in: corrupt(pkt, func(c []byte) { c[0] = 0x46 }), ok: true},
		{name: "ihl too big", in: corrupt(pkt[:22], func(c []byte) { c[0] = 0x46; c[2], c[3] = 0, 22 })},
		{name: "length past data", in: corrupt(pkt, func(c []byte) { c[3] = 200 })},
		{name: "version 6", in: corrupt(pkt, func(c []byte) { c[0] = 0x65 })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "SetIPChecksum", "", 1, 1)
			h.PushPackets(0, marked(h, tc.in)...)
			if !tc.ok {
				if h.Outs[0].Count != 0 || h.Read("drops") != "1" {
					t.Fatal("malformed packet not dropped")
				}
				return
			}
			if !ipSumValid(h.Outs[0].Pkts[0].Data()) {
				t.Fatal("checksum not valid")
			}
		})
	}
}
