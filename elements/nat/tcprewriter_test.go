package nat

import (
	"testing"

	"flowbox/appliance/proto"
	"flowbox/elements/elemtest"
)

// sackOpt builds NOP, NOP, SACK with the given edges (left, right pairs).
func sackOpt(edges ...uint32) []byte {
	b := []byte{1, 1, 5, byte(2 + 4*len(edges))}
	for _, e := range edges {
		b = append(b, byte(e>>24), byte(e>>16), byte(e>>8), byte(e))
	}
	return b
}

func tcpRW(t *testing.T) (*elemtest.Harness, *TCPRewriter, *Flow) {
	t.Helper()
	h := newRW(t, "TCPRewriter", napt+", drop", 2, 2)
	pushAt(h, sec, 0, tcp("10.0.0.1", 1234, "10.0.0.2", 80, proto.TCPSyn))
	if len(take(h, 0)) != 1 {
		t.Fatal("SYN not forwarded")
	}
	rw := h.Elem.(*TCPRewriter)
	f, dir, ok := rw.Lookup(key("10.0.0.1", 1234, "10.0.0.2", 80, proto.ProtoTCP))
	if !ok || dir != DirForward {
		t.Fatalf("Lookup: ok %v dir %d", ok, dir)
	}
	return h, rw, f
}

// TestTCPRewriterSeqDelta: after an ALG grows the forward stream by 5
// bytes from sequence 1500 on, forward sequence numbers at or after 1500
// shift by 5 (earlier ones do not), and the reply's ACK and SACK edges
// shift back, all with valid checksums.
func TestTCPRewriterSeqDelta(t *testing.T) {
	h, rw, f := tcpRW(t)
	rw.AddSeqDelta(f, DirForward, 1500, 5)
	if rw.SeqDelta(f, DirForward) != 5 || rw.SeqDelta(f, DirReply) != 0 {
		t.Fatalf("deltas %d/%d", rw.SeqDelta(f, DirForward), rw.SeqDelta(f, DirReply))
	}
	tests := []struct {
		name     string
		port     int
		p        pkt
		wantSeq  uint32
		wantAck  uint32
		wantSACK []uint32
	}{
		{"old data keeps old delta", 0, pkt{src: "10.0.0.1", sport: 1234, dst: "10.0.0.2", dport: 80,
			proto: proto.ProtoTCP, flags: proto.TCPAck, seq: 1400, ack: 7000}, 1400, 7000, nil},
		{"new data shifted", 0, pkt{src: "10.0.0.1", sport: 1234, dst: "10.0.0.2", dport: 80,
			proto: proto.ProtoTCP, flags: proto.TCPAck, seq: 1600, ack: 7000, payload: 20}, 1605, 7000, nil},
		{"reply ack and sack shifted back", 1, pkt{src: "10.0.0.2", sport: 80, dst: "1.0.0.1", dport: 1234,
			proto: proto.ProtoTCP, flags: proto.TCPAck, seq: 7000, ack: 1625,
			opts: sackOpt(1645, 1665, 1400, 1450)}, 7000, 1620, []uint32{1640, 1660, 1400, 1450}},
		{"reply without ACK flag keeps ack field", 1, pkt{src: "10.0.0.2", sport: 80, dst: "1.0.0.1", dport: 1234,
			proto: proto.ProtoTCP, flags: proto.TCPSyn, seq: 7000, ack: 1625}, 7000, 1625, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pushAt(h, 2*sec, tt.port, tt.p)
			out := tt.port // forward leaves on 0, reply on 1
			got := take(h, out)
			if len(got) != 1 {
				t.Fatalf("%d packets on output %d", len(got), out)
			}
			seg := got[0][20:]
			if s := proto.U32(seg, proto.TCPOffSeq); s != tt.wantSeq {
				t.Errorf("seq %d, want %d", s, tt.wantSeq)
			}
			if a := proto.U32(seg, proto.TCPOffAck); a != tt.wantAck {
				t.Errorf("ack %d, want %d", a, tt.wantAck)
			}
			for i, e := range tt.wantSACK {
				if g := proto.U32(seg, 24+4*i); g != e {
					t.Errorf("SACK edge %d = %d, want %d", i, g, e)
				}
			}
			checkSums(t, got[0])
		})
	}
}

