package nat

import "flowbox/appliance/proto"

// seqDelta shifts the sequence numbers of one direction of a TCP flow, as
// an ALG does after changing a payload's length. Bytes before trigger (in
// the sender's original sequence space) keep the previous shift, so
// retransmissions of old data stay consistent.
type seqDelta struct {
	delta, oldDelta int32
	trigger         uint32
}

// seqLess compares sequence numbers modulo 2^32 (RFC 1982).
func seqLess(a, b uint32) bool { return int32(a-b) < 0 }

// newSeq maps a sender's sequence number to the rewritten space.
func (d *seqDelta) newSeq(seq uint32) uint32 {
	if seqLess(seq, d.trigger) {
		return seq + uint32(d.oldDelta)
	}
	return seq + uint32(d.delta)
}

// newAck maps an acknowledgment of rewritten sequence numbers back to the
// sender's original space.
func (d *seqDelta) newAck(ack uint32) uint32 {
	if s := ack - uint32(d.oldDelta); seqLess(s, d.trigger) {
		return s
	}
	return ack - uint32(d.delta)
}

// adjustSeq rewrites the sequence number (direction dir's shift), the
// acknowledgment and the SACK blocks (the other direction's shift), with
// incremental checksum updates.
func adjustSeq(f *Flow, dir int, tcp []byte) {
	own, peer := &f.seq[dir], &f.seq[1-dir]
	sum := tcp[proto.TCPOffSum:]
	seq := proto.U32(tcp, proto.TCPOffSeq)
	replace32(tcp, proto.TCPOffSeq, sum, seq, own.newSeq(seq))
	if tcp[proto.TCPOffFlags]&proto.TCPAck != 0 {
		ack := proto.U32(tcp, proto.TCPOffAck)
		replace32(tcp, proto.TCPOffAck, sum, ack, peer.newAck(ack))
	}
	adjustSACK(tcp, sum, peer)
}

func replace32(b []byte, off int, sum []byte, old, new uint32) {
	if old == new {
		return
	}
	proto.Put32(b, off, new)
	proto.UpdateSum32(sum, old, new)
}

// adjustSACK maps every SACK block edge (they acknowledge the peer's
// rewritten sequence numbers) back like the ACK field. Malformed options
// end the walk; they are left as they are.
func adjustSACK(tcp, sum []byte, peer *seqDelta) {
	end := proto.TCPHeaderEnd(tcp)
	for i, n := proto.TCPMinHeaderLen, 0; i < end; i += n {
		var kind byte
		var ok bool
		if kind, n, ok = proto.NextTCPOption(tcp, i, end); !ok || kind == proto.TCPOptEOL {
			return
		}
		if kind == proto.TCPOptSACK {
			for e := i + 2; e+4 <= i+n; e += 4 {
				edge := proto.U32(tcp, e)
				replace32(tcp, e, sum, edge, peer.newAck(edge))
			}
		}
	}
}
