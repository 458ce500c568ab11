package icmp

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// ICMPPingResponder turns an echo request (annotated IPv4, protocol ICMP,
// not a fragment, type 8) into the echo reply: addresses swapped, TTL 255,
// type 0 (the code is kept), destination annotation the old source; the
// checksums are not tracked. Since the type byte is exactly 8, the new
// type/code word is the old one minus 0x0800: exact. Everything else goes
// to output 1, or is dropped without it. The ICMP length check (8 bytes)
// is not modelled: lengths are assumed consistent.
func init() {
	sym.SetModel("ICMPPingResponder", sym.Model(func(core.Element) (sym.Behavior, error) {
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
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
			ip, ok := s.AnnoAt(sym.L3)
			if !ok {
				reject(s, "no IP header annotation")
				return
			}
			vh, err1 := s.Load(ip, 1)
			pr, err2 := s.Load(ip+sym.IPProto, 1)
			fr, err3 := s.Load(ip+sym.IPFrag, 2)
			if err1 != nil || err2 != nil || err3 != nil {
				reject(s, "no IP header")
				return
			}
			isIP := sym.All(sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40), sym.MaskedIs(vh, 0x0f, sym.GE, 5))
			reject(s.Fork(sym.MaskedIs(vh, 0xf0, sym.NE, 0x40)), "not IPv4")
			reject(s.Fork(sym.All(sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40), sym.MaskedIs(vh, 0x0f, sym.LT, 5))), "bad IP header length")
			if s = s.Fork(isIP); s == nil {
				return
			}
			reject(s.Fork(sym.NotInSet(pr, sym.Point(1))), "not ICMP")
			reject(s.Fork(sym.All(sym.InSet(pr, sym.Point(1)), sym.MaskedIs(fr, 0x3fff, sym.NE, 0))), "fragment")
			if s = s.Fork(sym.All(sym.InSet(pr, sym.Point(1)), sym.MaskedIs(fr, 0x3fff, sym.EQ, 0))); s == nil {
				return
			}
			l4 := ip + 20
			if vc, ok := vh.IsConst(); ok {
				l4 = ip + 4*int32(vc&0x0f)
			} else if s.Fork(sym.MaskedIs(vh, 0x0f, sym.NE, 5)) != nil {
				s.S.Approx = true // IP options: the ICMP header's place is not known
			}
			f, ok := s.Field(l4)
			if !ok || f.Len != 1 && f.Len != 2 {
				if _, err := s.Load(l4, 1); err != nil {
					reject(s, "no ICMP header")
				} else {
					x.Opaque(s, "ICMP header not representable")
				}
				return
			}
			tc := f.Val
			typ := tc
			if f.Len == 2 {
				typ = tc.Extract(8, 8)
			}
			reject(s.Fork(sym.NotInSet(typ, sym.Point(8))), "not an echo request")
			if s = s.Fork(sym.InSet(typ, sym.Point(8))); s == nil {
				return
			}
			var ntc sym.Expr
			if f.Len == 1 {
				ntc = sym.Const(8, 0)
			} else if ntc, ok = tc.Add(0x10000 - 0x0800); !ok {
				ntc = s.Vars().New(x.Elem+".icmp type", 16)
				s.S.In(ntc, sym.Range(0, 0xff))
				s.S.Approx = true
			}
			_ = s.Store(l4, f.Len, ntc)
			if c, ok := s.Field(l4 + 2); ok && c.Len == 2 {
				_ = s.Fresh(l4+2, 2, x.Elem+".icmp sum") // updated incrementally
			}
			src, _ := s.Load(ip+sym.IPSrc, 4)
			dst, _ := s.Load(ip+sym.IPDst, 4)
			_ = s.Store(ip+sym.IPSrc, 4, dst)
			_ = s.Store(ip+sym.IPDst, 4, src)
			_ = s.Store(ip+sym.IPTTL, 1, sym.Const(8, 255))
			s.SetMeta("dst anno", src)
			x.Emit(0, s)
		}), nil
	}))
}
