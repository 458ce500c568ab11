package sym

import (
	"flowbox/elements/classifier/ipexpr"
)

// Bases locates the three headers an ipexpr test can be relative to
// (absolute offsets; Unset when the header is absent, making every test
// on it false).
type Bases struct{ IP, Trans, MAC int32 }

// IPBases are the bases IPClassifier/IPFilter use: the network annotation,
// the transport header located through IHL, and the MAC annotation. ok is
// false when the network annotation is unusable.
func (s *State) IPBases() (Bases, bool) {
	ip, ok := s.AnnoAt(L3)
	if !ok {
		return Bases{Unset, Unset, Unset}, false
	}
	b := Bases{IP: ip, Trans: s.transportAt(ip), MAC: Unset}
	if m, ok := s.AnnoAt(L2); ok {
		b.MAC = m
	}
	return b, true
}

// HdrBases are the bases of the headers the verifier tracks (for
// requirement flows).
func (s *State) HdrBases(sn Snap) Bases {
	return Bases{IP: sn.Hdr[L3], Trans: sn.Hdr[L4], MAC: sn.Hdr[L2]}
}

// transportAt finds the transport header after the IP header at ip through
// its IHL, when the IHL is provably 5 (the only IHL symbolic packets have).
func (s *State) transportAt(ip int32) int32 {
	vh, err := s.Load(ip, 1)
	if err != nil {
		return Unset
	}
	if c, ok := vh.IsConst(); ok {
		if c&0x0f < 5 {
			return Unset
		}
		return ip + 4*int32(c&0x0f)
	}
	c := s.S.Clone()
	if c.In(vh, mustMasked(8, 0x0f, NE, 5)) {
		s.S.Approx = true // an IHL other than 5 is possible: options unmodelled
	}
	return ip + 20
}

type piece struct {
	e       Expr
	mask, v uint32
}

// pieces splits a test into per-field masked comparisons; ok is false
// when some byte is not present (the test is then false).
func (s *State) pieces(t *ipexpr.Test, b Bases, mem []Field, head int32) ([]piece, bool) {
	var base int32
	switch t.Base {
	case ipexpr.BaseIP:
		base = b.IP
	case ipexpr.BaseTransport:
		base = b.Trans
	case ipexpr.BaseMAC:
		base = b.MAC
	}
	if base == Unset || t.Off < 0 || t.Len < 1 || t.Len > 4 {
		return nil, false
	}
	start := base + int32(t.Off)
	if start < head {
		return nil, false
	}
	var ps []piece
	for j := int32(0); j < int32(t.Len); {
		at := start + j
		i := findField(mem, at)
		if i < 0 {
			return nil, false
		}
		f := mem[i]
		n := min(f.end()-at, int32(t.Len)-j)
		shift := uint(8 * (int32(t.Len) - j - n))
		m := t.Mask >> shift & Max(uint8(8*n))
		v := t.Value >> shift & Max(uint8(8*n))
		if m != 0 || t.Op != ipexpr.OpEQ && t.Op != ipexpr.OpNE {
			var e Expr
			if f.Len == 0 {
				e = s.S.Derived(f.Val.V, at-f.Off, n)
			} else {
				lo := uint8(8 * (f.Off + f.Len - at - n))
				e = f.Val.Extract(lo, uint8(8*n))
			}
			ps = append(ps, piece{e, m, v})
		}
		j += n
	}
	return ps, true
}

