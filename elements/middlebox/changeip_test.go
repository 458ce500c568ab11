package middlebox

import (
	"testing"
)

func udpLike(t *testing.T) []byte {
	b := defSpec().build(t)
	b[9] = 17 // not TCP any more: IP-level elements still apply
	b[10], b[11] = 0, 0
	s := ^uint16(refSum(b[:20], 0))
	b[10], b[11] = byte(s>>8), byte(s)
	return b
}

func TestChangeIPID(t *testing.T) {
	cases := []struct {
		name, config string
		want         []uint16 // IDs of three packets; nil: just differ
	}{
		{"fixed", "4660", []uint16{4660, 4660, 4660}},
		{"increment", "65534, INCREMENT true", []uint16{65534, 65535, 0}},
		{"random", "RANDOM true", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := defSpec().build(t)
			h, out := run(t, "ChangeIPID", tc.config, 1, 0, in, in, udpLike(t))
			var ids []uint16
			for _, b := range out {
				ids = append(ids, uint16(b[4])<<8|uint16(b[5]))
			}
			if tc.want == nil {
				if ids[0] == ids[1] && ids[1] == ids[2] {
					t.Fatalf("random IDs all equal: %v", ids)
				}
				return
			}
			for i := range ids {
				if ids[i] != tc.want[i] {
					t.Fatalf("IDs %v, want %v", ids, tc.want)
				}
			}
			_ = h
		})
	}
	if _, err := buildErr(t, "ChangeIPID", "RANDOM true, INCREMENT true"); err == nil {
		t.Fatal("RANDOM with INCREMENT accepted")
	}
}

func TestChangeDSCPECN(t *testing.T) {
	s := defSpec()
	s.tos = 0xb8 | 0x02 // EF, ECT(0)
	in := s.build(t)
	cases := []struct {
		class, config string
		in            []byte
		tos           byte
		count         string
	}{
		{"ChangeDSCP", "0", in, 0x02, "1"},
		{"ChangeDSCP", "10", in, 10<<2 | 0x02, "1"},
		{"ChangeDSCP", "46", in, 0xba, "0"},
		{"ChangeECN", "0", in, 0xb8, "1"},
		{"ChangeECN", "ce", in, 0xbb, "1"},
		{"ChangeECN", "ect0", in, 0xba, "0"},
		{"ChangeECN", "ect1", udpLike(t), 0x01, "1"},
	}
	for _, tc := range cases {
		t.Run(tc.class+"("+tc.config+")", func(t *testing.T) {
			h, out := run(t, tc.class, tc.config, 1, 0, tc.in)
			if out[0][1] != tc.tos || h.Read("count") != tc.count {
				t.Fatalf("TOS %#x count %s, want %#x %s", out[0][1], h.Read("count"), tc.tos, tc.count)
			}
		})
	}
	for _, bad := range [][2]string{{"ChangeDSCP", "64"}, {"ChangeECN", "4"}, {"ChangeECN", "foo"}} {
		if _, err := buildErr(t, bad[0], bad[1]); err == nil {
			t.Errorf("%s(%s) accepted", bad[0], bad[1])
		}
	}
}

// Every IP-level and TCP-level 1/1 element drops packets without a usable
// IP header annotation and counts them.
func TestMalformedIPDropped(t *testing.T) {
	good := defSpec().build(t)
	for _, ec := range elementConfigs {
		t.Run(ec.class, func(t *testing.T) {
			h := elemtest2(t, ec.class, ec.config, ec.ports)
			bad := h.Packet(good) // no annotation
			short := annotated(h, good[:15])[0]
			badLen := annotated(h, good)[0]
			badLen.Data()[2] = 0xff
			h.PushPackets(0, bad, short, badLen)
			if h.Outs[0].Count != 0 || h.Read("drops") != "3" {
				t.Fatalf("out %d drops %s", h.Outs[0].Count, h.Read("drops"))
			}
		})
	}
}

// A TCP segment with an impossible data offset passes unchanged, counted.
func TestMalformedTCPPassed(t *testing.T) {
	s := defSpec()
	s.syn, s.ackf, s.payload = true, true, make([]byte, 600)
	in := s.build(t)
	in[32] = 0x40 // data offset 16 bytes: below the minimum
	for _, ec := range elementConfigs {
		if ec.ipLevel {
			continue
		}
		t.Run(ec.class, func(t *testing.T) {
			h := elemtest2(t, ec.class, ec.config, ec.ports)
			h.PushPackets(0, annotated(h, in)...)
			out := h.Outs[0].Data()
			if len(out) != 1 || string(out[0]) != string(in) || h.Read("malformed") != "1" {
				t.Fatalf("out %d malformed %s", len(out), h.Read("malformed"))
			}
		})
	}
}

// elementConfigs is one configuration of every element (used by the
// generic tests, the fuzz target and the allocation test).
var elementConfigs = []struct {
	class, config string
	ports         int
	ipLevel       bool
}{
	{"ChangeMSS", "1200, ADD true", 1, false},
	{"ChangeWin", "1000, SCALE 3", 1, false},
	{"ChangeSeq", "12345, FIX_SACK true", 2, false},
	{"ChangeIPID", "INCREMENT true", 1, true},
	{"ChangeDSCP", "10", 1, true},
	{"ChangeECN", "ce", 1, true},
	{"RemoveTCPOpt", "mss, sack, timestamp, wscale", 1, false},
	{"AddTCPOpt", "mptcp, DATA 0081 0102030405060708, SYN false", 1, false},
	{"SegSplit", "100", 1, false},
	{"Coalesce", "3000", 1, false},
	{"PayloadRewrite", "\"abc\", \"abcdef\"", 2, false},
}
