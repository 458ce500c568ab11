package sym

import (
	"fmt"
	"sort"
	"strings"
)

// Expr is a symbolic value of W bits: bits [Lo, Lo+W) of (variable V + C)
// taken modulo 2^VW, or the constant C when V is 0. W == 0 with V != 0 is
// an opaque blob (a payload): only its identity is known. Exprs are small
// values; building one never allocates.
type Expr struct {
	V  int32
	C  uint32
	VW uint8
	Lo uint8
	W  uint8
}

// Const is the w-bit constant v.
func Const(w uint8, v uint32) Expr { return Expr{C: v & Max(w), VW: w, W: w} }

// IsConst reports whether e is a constant, and its value.
func (e Expr) IsConst() (uint32, bool) {
	if e.V != 0 {
		return 0, false
	}
	return e.C, true
}

// IsBlob reports whether e is an opaque blob.
func (e Expr) IsBlob() bool { return e.V != 0 && e.W == 0 }

// Whole reports whether e is a variable plus a constant (no extraction).
func (e Expr) Whole() bool { return e.Lo == 0 && e.W == e.VW }

// Add is e + c (mod 2^W); ok is false for extracted or blob values.
func (e Expr) Add(c uint32) (Expr, bool) {
	if e.V == 0 {
		return Const(e.W, e.C+c), true
	}
	if !e.Whole() || e.W == 0 {
		return e, false
	}
	e.C = (e.C + c) & Max(e.VW)
	return e, true
}

// Extract is bits [lo, lo+w) of e.
func (e Expr) Extract(lo, w uint8) Expr {
	if e.V == 0 {
		return Const(w, e.C>>lo)
	}
	e.Lo += lo
	e.W = w
	return e
}

// Vars names the variables of one verification run; ids start at 1.
type Vars struct {
	names  []string
	widths []uint8
	hints  map[int32]uint32
}

// fieldHints are readable default values for counterexamples (used when
// the path allows them).
var fieldHints = map[string]uint32{"src": 0x0a000001, "dst": 0x0a000002, "ttl": 64, "src port": 1024,
	"dst port": 80, "ver/ihl": 0x45, "ip len": 60, "tcp off": 0x50, "ethertype": 0x0800, "proto": 17}

// NewVars starts an empty registry.
func NewVars() *Vars { return &Vars{names: []string{""}, widths: []uint8{0}} }

// New makes a fresh variable of w bits (0: blob).
func (vs *Vars) New(name string, w uint8) Expr {
	id := int32(len(vs.names))
	vs.names = append(vs.names, name)
	vs.widths = append(vs.widths, w)
	for k, v := range fieldHints {
		if strings.HasSuffix(name, k) && (len(name) == len(k) || name[len(name)-len(k)-1] == ' ' || name[len(name)-len(k)-1] == '.') {
			if vs.hints == nil {
				vs.hints = map[int32]uint32{}
			}
			vs.hints[id] = v
		}
	}
	return Expr{V: id, VW: w, W: w}
}

// Name is a variable's name.
func (vs *Vars) Name(id int32) string {
	if id <= 0 || int(id) >= len(vs.names) {
		return "?"
	}
	return vs.names[id]
}

// Format renders an expression with variable names.
func (vs *Vars) Format(e Expr) string {
	if e.V == 0 {
		return fmt.Sprint(e.C)
	}
	if e.W == 0 {
		return vs.Name(e.V)
	}
	s := vs.Name(e.V)
	if e.C != 0 {
		if e.C > Max(e.VW)/2 {
			s = fmt.Sprintf("(%s-%d)", s, (Max(e.VW)-e.C)+1)
		} else {
			s = fmt.Sprintf("(%s+%d)", s, e.C)
		}
	}
	if !e.Whole() {
		s = fmt.Sprintf("%s[%d:%d]", s, e.Lo, e.Lo+e.W)
	}
	return s
}

type link struct {
	root int32
	off  uint32 // var = root + off
}

type neq struct{ a, b Expr }

type derivedKey struct {
	blob int32
	off  int32
	n    int32
}

