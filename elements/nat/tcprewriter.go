package nat

import (
	"flowbox/appliance/core"
	"flowbox/appliance/proto"
)

// TCPRewriter is IPRewriter for TCP flows plus per-mapping sequence and
// acknowledgment deltas, which ALG elements (FTPPortMapper) install after
// changing a payload's length. Non-TCP packets take the input's
// non-mappable path (passed only by a pass spec).
type TCPRewriter struct{ Rewriter }

func init() {
	core.Register(core.Class{
		Name: "TCPRewriter", Ports: "1-/1-", Processing: "h/h",
		New: func() core.Element { r := new(TCPRewriter); r.mode = modeTCP; return r },
		Doc: tcpRewriterDoc(),
	})
}

func tcpRewriterDoc() core.Doc {
	d := rewriterDoc("TCPRewriter", "rewrites TCP packets' addresses, ports and sequence numbers",
		"Only TCP flows are mapped; UDP and other packets are passed only by a pass spec. "+
			"Flows use TCP_NODATA_TIMEOUT until the reply side sends, then TCP_TIMEOUT, and "+
			"TCP_DONE_TIMEOUT after RST or FIN in both directions.")
	d.Description += `

ALG elements shift a flow's sequence numbers through the Go API
(Lookup, AddSeqDelta): packets of that direction get their sequence
number shifted, and packets of the other direction get their
acknowledgment number and SACK block edges shifted back, with
incremental checksum updates.`
	return d
}

// Lookup finds the flow whose direction dir has arriving tuple k.
func (r *Rewriter) Lookup(k FlowKey) (f *Flow, dir int, ok bool) {
	fi, dir := r.table.Lookup(k)
	if fi < 0 {
		return nil, 0, false
	}
	return r.table.Flow(fi), dir, true
}

// AddSeqDelta adds delta to the sequence-number shift of direction dir of
// flow f, for data at or after sequence number trigger (in the sender's
// original space); earlier data keeps the previous shift, as Click's
// update_seqno_delta does.
func (r *TCPRewriter) AddSeqDelta(f *Flow, dir int, trigger uint32, delta int32) {
	if f.Key[0].Proto != proto.ProtoTCP {
		return
	}
	d := &f.seq[dir]
	d.oldDelta = d.delta
	d.trigger = trigger
	d.delta += delta
	f.state |= stateSeq
}

// SeqDelta returns the current sequence-number shift of direction dir.
func (r *TCPRewriter) SeqDelta(f *Flow, dir int) int32 { return f.seq[dir].delta }
