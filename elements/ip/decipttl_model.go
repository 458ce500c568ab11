package ip

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

func init() {
	sym.SetModel("DecIPTTL", sym.Model(func(e core.Element) (sym.Behavior, error) {
		d := e.(*DecIPTTL)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			if !d.active {
				x.Emit(0, s)
				return
			}
			ip, err := s.Net()
			if err != nil {
				x.Drop(s, "no IP header annotation")
				return
			}
			if !d.multicast {
				dst, ok := s.MustLoad(x, ip+sym.IPDst, 4)
				if !ok {
					return
				}
				if mc := s.Fork(sym.MaskedIs(dst, 0xf0000000, sym.EQ, 0xe0000000)); mc != nil {
					x.Emit(0, mc)
				}
				if s = s.Fork(sym.MaskedIs(dst, 0xf0000000, sym.NE, 0xe0000000)); s == nil {
					return
				}
			}
			ttl, ok := s.MustLoad(x, ip+sym.IPTTL, 1)
			if !ok {
				return
			}
			exp, live := s.Cases(sym.InSet(ttl, sym.Range(0, 1)), sym.InSet(ttl, sym.Range(2, 255)))
			if exp != nil {
				if x.NOut > 1 {
					x.Emit(1, exp)
				} else {
					x.Drop(exp, "TTL expired")
				}
			}
			if live == nil {
				return
			}
			nt, ok := ttl.Add(0xff)
			if !ok {
				nt = live.Vars().New("ttl-1", 8)
			}
			if err := live.Store(ip+sym.IPTTL, 1, nt); err != nil {
				x.Fail(live, err)
				return
			}
			x.Emit(0, live)
		}), nil
	}))
}
