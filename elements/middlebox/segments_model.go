package middlebox

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// SegSplit and Coalesce turn one packet into several or several into one.
// The verifier follows one packet per path and does not track payload
// lengths, so it cannot tell which segments are split or merged, nor model
// the pieces one by one. The choice made here: the segments the element
// provably leaves alone pass unchanged, exactly; every other segment
// yields ONE approximate path standing for whatever leaves the element
// (the unchanged segment, any of its pieces, or a merged segment), with
// every field that may differ made a fresh value. Requirements through
// such paths answer UNPROVABLE rather than a wrong SATISFIED or VIOLATED.

func init() {
	// SegSplit: SYN, RST and URG segments are never split. Others may be
	// (their payload length is unknown): a piece copies every header but
	// has its own IP length, ID, checksums, sequence number (seq + k*SIZE),
	// flags (FIN and PSH only on the last piece) and payload.
	sym.SetModel("SegSplit", sym.Model(func(e core.Element) (sym.Behavior, error) {
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			t, ip, l4 := untouchedOr(x, s, 13, 0x26, sym.NE, 0) // SYN, RST, URG pass
			if t == nil {
				return
			}
			t.S.Approx = true
			freshField(x, t, ip+sym.IPLen, 2, "ip len")
			freshField(x, t, ip+sym.IPID, 2, "ip id")
			freshField(x, t, ip+sym.IPSum, 2, "ip sum")
			freshField(x, t, l4+4, 4, "seq")
			nf := freshField(x, t, l4+13, 1, "tcp flags")
			t.S.In(nf, mustSet(8, 0x26, sym.EQ, 0))
			freshField(x, t, l4+16, 2, "l4 sum")
			freshPayload(x, t) // options (copied) and data (a slice)
			x.Emit(0, t)
		}), nil
	}))
	// Coalesce: segments with flags other than ACK or ACK+PSH pass
	// unchanged. A candidate may leave unchanged, merged with later
	// segments, or as part of an earlier held segment of the same
	// connection: what leaves then has the same addresses, ports,
	// acknowledgment and options but the earlier segment's link header, TOS,
	// ID, fragment field, TTL, sequence number, data offset byte and urgent
	// pointer, the latest window and PSH, and a merged payload.
	sym.SetModel("Coalesce", sym.Model(func(e core.Element) (sym.Behavior, error) {
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			t, ip, l4 := untouchedOr(x, s, 13, 0xf7, sym.NE, 0x10) // not ACK or ACK+PSH: pass
			if t == nil {
				return
			}
			t.S.Approx = true
			for _, f := range t.Mem {
				if f.Off >= t.Head && f.Off < ip && f.Len != 0 {
					freshField(x, t, f.Off, f.Len, f.Name) // link header
				}
			}
			for _, f := range []struct {
				off, n int32
				name   string
			}{
				{ip + sym.IPTOS, 1, "tos"}, {ip + sym.IPLen, 2, "ip len"}, {ip + sym.IPID, 2, "ip id"},
				{ip + sym.IPTTL, 1, "ttl"}, {ip + sym.IPSum, 2, "ip sum"}, {l4 + 4, 4, "seq"},
				{l4 + 12, 1, "tcp off"}, {l4 + 14, 2, "win"}, {l4 + 16, 2, "l4 sum"}, {l4 + 18, 2, "urg"},
			} {
				freshField(x, t, f.off, f.n, f.name)
			}
			fr := freshField(x, t, ip+sym.IPFrag, 2, "frag")
			t.S.In(fr, mustSet(16, 0x3fff, sym.EQ, 0))
			nf := freshField(x, t, l4+13, 1, "tcp flags")
			t.S.In(nf, mustSet(8, 0xf7, sym.EQ, 0x10))
			freshPayload(x, t)
			x.Emit(0, t)
		}), nil
	}))
}