// Solver holds one path's constraints: a domain (interval set) per
// equivalence class of variables, classes joined by equalities with
// constant offsets, and disequalities between classes. All arithmetic is
// modulo 2^width. Solvers are cloned when a path forks.
type Solver struct {
	vars    *Vars
	link    map[int32]link
	dom     map[int32]Set
	neqs    []neq
	derived map[derivedKey]int32
	// Approx is set when a constraint could not be represented exactly
	// (it was dropped: the path is over-approximated).
	Approx bool
	dead   bool
}

// NewSolver starts an unconstrained solver over vs.
func NewSolver(vs *Vars) *Solver {
	return &Solver{vars: vs, link: map[int32]link{}, dom: map[int32]Set{}}
}

// Vars is the variable registry.
func (s *Solver) Vars() *Vars { return s.vars }

// Clone copies the solver for a forked path.
func (s *Solver) Clone() *Solver {
	c := &Solver{vars: s.vars, Approx: s.Approx, dead: s.dead,
		link: make(map[int32]link, len(s.link)), dom: make(map[int32]Set, len(s.dom))}
	for k, v := range s.link {
		c.link[k] = v
	}
	for k, v := range s.dom {
		c.dom[k] = v
	}
	if len(s.neqs) > 0 {
		c.neqs = append([]neq(nil), s.neqs...)
	}
	if len(s.derived) > 0 {
		c.derived = make(map[derivedKey]int32, len(s.derived))
		for k, v := range s.derived {
			c.derived[k] = v
		}
	}
	return c
}

func (s *Solver) width(v int32) uint8 {
	if v <= 0 || int(v) >= len(s.vars.widths) {
		return 0
	}
	return s.vars.widths[v]
}

// find returns the class root of v and the offset: v = root + off.
func (s *Solver) find(v int32) (int32, uint32) {
	var off uint32
	for i := 0; i < 1<<16; i++ {
		l, ok := s.link[v]
		if !ok {
			break
		}
		off += l.off
		v = l.root
	}
	return v, off & Max(s.width(v))
}

// Domain is the set of values of the variable class root r.
func (s *Solver) domain(r int32) Set {
	if d, ok := s.dom[r]; ok {
		return d
	}
	return Full(s.width(r))
}

// Dead reports whether the constraints are known unsatisfiable.
func (s *Solver) Dead() bool { return s.dead }

// lift turns a constraint on bits [lo, lo+w) of a vw-bit value into a set
// over the whole value.
func lift(set Set, lo, w, vw uint8) (Set, bool) {
	if lo == 0 && w == vw {
		return set, true
	}
	hiBits := int(vw) - int(lo) - int(w)
	if hiBits < 0 || hiBits > 20 {
		return nil, false
	}
	copies := 1 << uint(hiBits)
	if copies*len(set) > MaxIntervals {
		return nil, false
	}
	low := Max(lo)
	if lo == 0 {
		low = 0
	}
	out := make([]Iv, 0, copies*len(set))
	for h := 0; h < copies; h++ {
		top := uint32(h) << (lo + w)
		if lo+w >= 32 {
			top = 0
		}
		for _, iv := range set {
			out = append(out, Iv{top | iv.Lo<<lo, top | iv.Hi<<lo | low})
		}
	}
	return normalize(out), true
}

// In constrains e to take a value in set (a set over e's W bits) and
// reports whether the constraints are still satisfiable as far as domains
// show.
func (s *Solver) In(e Expr, set Set) bool {
	if s.dead {
		return false
	}
	if e.V == 0 {
		if !set.Contains(e.C & Max(e.W)) {
			s.dead = true
		}
		return !s.dead
	}
	if e.W == 0 {
		s.Approx = true
		return true
	}
	ls, ok := lift(set, e.Lo, e.W, e.VW)
	if !ok {
		s.Approx = true
		return true
	}
	r, off := s.find(e.V)
	// value = r + off + C; so r ∈ ls - (off + C)
	k := (off + e.C) & Max(e.VW)
	rs := ls.Shift(Max(e.VW)-k+1, e.VW)
	nd := s.domain(r).Intersect(rs)
	s.dom[r] = nd
	if nd.Empty() {
		s.dead = true
	}
	return !s.dead
}

