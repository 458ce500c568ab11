package ip

import (
	"encoding/binary"
	"testing"

	"flowbox/elements/elemtest"
)

func TestIPMirror(t *testing.T) {
	udp := udpPacket(t, "10.0.0.1", "10.0.0.2", 64, 64)
	tcp := tcpPacket(t, "10.0.0.1", "10.0.0.2", 5)
	cases := []struct {
		name, config string
		in           []byte
		portsSwapped bool
		wantAnno     bool
	}{
		{name: "udp", in: udp, portsSwapped: true, wantAnno: true},
		{name: "tcp", in: tcp, portsSwapped: true, wantAnno: true},
		{name: "later fragment keeps ports", in: corrupt(udp, func(c []byte) { c[7] = 8; fixSum(c) }), wantAnno: true},
		{name: "no dst anno", config: "false", in: udp, portsSwapped: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "IPMirror", tc.config, 1, 1)
			h.PushPackets(0, marked(h, tc.in)...)
			p := h.Outs[0].Pkts[0]
			out := p.Data()
			if string(out[12:16]) != string(tc.in[16:20]) || string(out[16:20]) != string(tc.in[12:16]) {
				t.Fatal("addresses not swapped")
			}
			sp, dp := binary.BigEndian.Uint16(out[20:]), binary.BigEndian.Uint16(out[22:])
			inSp, inDp := binary.BigEndian.Uint16(tc.in[20:]), binary.BigEndian.Uint16(tc.in[22:])
			if swapped := sp == inDp && dp == inSp; swapped != tc.portsSwapped {
				t.Fatalf("ports %d/%d from %d/%d, want swapped=%v", sp, dp, inSp, inDp, tc.portsSwapped)
			}
			if !ipSumValid(out) || (tc.portsSwapped && !transportSumValid(out)) {
				t.Fatal("a checksum became invalid")
			}
			if got := p.Anno.DstIP == [4]byte(out[16:20]); got != tc.wantAnno {
				t.Fatalf("DstIP anno set=%v, want %v", got, tc.wantAnno)
			}
		})
	}
	h := elemtest.New(t, "IPMirror", "", 1, 1)
	h.Push(0, udp)
	if h.Read("drops") != "1" {
		t.Fatal("unannotated packet not dropped")
	}
}
