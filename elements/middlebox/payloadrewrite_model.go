package middlebox

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// PayloadRewrite's model. The payload is an opaque blob, so whether FIND
// occurs in it is unknown, and the sequence delta is per-connection flow
// state left by earlier segments (as a RANDOM ChangeSeq delta is): on the
// connections the element applies to, a forward segment's payload, IP
// length and sequence number become fresh values, and a reverse segment's
// acknowledgment (when ACK is set) and option bytes (when it has options:
// SACK edges) do; those paths are approximate. Const payload or seq
// through them is UNPROVABLE, never SATISFIED. Segments of other
// connections (PORT), reverse segments without ACK or options, non-TCP
// packets and fragments pass unchanged, exactly.
func init() {
	sym.SetModel("PayloadRewrite", sym.Model(func(e core.Element) (sym.Behavior, error) {
		r := e.(*PayloadRewrite)
		return sym.Push(func(x *sym.Ctx, port int, s *sym.State) {
			tcp, other, ip := tcpPaths(x, s)
			for _, o := range other {
				x.Emit(port, o)
			}
			if tcp == nil {
				return
			}
			l4 := ip + 20
			if r.port != 0 {
				at := l4 + 2 // forward: destination port
				if port == 1 {
					at = l4 // reverse: source port
				}
				pt, ok := tcp.MustLoad(x, at, 2)
				if !ok {
					return
				}
				if o := tcp.Fork(sym.NotInSet(pt, sym.Point(uint32(r.port)))); o != nil {
					x.Emit(port, o)
				}
				if tcp = tcp.Fork(sym.InSet(pt, sym.Point(uint32(r.port)))); tcp == nil {
					return
				}
			}
			if port == 0 {
				freshField(x, tcp, l4+4, 4, "seq")
				freshField(x, tcp, ip+sym.IPLen, 2, "ip len")
				freshField(x, tcp, ip+sym.IPSum, 2, "ip sum")
				freshField(x, tcp, l4+16, 2, "l4 sum")
				freshFrom(x, tcp, l4+20)
				x.Emit(port, tcp)
				return
			}
			fl, ok := tcp.MustLoad(x, l4+13, 1)
			if !ok {
				return
			}
			off, ok := tcp.MustLoad(x, l4+12, 1)
			if !ok {
				return
			}
			if same := tcp.Fork(sym.All(sym.MaskedIs(fl, 0x10, sym.EQ, 0), sym.MaskedIs(off, 0xf0, sym.EQ, 0x50))); same != nil {
				x.Emit(port, same) // nothing to shift
			}
			if ack := tcp.Fork(sym.MaskedIs(fl, 0x10, sym.NE, 0)); ack != nil {
				freshField(x, ack, l4+8, 4, "ack")
				freshField(x, ack, l4+16, 2, "l4 sum")
				ack.S.Approx = true
				if o, ok := ack.MustLoad(x, l4+12, 1); ok {
					// SACK edges in options
					if none := ack.Fork(sym.MaskedIs(o, 0xf0, sym.EQ, 0x50)); none != nil {
						x.Emit(port, none)
					}
					if opts := ack.Fork(sym.MaskedIs(o, 0xf0, sym.GT, 0x50)); opts != nil {
						freshFrom(x, opts, l4+20)
						x.Emit(port, opts)
					}
				}
			}
			if opts := tcp.Fork(sym.All(sym.MaskedIs(fl, 0x10, sym.EQ, 0), sym.MaskedIs(off, 0xf0, sym.GT, 0x50))); opts != nil {
				freshField(x, opts, l4+16, 2, "l4 sum")
				freshFrom(x, opts, l4+20)
				x.Emit(port, opts)
			}
		}), nil
	}))
}
