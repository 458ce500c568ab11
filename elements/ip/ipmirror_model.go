package ip

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// consistentHeader is annotatedHeader: the annotated IPv4 header with a
// sane IHL and total length; other packets are dropped.
func consistentHeader(x *sym.Ctx, s *sym.State) (*sym.State, int32, bool) {
	ip, err := s.Net()
	if err != nil {
		x.Drop(s, "no IP header annotation")
		return nil, 0, false
	}
	vh, err := s.Load(ip, 1)
	if err != nil {
		x.Drop(s, "short IP header")
		return nil, 0, false
	}
	ln, err := s.Load(ip+sym.IPLen, 2)
	if err != nil {
		x.Drop(s, "short IP header")
		return nil, 0, false
	}
	okv := sym.All(sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40), sym.MaskedIs(vh, 0x0f, sym.GE, 5), sym.InSet(ln, sym.Range(20, 0xffff)))
	if bad := s.Fork(sym.MaskedIs(vh, 0xf0, sym.NE, 0x40)); bad != nil {
		x.Drop(bad, "inconsistent IP header")
	}
	if bad := s.Fork(sym.All(sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40), sym.InSet(ln, sym.Range(0, 19)))); bad != nil {
		x.Drop(bad, "inconsistent IP header")
	}
	good := s.Fork(okv)
	return good, ip, good != nil
}

func init() {
	sym.SetModel("IPMirror", sym.Model(func(e core.Element) (sym.Behavior, error) {
		m := e.(*IPMirror)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			s, ip, ok := consistentHeader(x, s)
			if !ok {
				return
			}
			src, ok := s.MustLoad(x, ip+sym.IPSrc, 4)
			if !ok {
				return
			}
			dst, ok := s.MustLoad(x, ip+sym.IPDst, 4)
			if !ok {
				return
			}
			_ = s.Store(ip+sym.IPSrc, 4, dst)
			_ = s.Store(ip+sym.IPDst, 4, src)
			if m.dstAnno {
				s.SetMeta("dst anno", src)
			}
			pr, ok := s.MustLoad(x, ip+sym.IPProto, 1)
			if !ok {
				return
			}
			tcpudp := sym.Point(6).Union(sym.Point(17))
			first, later, err := s.FirstFragment(ip)
			if err != nil {
				x.Fail(s, err)
				return
			}
			if later != nil {
				x.Emit(0, later)
			}
			if first == nil {
				return
			}
			if other := first.Fork(sym.NotInSet(pr, tcpudp)); other != nil {
				x.Emit(0, other)
			}
			t := first.Fork(sym.InSet(pr, tcpudp))
			if t == nil {
				return
			}
			ln, ok := t.MustLoad(x, ip+sym.IPLen, 2)
			if !ok {
				return
			}
			if short := t.Fork(sym.InSet(ln, sym.Range(0, 23))); short != nil {
				x.Emit(0, short) // no room for ports: addresses only
			}
			if t = t.Fork(sym.InSet(ln, sym.Range(24, 0xffff))); t == nil {
				return
			}
			l4 := ip + 20
			sp, ok := t.MustLoad(x, l4, 2)
			if !ok {
				return
			}
			dp, ok := t.MustLoad(x, l4+2, 2)
			if !ok {
				return
			}
			if err := t.Store(l4, 2, dp); err != nil {
				x.Fail(t, err)
				return
			}
			_ = t.Store(l4+2, 2, sp)
			x.Emit(0, t)
		}), nil
	}))
	// Checksum setters recompute a value the verifier does not track.
	for _, c := range []struct {
		class string
		off   int32
		l4    bool
	}{{"SetIPChecksum", sym.IPSum, false}, {"SetTCPChecksum", 16, true}, {"SetUDPChecksum", 6, true}} {
		c := c
		sym.SetModel(c.class, sym.Model(func(core.Element) (sym.Behavior, error) {
			return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
				ip, err := s.Net()
				if err != nil {
					x.Drop(s, "no IP header annotation")
					return
				}
				off := ip + c.off
				if c.l4 {
					off = ip + 20 + c.off
				}
				if f, ok := s.Field(off); ok && f.Len == 2 {
					_ = s.Store(off, 2, s.Vars().New(x.Elem+".sum", 16))
				} else if _, err := s.Load(off, 2); err == nil {
					// a part of a wider field (UDP checksum in the generic
					// transport layout): left as is, checksums are not tracked
				}
				x.Emit(0, s)
			}), nil
		}))
	}
}