// Eq constrains a == b.
func (s *Solver) Eq(a, b Expr) bool {
	if s.dead {
		return false
	}
	if a.IsBlob() || b.IsBlob() {
		if a.V == b.V {
			return true
		}
		s.Approx = true
		return true
	}
	if c, ok := b.IsConst(); ok {
		return s.In(a, Point(c&Max(a.W)))
	}
	if c, ok := a.IsConst(); ok {
		return s.In(b, Point(c&Max(b.W)))
	}
	if !a.Whole() || !b.Whole() || a.VW != b.VW {
		s.Approx = true
		return true
	}
	ra, oa := s.find(a.V)
	rb, ob := s.find(b.V)
	ka := (oa + a.C) & Max(a.VW) // a = ra + ka
	kb := (ob + b.C) & Max(a.VW)
	if ra == rb {
		if ka != kb {
			s.dead = true
		}
		return !s.dead
	}
	// ra = rb + kb - ka
	d := (kb - ka) & Max(a.VW)
	da := s.domain(ra)
	s.link[ra] = link{rb, d}
	delete(s.dom, ra)
	nd := s.domain(rb).Intersect(da.Shift(Max(a.VW)-d+1, a.VW))
	s.dom[rb] = nd
	if nd.Empty() {
		s.dead = true
	}
	return !s.dead
}

// Ne constrains a != b.
func (s *Solver) Ne(a, b Expr) bool {
	if s.dead {
		return false
	}
	if a.IsBlob() || b.IsBlob() {
		if a.V == b.V {
			s.dead = true
		}
		return !s.dead
	}
	if c, ok := b.IsConst(); ok {
		return s.In(a, Point(c&Max(a.W)).Complement(a.W))
	}
	if c, ok := a.IsConst(); ok {
		return s.In(b, Point(c&Max(b.W)).Complement(b.W))
	}
	if !a.Whole() || !b.Whole() || a.VW != b.VW {
		s.Approx = true
		return true
	}
	s.neqs = append(s.neqs, neq{a, b})
	return s.Feasible()
}

// Derived returns the variable standing for n bytes at off in blob (the
// same variable every time on this path).
func (s *Solver) Derived(blob int32, off, n int32) Expr {
	k := derivedKey{blob, off, n}
	if id, ok := s.derived[k]; ok {
		return Expr{V: id, VW: uint8(8 * n), W: uint8(8 * n)}
	}
	if s.derived == nil {
		s.derived = map[derivedKey]int32{}
	}
	e := s.vars.New(fmt.Sprintf("%s[%d:%d]", s.vars.Name(blob), off, off+n), uint8(8*n))
	s.derived[k] = e.V
	// Overlapping slices of one payload are independent variables: an
	// over-approximation.
	for k2 := range s.derived {
		if k2.blob == blob && k2 != k && k2.off < off+n && off < k2.off+k2.n {
			s.Approx = true
		}
	}
	return e
}

// Feasible reports whether some assignment satisfies every constraint.
func (s *Solver) Feasible() bool {
	if s.dead {
		return false
	}
	if len(s.neqs) == 0 {
		return true
	}
	_, ok := s.Model()
	if !ok {
		s.dead = true
	}
	return ok
}

// Assignment is one satisfying assignment: root class values. Variables absent
// from it take the smallest value of their domain.
type Assignment struct {
	s    *Solver
	vals map[int32]uint32
}

