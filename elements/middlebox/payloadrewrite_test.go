package middlebox

import "testing"

// A rewrite that shrinks a segment: the receiver's ack of everything it
// got must map back to the end of what the sender sent (not to the end
// of the shorter, rewritten data).
func TestPayloadRewriteShrinkAck(t *testing.T) {
	d := defSpec()
	d.ackf = true
	d.payload = []byte("PORT 10,0,0,1,4,5\r\n")
	h, out := run(t, "PayloadRewrite", `"PORT 10,0,0,1,", "P"`, 2, 0, d.build(t))
	_, tcp := decode(t, out[0])
	if string(tcp.Payload) != "P4,5\r\n" {
		t.Fatalf("payload %q", tcp.Payload)
	}
	r := defSpec()
	r.src, r.dst, r.sport, r.dport = d.dst, d.src, d.dport, d.sport
	r.ackf = true
	r.ack = d.seq + uint32(len(tcp.Payload))
	before := r
	before.ack = d.seq // nothing of the rewritten segment acknowledged yet
	h.PushPackets(1, annotated(h, r.build(t), before.build(t))...)
	got := h.Outs[1].Data()
	for i, want := range []uint32{d.seq + uint32(len(d.payload)), d.seq} {
		if !sumsValid(got[i]) {
			t.Fatalf("reverse %d: bad checksum", i)
		}
		if _, tcp := decode(t, got[i]); tcp.Ack != want {
			t.Errorf("reverse %d: ack %d, want %d", i, tcp.Ack, want)
		}
	}
}

// count is the packets modified: a retransmission of data from before the
// rewrite, in a tracked flow, leaves its sequence number as it was and is
// not counted.
func TestPayloadRewriteCountsModifiedOnly(t *testing.T) {
	d := defSpec()
	d.ackf = true
	d.seq = 2000
	d.payload = []byte("PORT 10,0,0,1,4,5\r\n")
	early := defSpec()
	early.ackf = true
	early.seq = 1000 // before the rewritten segment: delta 0
	early.payload = []byte("USER x\r\n")
	h, out := run(t, "PayloadRewrite", `"PORT 10,0,0,1,", "P"`, 2, 0, d.build(t), early.build(t))
	if len(out) != 2 {
		t.Fatalf("%d packets out", len(out))
	}
	if _, tcp := decode(t, out[1]); tcp.Seq != 1000 {
		t.Fatalf("early segment's seq %d, want 1000 unchanged", tcp.Seq)
	}
	if got := h.Read("count"); got != "1" {
		t.Fatalf("count %s, want 1 (only the rewritten segment)", got)
	}
}
