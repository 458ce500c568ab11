package ip

import (
	"bytes"
	"testing"

	"flowbox/elements/elemtest"
)

func TestStripIPHeader(t *testing.T) {
	pkt := udpPacket(t, "10.0.0.1", "10.0.0.2", 64, 64)
	cases := []struct {
		name       string
		net, trans int // annotations to set, -1 unset
		wantStrip  int // bytes removed, -1 dropped
	}{
		{name: "transport annotation", net: 0, trans: 20, wantStrip: 20},
		{name: "network annotation only", net: 0, trans: -1, wantStrip: 20},
		{name: "no annotation", net: -1, trans: -1, wantStrip: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "StripIPHeader", "", 1, 1)
			p := h.Packet(pkt)
			if tc.net >= 0 {
				p.SetNetworkAt(tc.net)
			}
			if tc.trans >= 0 {
				p.SetTransportAt(tc.trans)
			}
			h.PushPackets(0, p)
			if tc.wantStrip < 0 {
				if h.Outs[0].Count != 0 || h.Read("drops") != "1" {
					t.Fatal("packet without annotations not dropped")
				}
				return
			}
			if got := h.Outs[0].Pkts[0].Data(); !bytes.Equal(got, pkt[tc.wantStrip:]) {
				t.Fatalf("got % x, want the UDP segment", got[:8])
			}
		})
	}
}
