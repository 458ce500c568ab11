package ip

import (
	"strconv"
	"testing"

	"flowbox/elements/elemtest"
)

// FuzzCheckIPHeader feeds random bytes through CheckIPHeader then DecIPTTL:
// nothing may panic, and what CheckIPHeader passes must be consistent.
func FuzzCheckIPHeader(f *testing.F) {
	good := udpPacket(f, "10.0.0.1", "10.0.0.2", 64, 64)
	f.Add(good, 0)
	f.Add(good[:20], 0)
	f.Add(good[:19], 0)
	f.Add(append(make([]byte, 14), good...), 14)
	f.Add(corrupt(good, func(c []byte) { c[0] = 0x4f }), 0)
	f.Add(corrupt(good, func(c []byte) { c[2], c[3] = 0xff, 0xff }), 0)
	f.Add(corrupt(good, func(c []byte) { c[8] = 1; fixSum(c) }), 0)
	f.Add(tcpPacket(f, "1.2.3.4", "5.6.7.8", 3), 0)
	f.Add([]byte{}, 3)
	f.Fuzz(func(t *testing.T, data []byte, offset int) {
		if offset < 0 || offset > 64 || len(data) > 1600 {
			t.Skip()
		}
		chk := elemtest.New(t, "CheckIPHeader", strconv.Itoa(offset), 1, 2)
		dec := elemtest.New(t, "DecIPTTL", "", 1, 2)
		chk.Push(0, data)
		for _, p := range chk.Outs[0].Pkts {
			ip := p.Network()
			if len(ip) < 20 || int(ip[2])<<8|int(ip[3]) != len(ip) || !ipSumValid(ip) {
				t.Fatalf("CheckIPHeader passed an inconsistent header: % x", ip)
			}
		}
		dec.PushPackets(0, chk.Outs[0].Pkts...)
		for _, p := range dec.Outs[0].Pkts {
			if !ipSumValid(p.Network()) {
				t.Fatalf("DecIPTTL broke the checksum")
			}
		}
	})
}
