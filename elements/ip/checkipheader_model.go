package ip

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// The symbolic packet's lengths and checksums are assumed consistent (the
// verifier does not track byte counts or checksum arithmetic): CheckIPHeader
// is modelled by its version, header-length, total-length and source
// checks, and by the annotations it sets.
func init() {
	sym.SetModel("CheckIPHeader", sym.Model(func(e core.Element) (sym.Behavior, error) {
		c := e.(*CheckIPHeader)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			ip := s.Head + int32(c.offset)
			s.RetypeIP(ip)
			reject := func(t *sym.State, why string) {
				if t == nil {
					return
				}
				if x.NOut > 1 {
					x.Emit(1, t)
					return
				}
				x.Drop(t, why)
			}
			vh, err := s.Load(ip, 1)
			if err != nil {
				reject(s, "tiny packet")
				return
			}
			bad, good := s.Cases(sym.MaskedIs(vh, 0xf0, sym.NE, 0x40), sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40))
			reject(bad, "bad IP version")
			if good == nil {
				return
			}
			s = good
			bad, good = s.Cases(sym.MaskedIs(vh, 0x0f, sym.LT, 5), sym.MaskedIs(vh, 0x0f, sym.GE, 5))
			reject(bad, "bad IP header length")
			if good == nil {
				return
			}
			s = good
			ln, ok := s.MustLoad(x, ip+sym.IPLen, 2)
			if !ok {
				return
			}
			bad, good = s.Cases(sym.InSet(ln, sym.Range(0, 19)), sym.InSet(ln, sym.Range(20, 0xffff)))
			reject(bad, "bad IP length")
			if good == nil {
				return
			}
			s = good
			src, ok := s.MustLoad(x, ip+sym.IPSrc, 4)
			if !ok {
				return
			}
			dst, ok := s.MustLoad(x, ip+sym.IPDst, 4)
			if !ok {
				return
			}
			if len(c.badSrc) > 0 {
				badSet, goodSet := setOf(c.badSrc), setOf(c.goodDst)
				bad := s.Fork(sym.All(sym.InSet(src, badSet), sym.NotInSet(dst, goodSet)))
				reject(bad, "bad source address")
				var rest []*sym.State
				if t := s.Fork(sym.NotInSet(src, badSet)); t != nil {
					rest = append(rest, t)
				}
				if t := s.Fork(sym.All(sym.InSet(src, badSet), sym.InSet(dst, goodSet))); t != nil {
					rest = append(rest, t)
				}
				for _, t := range rest {
					annotate(t, ip, dst)
					x.Emit(0, t)
				}
				return
			}
			annotate(s, ip, dst)
			x.Emit(0, s)
		}), nil
	}))
	sym.SetModel("MarkIPHeader", sym.Model(func(e core.Element) (sym.Behavior, error) {
		m := e.(*MarkIPHeader)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			ip := s.Head + int32(m.offset)
			s.RetypeIP(ip)
			vh, err := s.Load(ip, 1)
			if err != nil {
				x.Drop(s, "too short for an IP header")
				return
			}
			bad, good := s.Cases(sym.MaskedIs(vh, 0x0f, sym.LT, 5), sym.MaskedIs(vh, 0x0f, sym.GE, 5))
			if bad != nil {
				x.Drop(bad, "IHL below 5")
			}
			if good == nil {
				return
			}
			good.Anno[sym.L3], good.Anno[sym.L4] = ip, ip+20
			good.Hdr[sym.L3], good.Hdr[sym.L4] = ip, ip+20
			x.Emit(0, good)
		}), nil
	}))
}

func annotate(s *sym.State, ip int32, dst sym.Expr) {
	s.Anno[sym.L3], s.Anno[sym.L4] = ip, ip+20
	s.Hdr[sym.L3], s.Hdr[sym.L4] = ip, ip+20
	s.SetMeta("dst anno", dst)
}

func setOf(list []uint32) sym.Set {
	var set sym.Set
	for _, v := range list {
		set = set.Union(sym.Point(v))
	}
	return set
}
