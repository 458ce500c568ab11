package nat

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// ICMPPingRewriter follows the rewriters' model (rewriter_model.go): flow
// state is pushed into the packet as metadata, so a reply made later on
// the same path (ICMPPingResponder, IPMirror) finds the mapping its request
// made. The echo identifier takes the place of the source port (request)
// or destination port (reply); the destination port of a request's key is
// 0. The identifier is the upper half of the symbolic transport layout's
// 4-byte field at offset 4: it is read exactly, but comparing it with
// another identifier (matching a mapping) is an extracted comparison the
// solver treats approximately, and writing a new identifier into that
// field is not representable unless it has been split into 2-byte fields:
// those paths are marked approximate. Non-echo ICMP, other protocols and
// fragments are unmapped: passed by a 'pass' spec (or the legacy form's
// output 1), dropped otherwise. As for the other rewriters, mappings made
// by traffic outside the path and timeouts are not modelled.
//
// ICMPRewriter translates ICMP errors quoting a packet rewritten by the
// MAPS elements. Packets that are not ICMP errors (other protocols,
// fragments, other ICMP types) are rejected (output 1, or dropped),
// exactly. For an error the outcome depends on the MAPS tables and on the
// quoted bytes, which the model does not match: the error is both
// rejected and translated (outer addresses and everything quoted become
// fresh values), on approximate paths.
func init() {
	sym.SetModel("ICMPPingRewriter", sym.Model(pingModel))
	sym.SetModel("ICMPRewriter", sym.Model(func(core.Element) (sym.Behavior, error) {
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
			s, ip, l4 := icmpPaths(x, s, func(t *sym.State) { reject(t, "not ICMP") })
			if s == nil {
				return
			}
			tc, err := s.Load(l4, 1)
			if err != nil {
				x.Opaque(s, "ICMP type not representable")
				return
			}
			errs := sym.Point(3).Union(sym.Point(4)).Union(sym.Point(5)).Union(sym.Point(11)).Union(sym.Point(12))
			reject(s.Fork(sym.NotInSet(tc, errs)), "not an ICMP error")
			if s = s.Fork(sym.InSet(tc, errs)); s == nil {
				return
			}
			s.S.Approx = true
			un := s.Clone()
			for _, f := range []struct {
				off  int32
				name string
			}{{ip + sym.IPSrc, "src"}, {ip + sym.IPDst, "dst"}} {
				if err := s.Fresh(f.off, 4, x.Elem+"."+f.name); err != nil {
					x.Fail(s, err)
					return
				}
			}
			dst, _ := s.Load(ip+sym.IPDst, 4)
			s.SetMeta("dst anno", dst)
			_ = s.Fresh(ip+sym.IPSum, 2, x.Elem+".ip sum")
			for _, f := range s.Mem {
				switch {
				case f.Off < l4+2:
				case f.Len == 0:
					s.Put(f.Off, 0, f.Name, s.Vars().New(x.Elem+".payload", 0))
				default:
					_ = s.Fresh(f.Off, f.Len, x.Elem+"."+f.Name)
				}
			}
			x.Emit(0, s)
			reject(un, "no mapping")
		}), nil
	}))
}

// icmpPaths forks s like ipHeader + "ICMP, not a fragment": malformed
// packets are dropped, non-ICMP packets and fragments go to other; it
// returns the ICMP packets with the IP and ICMP header offsets.
func icmpPaths(x *sym.Ctx, s *sym.State, other func(*sym.State)) (*sym.State, int32, int32) {
	ip := s.Head
	if s.Anno[sym.L3] >= 0 {
		var ok bool
		if ip, ok = s.AnnoAt(sym.L3); !ok {
			x.Drop(s, "malformed: no IP header")
			return nil, 0, 0
		}
	}
	vh, err1 := s.Load(ip, 1)
	pr, err2 := s.Load(ip+sym.IPProto, 1)
	fr, err3 := s.Load(ip+sym.IPFrag, 2)
	if err1 != nil || err2 != nil || err3 != nil {
		x.Drop(s, "malformed: no IP header")
		return nil, 0, 0
	}
	if bad := s.Fork(sym.MaskedIs(vh, 0xf0, sym.NE, 0x40)); bad != nil {
		x.Drop(bad, "malformed: not IPv4")
	}
	if bad := s.Fork(sym.All(sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40), sym.MaskedIs(vh, 0x0f, sym.LT, 5))); bad != nil {
		x.Drop(bad, "malformed: bad header length")
	}
	if s = s.Fork(sym.All(sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40), sym.MaskedIs(vh, 0x0f, sym.GE, 5))); s == nil {
		return nil, 0, 0
	}
	if o := s.Fork(sym.NotInSet(pr, sym.Point(1))); o != nil {
		other(o)
	}
	if o := s.Fork(sym.All(sym.InSet(pr, sym.Point(1)), sym.MaskedIs(fr, 0x3fff, sym.NE, 0))); o != nil {
		other(o)
	}
	if s = s.Fork(sym.All(sym.InSet(pr, sym.Point(1)), sym.MaskedIs(fr, 0x3fff, sym.EQ, 0))); s == nil {
		return nil, 0, 0
	}
	l4 := ip + 20
	if vc, ok := vh.IsConst(); ok {
		l4 = ip + 4*int32(vc&0x0f)
	} else if s.Fork(sym.MaskedIs(vh, 0x0f, sym.NE, 5)) != nil {
		s.S.Approx = true // IP options: the ICMP header's place is not known
	}
	return s, ip, l4
}

