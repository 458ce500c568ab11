package ipfrag

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// IPFragmenter: packets without a consistent annotated IPv4 header are
// dropped; packets within the MTU (IP total length <= MTU) leave unchanged
// on output 0, exactly. A larger packet with DF set (and HONOR_DF) goes to
// output 1 (dropped without it), exactly. Other large packets are cut into
// fragments: the verifier follows one packet per path, so they yield one
// approximate path standing for any of the fragments — the IP length,
// fragment field, checksum and everything after the IP header (a later
// fragment carries no transport header) become fresh values.
func init() {
	sym.SetModel("IPFragmenter", sym.Model(func(e core.Element) (sym.Behavior, error) {
		f := e.(*IPFragmenter)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			ip, ok := s.AnnoAt(sym.L3)
			if !ok {
				x.Drop(s, "no IP header annotation")
				return
			}
			vh, err1 := s.Load(ip, 1)
			ln, err2 := s.Load(ip+sym.IPLen, 2)
			fr, err3 := s.Load(ip+sym.IPFrag, 2)
			if err1 != nil || err2 != nil || err3 != nil {
				x.Drop(s, "malformed IP header")
				return
			}
			if bad := s.Fork(sym.MaskedIs(vh, 0xf0, sym.NE, 0x40)); bad != nil {
				x.Drop(bad, "malformed IP header")
			}
			if bad := s.Fork(sym.All(sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40), sym.MaskedIs(vh, 0x0f, sym.LT, 5))); bad != nil {
				x.Drop(bad, "malformed IP header")
			}
			if s = s.Fork(sym.All(sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40), sym.MaskedIs(vh, 0x0f, sym.GE, 5))); s == nil {
				return
			}
			hl := int32(20)
			if vc, ok := vh.IsConst(); ok {
				hl = 4 * int32(vc&0x0f)
			} else if s.Fork(sym.MaskedIs(vh, 0x0f, sym.NE, 5)) != nil {
				s.S.Approx = true // IP options: the header length is not known
			}
			mtu := uint32(f.mtu)
			if short := s.Fork(sym.InSet(ln, sym.Range(0, uint32(hl)-1))); short != nil {
				x.Drop(short, "malformed IP header")
			}
			if fits := s.Fork(sym.InSet(ln, sym.Range(uint32(hl), mtu))); fits != nil {
				x.Emit(0, fits)
			}
			if mtu == 0xffff {
				return
			}
			big := s.Fork(sym.InSet(ln, sym.Range(max(mtu+1, uint32(hl)), 0xffff)))
			if big == nil {
				return
			}
			cannot := func(t *sym.State) {
				if x.NOut > 1 {
					x.Emit(1, t)
					return
				}
				x.Drop(t, "too large and cannot be fragmented")
			}
			if (f.mtu-int(hl))&^7 < 8 {
				cannot(big)
				return
			}
			if f.honorDF {
				if df := big.Fork(sym.MaskedIs(fr, 0x4000, sym.NE, 0)); df != nil {
					cannot(df)
				}
				if big = big.Fork(sym.MaskedIs(fr, 0x4000, sym.EQ, 0)); big == nil {
					return
				}
			}
			big.S.Approx = true
			for _, fl := range []struct {
				off, n int32
				name   string
			}{{sym.IPLen, 2, "ip len"}, {sym.IPFrag, 2, "frag"}, {sym.IPSum, 2, "ip sum"}} {
				if err := big.Store(ip+fl.off, fl.n, big.Vars().New(x.Elem+"."+fl.name, uint8(8*fl.n))); err != nil {
					x.Fail(big, err)
					return
				}
			}
			for _, fl := range big.Mem {
				if fl.Off < ip+hl {
					continue
				}
				if fl.Len == 0 {
					big.Put(fl.Off, 0, fl.Name, big.Vars().New(x.Elem+".payload", 0))
				} else {
					_ = big.Store(fl.Off, fl.Len, big.Vars().New(x.Elem+"."+fl.Name, uint8(8*fl.Len)))
				}
			}
			x.Emit(0, big)
		}), nil
	}))
}
