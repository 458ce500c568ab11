package ids

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// FlowMeter only counts: every packet leaves unchanged on output 0.
//
// PatternMatch: with one output every packet leaves on it unchanged (the
// scan only counts). With two, the packets that are scanned (IPv4 first
// fragments of TCP, with a sane data offset, or UDP) go to output 1 when a
// pattern occurs in the payload and to output 0 otherwise. The payload is
// an opaque blob to the verifier, whose bytes may also have been read or
// constrained elsewhere on the path (another scan, a classifier), so
// whether it matches is not decided: the packet takes both outputs and
// both paths are approximate (reach through them answers UNPROVABLE, never
// a wrong SATISFIED). Packets that are not scanned stay on output 0,
// exactly.
func init() {
	sym.SetModel("FlowMeter", sym.Identity)
	sym.SetModel("PatternMatch", sym.Model(func(core.Element) (sym.Behavior, error) {
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			if x.NOut < 2 {
				x.Emit(0, s)
				return
			}
			ip := s.Head
			if s.Anno[sym.L3] >= 0 {
				var ok bool
				if ip, ok = s.AnnoAt(sym.L3); !ok {
					x.Emit(0, s) // annotation outside the data: not IP
					return
				}
			}
			vh, err1 := s.Load(ip, 1)
			pr, err2 := s.Load(ip+sym.IPProto, 1)
			fr, err3 := s.Load(ip+sym.IPFrag, 2)
			if err1 != nil || err2 != nil || err3 != nil {
				x.Emit(0, s)
				return
			}
			ipv4 := sym.All(sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40), sym.MaskedIs(vh, 0x0f, sym.GE, 5))
			if o := s.Fork(sym.MaskedIs(vh, 0xf0, sym.NE, 0x40)); o != nil {
				x.Emit(0, o)
			}
			if o := s.Fork(sym.All(sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40), sym.MaskedIs(vh, 0x0f, sym.LT, 5))); o != nil {
				x.Emit(0, o)
			}
			if s = s.Fork(ipv4); s == nil {
				return
			}
			if o := s.Fork(sym.MaskedIs(fr, 0x1fff, sym.NE, 0)); o != nil {
				x.Emit(0, o) // later fragment: not scanned
			}
			if s = s.Fork(sym.MaskedIs(fr, 0x1fff, sym.EQ, 0)); s == nil {
				return
			}
			if o := s.Fork(sym.NotInSet(pr, sym.Point(6).Union(sym.Point(17)))); o != nil {
				x.Emit(0, o)
			}
			var scanned []*sym.State
			if u := s.Fork(sym.InSet(pr, sym.Point(17))); u != nil {
				scanned = append(scanned, u)
			}
			if t := s.Fork(sym.InSet(pr, sym.Point(6))); t != nil {
				l4 := ip + 20
				if vc, ok := vh.IsConst(); ok {
					l4 = ip + 4*int32(vc&0x0f)
				} else if t.Fork(sym.MaskedIs(vh, 0x0f, sym.NE, 5)) != nil {
					t.S.Approx = true // header options: the transport header's place is not known
				}
				if off, err := t.Load(l4+12, 1); err != nil {
					t.S.Approx = true
					scanned = append(scanned, t)
				} else {
					if bad := t.Fork(sym.MaskedIs(off, 0xf0, sym.LT, 0x50)); bad != nil {
						x.Emit(0, bad) // inconsistent data offset: not scanned
					}
					if t = t.Fork(sym.MaskedIs(off, 0xf0, sym.GE, 0x50)); t != nil {
						scanned = append(scanned, t)
					}
				}
			}
			for _, c := range scanned {
				c.S.Approx = true
				x.Emit(1, c.Clone()) // a pattern occurs
				x.Emit(0, c)         // none does
			}
		}), nil
	}))
}