// Model finds a satisfying assignment.
func (s *Solver) Model() (*Assignment, bool) {
	m := &Assignment{s: s, vals: map[int32]uint32{}}
	if s.dead {
		return m, false
	}
	if len(s.neqs) == 0 {
		return m, true
	}
	type nq struct {
		ra, rb int32
		d      uint32 // ra + ka != rb + kb  <=>  ra != rb + d
		w      uint8
	}
	var cs []nq
	roots := map[int32]bool{}
	for _, n := range s.neqs {
		ra, oa := s.find(n.a.V)
		rb, ob := s.find(n.b.V)
		w := n.a.VW
		ka, kb := (oa+n.a.C)&Max(w), (ob+n.b.C)&Max(w)
		if ra == rb {
			if ka == kb {
				return m, false
			}
			continue
		}
		cs = append(cs, nq{ra, rb, (kb - ka) & Max(w), w})
		roots[ra], roots[rb] = true, true
	}
	order := make([]int32, 0, len(roots))
	for r := range roots {
		order = append(order, r)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	steps := 0
	var try func(i int) bool
	try = func(i int) bool {
		if i == len(order) {
			return true
		}
		r := order[i]
		d := s.domain(r)
		deg := 0
		for _, c := range cs {
			if c.ra == r || c.rb == r {
				deg++
			}
		}
		for n := uint64(0); n <= uint64(deg); n++ {
			steps++
			if steps > 100000 {
				s.Approx = true
				return true
			}
			v, ok := d.Nth(n)
			if !ok {
				break
			}
			good := true
			for _, c := range cs {
				var other int32
				var want uint32 // forbidden value for r
				switch {
				case c.ra == r:
					other = c.rb
					ov, set := m.vals[other]
					if !set {
						continue
					}
					want = (ov + c.d) & Max(c.w)
				case c.rb == r:
					other = c.ra
					ov, set := m.vals[other]
					if !set {
						continue
					}
					want = (ov - c.d) & Max(c.w)
				default:
					continue
				}
				if v == want {
					good = false
					break
				}
			}
			if !good {
				continue
			}
			m.vals[r] = v
			if try(i + 1) {
				return true
			}
			delete(m.vals, r)
		}
		return false
	}
	return m, try(0)
}

// Value evaluates e under the model (blobs evaluate to their id).
func (m *Assignment) Value(e Expr) uint32 {
	if e.V == 0 {
		return e.C & Max(e.W)
	}
	if e.W == 0 {
		return uint32(e.V)
	}
	r, off := m.s.find(e.V)
	rv, ok := m.vals[r]
	if !ok {
		d := m.s.domain(r)
		if h, hok := m.s.vars.hints[r]; hok && d.Contains(h) {
			rv = h
		} else if !d.Empty() {
			rv = d.Min()
		}
	}
	v := (rv + off + e.C) & Max(e.VW)
	return (v >> e.Lo) & Max(e.W)
}

// Range is the set of values e can take as far as its class domain shows
// (exact for whole expressions; full for extracted ones).
func (s *Solver) Range(e Expr) Set {
	if e.V == 0 {
		return Point(e.C & Max(e.W))
	}
	if !e.Whole() || e.W == 0 {
		return Full(e.W)
	}
	r, off := s.find(e.V)
	return s.domain(r).Shift(off+e.C, e.VW)
}

// SameClass reports whether a and b are provably equal by the equalities
// (same class and offset) or identical.
func (s *Solver) SameClass(a, b Expr) bool {
	if a == b {
		return true
	}
	if a.V == 0 || b.V == 0 || !a.Whole() || !b.Whole() || a.VW != b.VW {
		return false
	}
	ra, oa := s.find(a.V)
	rb, ob := s.find(b.V)
	return ra == rb && (oa+a.C)&Max(a.VW) == (ob+b.C)&Max(a.VW)
}

// MustEqual reports whether a == b holds for every assignment satisfying
// the constraints (a != b is unsatisfiable).
func (s *Solver) MustEqual(a, b Expr) bool {
	if s.SameClass(a, b) {
		return true
	}
	if a.IsBlob() || b.IsBlob() {
		return false
	}
	c := s.Clone()
	if !c.Ne(a, b) {
		return !c.Approx
	}
	return false
}

// Related reports whether a and b are bound to the same variable class
// (whatever the offsets): b's value is carried by a, not merely able to
// coincide with it.
func (s *Solver) Related(a, b Expr) bool {
	if a.V == 0 || b.V == 0 {
		return false
	}
	if a.IsBlob() || b.IsBlob() {
		return a.V == b.V
	}
	ra, _ := s.find(a.V)
	rb, _ := s.find(b.V)
	return ra == rb
}