func TestTCPRewriterMalformedOptions(t *testing.T) {
	h, rw, f := tcpRW(t)
	rw.AddSeqDelta(f, DirReply, 0, -3)
	for _, opts := range [][]byte{
		{5, 0, 0, 0},             // option length 0
		{1, 5, 40, 0},            // SACK running past the header
		{1, 1, 1, 5},             // kind with no length byte
		{5, 6, 0, 0, 0, 0, 0, 0}, // SACK with a partial block
	} {
		p := tcp("10.0.0.1", 1234, "10.0.0.2", 80, proto.TCPAck)
		p.opts = opts
		pushAt(h, 2*sec, 0, p)
		got := take(h, 0)
		if len(got) != 1 {
			t.Fatalf("options % x: packet dropped", opts)
		}
		checkSums(t, got[0])
	}
}

func TestTCPRewriterIgnoresUDP(t *testing.T) {
	h := newRW(t, "TCPRewriter", napt, 1, 2)
	pushAt(h, sec, 0, udp("10.0.0.1", 1234, "10.0.0.2", 80))
	if n := len(take(h, 0)); n != 0 || h.Read("table_size") != "0" {
		t.Errorf("UDP mapped by TCPRewriter: %d packets, size %s", n, h.Read("table_size"))
	}
	h = newRW(t, "TCPRewriter", "pass 1", 1, 2)
	pushAt(h, sec, 0, udp("10.0.0.1", 1234, "10.0.0.2", 80))
	if n := len(take(h, 1)); n != 1 {
		t.Errorf("pass spec: UDP not passed")
	}
}

// BenchmarkTCPRewriterSeqDelta: one established TCP flow whose reply
// direction has a sequence delta, so every forward packet also gets its
// ACK and two SACK edges adjusted; ns/op is per packet.
func BenchmarkTCPRewriterSeqDelta(b *testing.B) {
	d := tcp("10.0.0.1", 1234, "10.0.0.2", 80, proto.TCPAck)
	d.opts = sackOpt(100, 200)
	frame := d.build()
	setup := func(h *elemtest.Harness) {
		rw := h.Elem.(*TCPRewriter)
		f, _, _ := rw.Lookup(key("10.0.0.1", 1234, "10.0.0.2", 80, proto.ProtoTCP))
		rw.AddSeqDelta(f, DirReply, 0, 7)
	}
	benchEstablished(b, "TCPRewriter", napt, frame, setup)
}

// FuzzRewriterPacket feeds arbitrary bytes to a TCPRewriter with a
// sequence delta installed and to an IPRewriter, on a mapping input and a
// pass input: malformed packets must be dropped or forwarded, never panic.
func FuzzRewriterPacket(f *testing.F) {
	f.Add(tcp("10.0.0.1", 1234, "10.0.0.2", 80, proto.TCPAck).build())
	withSACK := tcp("10.0.0.2", 80, "1.0.0.1", 1234, proto.TCPAck)
	withSACK.opts = sackOpt(1, 2, 3, 4)
	f.Add(withSACK.build())
	f.Add(udp("10.0.0.1", 1234, "10.0.0.2", 80).build())
	f.Add([]byte{0x45, 0, 0, 20})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, class := range []string{"TCPRewriter", "IPRewriter"} {
			h := newRW(t, class, napt+", pass 0, MAPPING_CAPACITY 16", 2, 2)
			pushAt(h, sec, 0, tcp("10.0.0.1", 1234, "10.0.0.2", 80, proto.TCPSyn))
			if rw, ok := h.Elem.(*TCPRewriter); ok {
				fl, _, _ := rw.Lookup(key("10.0.0.1", 1234, "10.0.0.2", 80, proto.ProtoTCP))
				rw.AddSeqDelta(fl, DirForward, 0, 9)
				rw.AddSeqDelta(fl, DirReply, 0, -4)
			}
			take(h, 0)
			h.Push(0, data)
			h.Push(1, data)
		}
	})
}