// storeID writes an echo identifier at l4+4; see the package comment.
func storeID(x *sym.Ctx, s *sym.State, l4 int32, id sym.Expr) {
	if cur, err := s.Load(l4+4, 2); err == nil && cur == id {
		return
	}
	if err := s.Store(l4+4, 2, id); err == nil {
		return
	}
	if f, ok := s.Field(l4 + 4); ok && f.Len == 4 {
		_ = s.Store(l4+4, 4, s.Vars().New(x.Elem+".icmp id/seq", 32))
	}
	s.S.Approx = true
}

func pingModel(e core.Element) (sym.Behavior, error) {
	pr := e.(*ICMPPingRewriter)
	r := &pr.Rewriter
	return sym.Push(func(x *sym.Ctx, port int, s *sym.State) {
		if port < 0 || port >= len(r.specs) {
			x.Drop(s, "no input spec")
			return
		}
		spec := &r.specs[port]
		unmapped := func(t *sym.State) {
			switch {
			case pr.legacy && x.NOut > 1:
				x.Emit(1, t)
			case spec.Kind == SpecPass:
				x.Emit(spec.FOut, t)
			default:
				x.Drop(t, "unmapped ICMP (input spec does not pass it)")
			}
		}
		s, ip, l4 := icmpPaths(x, s, unmapped)
		if s == nil {
			return
		}
		tc, err := s.Load(l4, 2)
		if err != nil {
			x.Opaque(s, "ICMP type/code not representable")
			return
		}
		if o := s.Fork(sym.NotInSet(tc, sym.Point(0x0800).Union(sym.Point(0)))); o != nil {
			unmapped(o)
		}
		id, err := s.Load(l4+4, 2)
		if err != nil {
			x.Opaque(s, "echo identifier not representable")
			return
		}
		src, _ := s.Load(ip+sym.IPSrc, 4)
		dst, _ := s.Load(ip+sym.IPDst, 4)
		zero16, icmpProto := sym.Const(16, 0), sym.Const(8, 1)
		for _, request := range []bool{true, false} {
			want := uint32(0x0800)
			if !request {
				want = 0
			}
			c := s.Fork(sym.InSet(tc, sym.Point(want)))
			if c == nil {
				continue
			}
			have := tuple{src, id, dst, zero16, icmpProto}
			if !request {
				have = tuple{src, zero16, dst, id, icmpProto}
			}
			// write tuple t (addresses and this message's identifier)
			put := func(t *sym.State, tu tuple, out int) {
				_ = t.Store(ip+sym.IPSrc, 4, tu[0])
				_ = t.Store(ip+sym.IPDst, 4, tu[2])
				nid := tu[3]
				if request {
					nid = tu[1]
				}
				storeID(x, t, l4, nid)
				setAnno(t, tu[2])
				x.Emit(out, t)
			}
			// a request continues a forward mapping; a reply answers one
			// (the runtime ignores a mapping met in the other direction)
			rest := []*sym.State{c}
			for _, m := range mappings(c, x.Elem) {
				var next []*sym.State
				for _, st := range rest {
					if request {
						yes, no := matches(st, have, m.fwd)
						if yes != nil {
							put(yes, m.out, spec.FOut)
						}
						next = append(next, no...)
						continue
					}
					yes, no := matches(st, have, m.out.reverse())
					if yes != nil {
						put(yes, m.fwd.reverse(), m.rout)
					}
					next = append(next, no...)
				}
				rest = next
			}
			for _, st := range rest {
				if !request || spec.Kind == SpecPass || spec.Kind == SpecDrop {
					unmapped(st)
					continue
				}
				if spec.Kind == SpecKeep {
					addMapping(st, x.Elem, have, have, spec.ROut)
					x.Emit(spec.FOut, st)
					continue
				}
				out := patternTuple(x, st, have, &spec.Pattern, "icmp id", false)
				addMapping(st, x.Elem, have, out, spec.ROut)
				put(st, out, spec.FOut)
			}
		}
	}), nil
}
