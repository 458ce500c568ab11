package nat

import (
	"fmt"
	"strings"

	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// The rewriters keep per-flow state; the verifier pushes it into the
// packet (SymNet): a new mapping stores the tuple the packet arrived with
// and the tuple it left with as metadata "ELEM#N.FIELD", and a later packet
// on the same path (a reply made by IPMirror, say) that carries the
// reverse of the stored tuple is rewritten back and sent to the mapping's
// reply output. Timeouts are not modelled: a mapping, once made, lasts.

var tupleFields = [5]string{"src", "sport", "dst", "dport", "proto"}

// tuple is a flow's five header values on a path.
type tuple [5]sym.Expr

func loadTuple(s *sym.State, ip int32) (tuple, error) {
	var t tuple
	var err error
	offs := [5][2]int32{{ip + sym.IPSrc, 4}, {ip + 20, 2}, {ip + sym.IPDst, 4}, {ip + 22, 2}, {ip + sym.IPProto, 1}}
	for i, o := range offs {
		if t[i], err = s.Load(o[0], o[1]); err != nil {
			return t, err
		}
	}
	return t, nil
}

func storeTuple(s *sym.State, ip int32, t tuple) error {
	offs := [4][2]int32{{ip + sym.IPSrc, 4}, {ip + 20, 2}, {ip + sym.IPDst, 4}, {ip + 22, 2}}
	for i, o := range offs {
		if err := s.Store(o[0], o[1], t[i]); err != nil {
			return err
		}
	}
	return nil
}

func (t tuple) reverse() tuple { return tuple{t[2], t[3], t[0], t[1], t[4]} }

// mapping is one flow stored in the packet's metadata.
type mapping struct {
	key      string
	fwd, out tuple // arriving tuple, rewritten tuple (forward direction)
	rout     int
}

func mappings(s *sym.State, elem string) []mapping {
	var ms []mapping
	for n := 0; ; n++ {
		key := fmt.Sprintf("%s#%d", elem, n)
		r, ok := s.GetMeta(key + ".rout")
		if !ok {
			return ms
		}
		m := mapping{key: key}
		rv, _ := r.IsConst()
		m.rout = int(rv)
		for i, f := range tupleFields {
			m.fwd[i], _ = s.GetMeta(key + ".in." + f)
			m.out[i], _ = s.GetMeta(key + ".out." + f)
		}
		ms = append(ms, m)
	}
}

func addMapping(s *sym.State, elem string, fwd, out tuple, rout int) {
	key := fmt.Sprintf("%s#%d", elem, len(mappings(s, elem)))
	for i, f := range tupleFields {
		s.SetMeta(key+".in."+f, fwd[i])
		s.SetMeta(key+".out."+f, out[i])
	}
	s.SetMeta(key+".rout", sym.Const(8, uint32(rout)))
}

// matches forks s into the branch where the packet's tuple equals want and
// the (disjoint) branches where it does not.
func matches(s *sym.State, have, want tuple) (yes *sym.State, no []*sym.State) {
	yes = s.Fork(func(c *sym.State) bool {
		for i := range have {
			if !c.S.Eq(have[i], want[i]) {
				return false
			}
		}
		return true
	})
	for i := range have {
		if s.S.SameClass(have[i], want[i]) {
			continue
		}
		if c := s.Fork(func(c *sym.State) bool {
			for j := 0; j < i; j++ {
				if !c.S.Eq(have[j], want[j]) {
					return false
				}
			}
			return c.S.Ne(have[i], want[i])
		}); c != nil {
			no = append(no, c)
		}
	}
	return yes, no
}

func rewriterModel(e core.Element) (sym.Behavior, error) {
	ro, ok := e.(rewriterOwner)
	if !ok {
		return nil, fmt.Errorf("unexpected element type %T", e)
	}
	r := ro.engine()
	return sym.Push(func(x *sym.Ctx, port int, s *sym.State) {
		if port < 0 || port >= len(r.specs) {
			x.Drop(s, "no input spec")
			return
		}
		spec := &r.specs[port]
		ip, ok := s.AnnoAt(sym.L3)
		if !ok {
			ip = s.Head
		}
		vh, err := s.Load(ip, 1)
		if err != nil {
			x.Drop(s, "malformed: no IP header")
			return
		}
		bad, good := s.Cases(sym.MaskedIs(vh, 0xf0, sym.NE, 0x40), sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40))
		if bad != nil {
			x.Drop(bad, "malformed: not IPv4")
		}
		if good == nil {
			return
		}
		s = good
		pr, ok := s.MustLoad(x, ip+sym.IPProto, 1)
		if !ok {
			return
		}
		mappable := sym.Point(6)
		if r.mode != modeTCP {
			mappable = mappable.Union(sym.Point(17))
		}
		first, later, err := s.FirstFragment(ip)
		if err != nil {
			x.Fail(s, err)
			return
		}
		var unmapped []*sym.State
		if later != nil {
			unmapped = append(unmapped, later)
		}
		if first != nil {
			if t := first.Fork(sym.NotInSet(pr, mappable)); t != nil {
				unmapped = append(unmapped, t)
			}
			first = first.Fork(sym.InSet(pr, mappable))
		}
		defer func() {
			// packets no mapping can cover, after the main line
			for _, t := range unmapped {
				if spec.Kind == SpecPass {
					x.Emit(spec.FOut, t)
				} else {
					x.Drop(t, "not mappable (protocol or fragment)")
				}
			}
		}()
		if first == nil {
			return
		}
		s = first
		have, err := loadTuple(s, ip)
		if err != nil {
			x.Fail(s, err)
			return
		}
		rest := []*sym.State{s}
		for _, m := range mappings(s, x.Elem) {
			var next []*sym.State
			for _, c := range rest {
				// a reply: the reverse of the rewritten tuple
				yes, no := matches(c, have, m.out.reverse())
				if yes != nil {
					if err := storeTuple(yes, ip, m.fwd.reverse()); err != nil {
						x.Fail(yes, err)
					} else {
						setAnno(yes, m.fwd[0])
						x.Emit(m.rout, yes)
					}
				}
				for _, c2 := range no {
					// another packet of the same flow, forward
					yes, no2 := matches(c2, have, m.fwd)
					if yes != nil {
						if err := storeTuple(yes, ip, m.out); err != nil {
							x.Fail(yes, err)
						} else {
							setAnno(yes, m.out[2])
							x.Emit(spec.FOut, yes)
						}
					}
					next = append(next, no2...)
				}
			}
			rest = next
		}
		for _, c := range rest {
			switch spec.Kind {
			case SpecDrop:
				x.Drop(c, "no mapping (input spec drop)")
			case SpecPass:
				x.Emit(spec.FOut, c)
			case SpecKeep:
				addMapping(c, x.Elem, have, have, spec.ROut)
				x.Emit(spec.FOut, c)
			case SpecPattern:
				out := patternTuple(x, c, have, &spec.Pattern, "sport", true)
				if err := storeTuple(c, ip, out); err != nil {
					x.Fail(c, err)
					continue
				}
				addMapping(c, x.Elem, have, out, spec.ROut)
				setAnno(c, out[2])
				x.Emit(spec.FOut, c)
			}
		}
	}), nil
}

