package ip

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestSetIPDSCP(t *testing.T) {
	pkt := udpPacket(t, "10.0.0.1", "10.0.0.2", 64, 64)
	cases := []struct {
		config  string
		tos     byte // TOS of the input
		wantTOS byte
	}{
		{config: "46", tos: 0, wantTOS: 46 << 2},
		{config: "DSCP 0", tos: 0xff, wantTOS: 0x03},
		{config: "63", tos: 0x01, wantTOS: 0xfd},
		{config: "10", tos: 0x02, wantTOS: 10<<2 | 2},
	}
	for _, tc := range cases {
		t.Run(tc.config, func(t *testing.T) {
			h := elemtest.New(t, "SetIPDSCP", tc.config, 1, 1)
			in := corrupt(pkt, func(c []byte) { c[1] = tc.tos; fixSum(c) })
			h.PushPackets(0, marked(h, in)...)
			out := h.Outs[0].Pkts[0].Data()
			if out[1] != tc.wantTOS || !ipSumValid(out) {
				t.Fatalf("TOS %#x (want %#x), checksum valid %v", out[1], tc.wantTOS, ipSumValid(out))
			}
		})
	}
	h := elemtest.New(t, "SetIPDSCP", "1", 1, 1)
	if err := h.Write("dscp", "64"); err == nil {
		t.Fatal("DSCP 64 accepted")
	}
	if err := h.Write("dscp", "12"); err != nil || h.Read("dscp") != "12" {
		t.Fatalf("dscp handler: %v %s", err, h.Read("dscp"))
	}
	h.Push(0, pkt) // no annotation
	if h.Read("drops") != "1" {
		t.Fatal("unannotated packet not dropped")
	}
	if _, err := elemtest.Build(t, "SetIPDSCP", "", elemtest.Options{Inputs: 1, Outputs: 1}); err == nil {
		t.Fatal("missing DSCP accepted")
	}
}
