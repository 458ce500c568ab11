package ip

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestMarkIPHeader(t *testing.T) {
	pkt := udpPacket(t, "10.0.0.1", "10.0.0.2", 64, 64)
	withOpts := corrupt(pkt, func(c []byte) { c[0] = 0x46 }) // 24-byte header
	cases := []struct {
		name, config string
		in           []byte
		net, trans   int // -1: dropped
	}{
		{name: "offset 0", in: pkt, net: 0, trans: 20},
		{name: "offset 14", config: "14", in: append(make([]byte, 14), pkt...), net: 14, trans: 34},
		{name: "options", in: withOpts, net: 0, trans: 24},
		{name: "too short", in: pkt[:19], net: -1},
		{name: "ihl below 20", in: corrupt(pkt, func(c []byte) { c[0] = 0x43 }), net: -1},
		{name: "ihl past data", in: corrupt(pkt[:30], func(c []byte) { c[0] = 0x4f }), net: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "MarkIPHeader", tc.config, 1, 1)
			h.Push(0, tc.in)
			if tc.net < 0 {
				if h.Outs[0].Count != 0 || h.Read("drops") != "1" {
					t.Fatalf("not dropped (out %d, drops %s)", h.Outs[0].Count, h.Read("drops"))
				}
				return
			}
			p := h.Outs[0].Pkts[0]
			if p.NetworkOffset() != tc.net || p.TransportOffset() != tc.trans || p.Len() != len(tc.in) {
				t.Fatalf("offsets %d/%d len %d, want %d/%d len %d", p.NetworkOffset(), p.TransportOffset(), p.Len(), tc.net, tc.trans, len(tc.in))
			}
		})
	}
}