// setAnno sets the destination annotation to the new destination, as
// rewrite does.
func setAnno(s *sym.State, dst sym.Expr) { s.SetMeta("dst anno", dst) }

// IsMappingKey reports whether a metadata key is rewriter flow state.
func IsMappingKey(k string) bool { return strings.Contains(k, "#") && strings.Contains(k, ".") }

func init() {
	for _, c := range []string{"IPRewriter", "TCPRewriter", "UDPRewriter"} {
		sym.SetModel(c, sym.Model(rewriterModel))
	}
}

// patternTuple is the tuple a pattern maps have to: fixed fields become
// constants, address and port ranges fresh variables constrained to the
// range (the runtime picks a free one). portName names the source-port
// variable ("icmp id" for ping); withDport is false where the pattern's
// destination port does not apply (ICMP echo).
func patternTuple(x *sym.Ctx, st *sym.State, have tuple, p *Pattern, portName string, withDport bool) tuple {
	out := have
	if !p.KeepSrc {
		if p.SrcLo == p.SrcHi {
			out[0] = sym.Const(32, p.SrcLo)
		} else {
			out[0] = st.Vars().New(x.Elem+".src", 32)
			st.S.In(out[0], sym.Range(p.SrcLo, p.SrcHi))
		}
	}
	if !p.KeepSport {
		if p.SportLo == p.SportHi {
			out[1] = sym.Const(16, uint32(p.SportLo))
		} else {
			out[1] = st.Vars().New(x.Elem+"."+portName, 16)
			st.S.In(out[1], sym.Range(uint32(p.SportLo), uint32(p.SportHi)))
		}
	}
	if !p.KeepDst {
		out[2] = sym.Const(32, p.Dst)
	}
	if withDport && !p.KeepDport {
		out[3] = sym.Const(16, uint32(p.Dport))
	}
	return out
}
