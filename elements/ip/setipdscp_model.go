package ip

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// SetIPDSCP: the TOS byte becomes DSCP<<2 | its ECN bits. The packet is
// forked on the two ECN bits, so the new TOS is a constant in each branch
// (exact); the checksum is not tracked. Packets without a consistent
// annotated IPv4 header are dropped.
func init() {
	sym.SetModel("SetIPDSCP", sym.Model(func(e core.Element) (sym.Behavior, error) {
		d := e.(*SetIPDSCP)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			s, ip, ok := consistentHeader(x, s)
			if !ok {
				return
			}
			tos, ok := s.MustLoad(x, ip+sym.IPTOS, 1)
			if !ok {
				return
			}
			for k := uint32(0); k < 4; k++ {
				t := s.Fork(sym.MaskedIs(tos, 0x03, sym.EQ, k))
				if t == nil {
					continue
				}
				if err := t.Store(ip+sym.IPTOS, 1, sym.Const(8, uint32(d.dscp)<<2|k)); err != nil {
					x.Fail(t, err)
					continue
				}
				x.Emit(0, t)
			}
		}), nil
	}))
}