// applyTest constrains states to satisfy (or, with neg, violate) a test;
// results are disjoint states.
func applyTest(s *State, t *ipexpr.Test, b Bases, sn *Snap, neg bool) []*State {
	mem, head := s.Mem, s.Head
	if sn != nil {
		mem, head = sn.Mem, sn.Head
	}
	ps, present := s.pieces(t, b, mem, head)
	if !present {
		if neg {
			return []*State{s}
		}
		return nil
	}
	op := Cmp(t.Op)
	if neg {
		op = [...]Cmp{NE, EQ, GE, LE, GT, LT}[op]
	}
	if len(ps) == 0 {
		if op.holds(compareU(0, t.Value&t.Mask)) {
			return []*State{s}
		}
		return nil
	}
	in := func(c *State, p piece, o Cmp) bool {
		set, exact := Masked(p.e.W, p.mask, o, p.v)
		if !exact {
			c.S.Approx = true
		}
		return c.S.In(p.e, set)
	}
	if len(ps) == 1 {
		if c := s.Fork(func(c *State) bool { return in(c, ps[0], op) }); c != nil {
			return []*State{c}
		}
		return nil
	}
	var out []*State
	switch op {
	case EQ:
		if c := s.Fork(func(c *State) bool {
			for _, p := range ps {
				if !in(c, p, EQ) {
					return false
				}
			}
			return true
		}); c != nil {
			out = append(out, c)
		}
	default:
		// Lexicographic: the first differing piece decides.
		strict := map[Cmp]Cmp{NE: NE, LT: LT, LE: LT, GT: GT, GE: GT}[op]
		for i := range ps {
			o := strict
			last := i == len(ps)-1
			if last {
				o = op
			}
			if c := s.Fork(func(c *State) bool {
				for _, p := range ps[:i] {
					if !in(c, p, EQ) {
						return false
					}
				}
				return in(c, ps[i], o)
			}); c != nil {
				out = append(out, c)
			}
		}
	}
	return out
}

func compareU(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Split partitions s by the expression n: the states where it holds and
// those where it does not (each list disjoint and feasible). With sn, the
// tests read that snapshot's packet (constraints still go to s).
func (s *State) Split(n ipexpr.Node, b Bases, sn *Snap) (t, f []*State) {
	budget := MaxSplitStates
	return s.split(n, b, sn, &budget)
}

// MaxSplitStates bounds the states one expression may split a packet
// into (an And of Ors multiplies them); past it the rest of the
// expression is not applied and the states are marked approximate.
const MaxSplitStates = 4096

func (s *State) split(n ipexpr.Node, b Bases, sn *Snap, budget *int) (t, f []*State) {
	if *budget <= 0 {
		s.S.Approx = true
		c := s.Clone()
		return []*State{s}, []*State{c}
	}
	switch x := n.(type) {
	case *ipexpr.Const:
		if x.Value {
			return []*State{s}, nil
		}
		return nil, []*State{s}
	case *ipexpr.Not:
		t, f = s.split(x.X, b, sn, budget)
		return f, t
	case *ipexpr.And:
		tx, fx := s.split(x.X, b, sn, budget)
		f = fx
		for _, c := range tx {
			ty, fy := c.split(x.Y, b, sn, budget)
			t = append(t, ty...)
			f = append(f, fy...)
		}
		return t, f
	case *ipexpr.Or:
		tx, fx := s.split(x.X, b, sn, budget)
		t = tx
		for _, c := range fx {
			ty, fy := c.split(x.Y, b, sn, budget)
			t = append(t, ty...)
			f = append(f, fy...)
		}
		return t, f
	case *ipexpr.Cond:
		ti, fi := s.split(x.If, b, sn, budget)
		for _, c := range ti {
			tt, ft := c.split(x.Then, b, sn, budget)
			t, f = append(t, tt...), append(f, ft...)
		}
		for _, c := range fi {
			te, fe := c.split(x.Else, b, sn, budget)
			t, f = append(t, te...), append(f, fe...)
		}
		return t, f
	case *ipexpr.Test:
		t, f = applyTest(s, x, b, sn, false), applyTest(s, x, b, sn, true)
		*budget -= len(t) + len(f)
		return t, f
	}
	s.S.Approx = true
	return []*State{s}, []*State{s.Clone()}
}

// Classify routes s through ordered rules (first match wins) and returns,
// per rule, the states that match it, plus those that match none.
func (s *State) Classify(rules []ipexpr.ASTRule, b Bases) (per [][]*State, none []*State) {
	per = make([][]*State, len(rules))
	rest := []*State{s}
	for i, r := range rules {
		var next []*State
		for _, c := range rest {
			t, f := c.Split(r.Expr, b, nil)
			per[i] = append(per[i], t...)
			next = append(next, f...)
		}
		rest = next
		if len(rest) == 0 {
			break
		}
	}
	return per, rest
}
