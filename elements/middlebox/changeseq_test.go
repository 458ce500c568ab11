package middlebox

import (
	"testing"

	"github.com/google/gopacket/layers"
)

func TestChangeSeq(t *testing.T) {
	fwd := defSpec()
	fwd.ackf, fwd.payload = true, []byte("data")
	rev := defSpec()
	rev.src, rev.dst, rev.sport, rev.dport = fwd.dst, fwd.src, fwd.dport, fwd.sport
	rev.ackf, rev.ack = true, 1000+100000+4
	rev.opts = []layers.TCPOption{{OptionType: 1}, {OptionType: 1}, sackOpt(1000+100000+50, 1000+100000+60)}
	revNoAck := rev
	revNoAck.ackf = false
	cases := []struct {
		name, config string
		port         int
		in           []byte
		seq, ack     uint32
		sack         []uint32
	}{
		{"forward", "100000", 0, fwd.build(t), 101000, 5000, nil},
		{"forward negative", "-1000", 0, fwd.build(t), 0, 5000, nil},
		{"forward wraps", "0xffffffff", 0, fwd.build(t), 999, 5000, nil},
		{"reverse ack, SACK left alone", "100000", 1, rev.build(t), 1000, 1004, []uint32{101050, 101060}},
		{"reverse, SACK fixed", "100000, FIX_SACK true", 1, rev.build(t), 1000, 1004, []uint32{1050, 1060}},
		{"reverse without ACK flag", "100000", 1, revNoAck.build(t), 1000, 101004, []uint32{101050, 101060}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, out := run(t, "ChangeSeq", tc.config, 2, tc.port, tc.in)
			_, tcp := decode(t, out[0])
			if tcp.Seq != tc.seq || tcp.Ack != tc.ack {
				t.Fatalf("seq %d ack %d, want %d %d", tcp.Seq, tcp.Ack, tc.seq, tc.ack)
			}
			if tc.sack != nil {
				s := opt(tcp, layers.TCPOptionKindSACK)
				for i, e := range tc.sack {
					if g := uint32(s[4*i])<<24 | uint32(s[4*i+1])<<16 | uint32(s[4*i+2])<<8 | uint32(s[4*i+3]); g != e {
						t.Fatalf("SACK edge %d = %d, want %d", i, g, e)
					}
				}
			}
		})
	}
}

// With RANDOM, both directions of a connection use the same delta, and
// different connections (almost surely) different ones.
func TestChangeSeqRandom(t *testing.T) {
	h := elemtest2(t, "ChangeSeq", "RANDOM true", 2)
	fwd := defSpec()
	fwd.syn = true
	h.PushPackets(0, annotated(h, fwd.build(t))...)
	_, f := decode(t, h.Outs[0].Data()[0])
	delta := f.Seq - fwd.seq
	rev := defSpec()
	rev.src, rev.dst, rev.sport, rev.dport = fwd.dst, fwd.src, fwd.dport, fwd.sport
	rev.syn, rev.ackf, rev.ack = true, true, f.Seq+1
	h.PushPackets(1, annotated(h, rev.build(t))...)
	_, r := decode(t, h.Outs[1].Data()[0])
	if r.Ack != fwd.seq+1 {
		t.Fatalf("reverse ack %d, want %d (delta %d)", r.Ack, fwd.seq+1, delta)
	}
	other := fwd
	other.sport = 4321
	h.PushPackets(0, annotated(h, other.build(t))...)
	_, o := decode(t, h.Outs[0].Data()[1])
	if o.Seq-other.seq == delta {
		t.Fatalf("two connections got the same delta %d", delta)
	}
	for _, b := range append(h.Outs[0].Data(), h.Outs[1].Data()...) {
		if !sumsValid(b) {
			t.Fatal("bad checksum")
		}
	}
}
