package ipexpr

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Rule is one textual pattern and where matching packets go.
type Rule struct {
	Expr   string
	Output int // output port, or -1 to drop
	// Offset is the number of columns in front of Expr in the
	// configuration argument it came from (an IPFilter action), added to
	// error columns so they point into the argument as written.
	Offset int
}

// ASTRule is one parsed pattern and where matching packets go.
type ASTRule struct {
	Expr   Node
	Output int // output port, or -1 to drop
}

// Options tune compilation.
type Options struct {
	// Raw marks programs over raw packet data (Classifier): base IP is the
	// first data byte and listings call it "data".
	Raw bool
}

// ParseRules parses every rule; errors name the pattern and column.
func ParseRules(rules []Rule) ([]ASTRule, error) {
	out := make([]ASTRule, len(rules))
	for i, r := range rules {
		n, err := Parse(r.Expr)
		if err != nil {
			e := err.(*Error)
			return nil, &Error{Pattern: i, Col: e.Col + r.Offset, Msg: e.Msg}
		}
		out[i] = ASTRule{Expr: n, Output: r.Output}
	}
	return out, nil
}

// Compile parses and compiles rules into one decision program. The
// warnings list unreachable patterns.
func Compile(rules []Rule) (*Program, []string, error) {
	ast, err := ParseRules(rules)
	if err != nil {
		return nil, nil, err
	}
	prog, warns := CompileAST(ast, Options{})
	return prog, warns, nil
}

// Terminal codes in the DAG: node indices are >= 0, codeDrop is -1 and
// code(k) = -2-k names rule k (while compiling) or output k (in programs).
const codeDrop = -1

func code(k int) int32 { return int32(-2 - k) }

// dnode is a DAG node: test, then the yes or no successor.
type dnode struct{ test, yes, no int32 }

// dag hash-conses nodes so that equal sub-decisions are shared.
type dag struct {
	tests   []Test
	testIDs map[Test]int32
	nodes   []dnode
	ids     map[dnode]int32
}

func newDAG(tests []Test, testIDs map[Test]int32) *dag {
	return &dag{tests: tests, testIDs: testIDs, ids: map[dnode]int32{}}
}

func (d *dag) mk(test, yes, no int32) int32 {
	if yes == no {
		return yes // the test cannot change the outcome
	}
	k := dnode{test, yes, no}
	if id, ok := d.ids[k]; ok {
		return id
	}
	id := int32(len(d.nodes))
	d.nodes = append(d.nodes, k)
	d.ids[k] = id
	return id
}

func (d *dag) testID(t Test) int32 {
	if id, ok := d.testIDs[t]; ok {
		return id
	}
	id := int32(len(d.tests))
	d.tests = append(d.tests, t)
	d.testIDs[t] = id
	return id
}

// build compiles n so that it continues at t when true and f when false.
func (d *dag) build(n Node, t, f int32) int32 {
	switch x := n.(type) {
	case *Const:
		if x.Value {
			return t
		}
		return f
	case *Not:
		return d.build(x.X, f, t)
	case *And:
		return d.build(x.X, d.build(x.Y, t, f), f)
	case *Or:
		return d.build(x.X, t, d.build(x.Y, t, f))
	case *Cond:
		return d.build(x.If, d.build(x.Then, t, f), d.build(x.Else, t, f))
	case *Test:
		return d.mk(d.testID(*x), t, f)
	}
	return f
}

// CompileAST compiles parsed rules, first match wins, unmatched packets
// dropped, into one program. Each rule continues into the next one on
// failure; then tests already decided on the path are removed, so a
// packet never evaluates the same fact twice.
func CompileAST(rules []ASTRule, opt Options) (*Program, []string) {
	d := newDAG(nil, map[Test]int32{})
	root := int32(codeDrop)
	for i := len(rules) - 1; i >= 0; i-- {
		root = d.build(rules[i].Expr, code(i), root)
	}
	if s := newSimplifier(d); s != nil {
		if r, ok := s.run(root); ok {
			d, root = s.out, r
		}
	}
	warns := unreachable(d, root, len(rules))
	d, root = mapOutputs(d, root, rules)
	return emit(d, root, opt), warns
}

// unreachable lists the rules no packet can reach.
func unreachable(d *dag, root int32, nrules int) []string {
	seen := make([]bool, nrules)
	visited := make([]bool, len(d.nodes))
	var walk func(n int32)
	walk = func(n int32) {
		if n < 0 {
			if n != codeDrop {
				seen[-2-n] = true
			}
			return
		}
		if visited[n] {
			return
		}
		visited[n] = true
		walk(d.nodes[n].yes)
		walk(d.nodes[n].no)
	}
	walk(root)
	var warns []string
	for i, ok := range seen {
		if !ok {
			warns = append(warns, fmt.Sprintf("pattern %d is unreachable (no packet can match it before an earlier pattern does)", i))
		}
	}
	return warns
}

// mapOutputs replaces rule terminals by output terminals; rules sharing an
// output (IPFilter's many allows) then share nodes.
func mapOutputs(d *dag, root int32, rules []ASTRule) (*dag, int32) {
	out := newDAG(d.tests, d.testIDs)
	memo := make(map[int32]int32, len(d.nodes))
	var remap func(n int32) int32
	remap = func(n int32) int32 {
		if n < 0 {
			if n == codeDrop || rules[-2-n].Output < 0 {
				return codeDrop
			}
			return code(rules[-2-n].Output)
		}
		if r, ok := memo[n]; ok {
			return r
		}
		nd := d.nodes[n]
		r := out.mk(nd.test, remap(nd.yes), remap(nd.no))
		memo[n] = r
		return r
	}
	return out, remap(root)
}

// ---- path simplification ----

// maxSimplifyTests bounds the quadratic implication table.
const maxSimplifyTests = 2048

type fact struct {
	test int32
	val  bool
}

// simplifier rebuilds a DAG dropping tests whose outcome follows from
// tests already taken on the path (proto == 17 makes proto == 6 false).
type simplifier struct {
	in, out *dag
	reach   [][]uint64 // per node: the tests reachable from it
	decides [][]uint64 // per fact (2*test+val): tests it decides
	memo    map[string]int32
	budget  int
}

func newSimplifier(d *dag) *simplifier {
	nt := len(d.tests)
	if nt == 0 || nt > maxSimplifyTests {
		return nil
	}
	words := (nt + 63) / 64
	s := &simplifier{in: d, out: newDAG(d.tests, d.testIDs), memo: map[string]int32{},
		budget: 8*len(d.nodes) + 4096}
	s.decides = make([][]uint64, 2*nt)
	for a := range nt {
		for v := range 2 {
			set := make([]uint64, words)
			for b := range nt {
				if _, ok := decide(&d.tests[a], v == 1, &d.tests[b]); ok {
					set[b/64] |= 1 << (b % 64)
				}
			}
			s.decides[2*a+v] = set
		}
	}
	// Children are always created before their parents.
	s.reach = make([][]uint64, len(d.nodes))
	for i, nd := range d.nodes {
		set := make([]uint64, words)
		set[nd.test/64] |= 1 << (nd.test % 64)
		for _, c := range [2]int32{nd.yes, nd.no} {
			if c >= 0 {
				for w := range set {
					set[w] |= s.reach[c][w]
				}
			}
		}
		s.reach[i] = set
	}
	return s
}

func (s *simplifier) run(root int32) (r int32, ok bool) {
	defer func() {
		if recover() == errBudget {
			r, ok = root, false
		}
	}()
	return s.walk(root, nil), true
}

type budgetError struct{}

var errBudget = &budgetError{}

func (s *simplifier) walk(n int32, facts []fact) int32 {
	if n < 0 {
		return n
	}
	facts = s.relevant(n, facts)
	key := memoKey(n, facts)
	if r, ok := s.memo[key]; ok {
		return r
	}
	nd := s.in.nodes[n]
	t := &s.in.tests[nd.test]
	for _, f := range facts {
		if v, ok := decide(&s.in.tests[f.test], f.val, t); ok {
			next := nd.no
			if v {
				next = nd.yes
			}
			r := s.walk(next, facts)
			s.memo[key] = r
			return r
		}
	}
	if s.budget--; s.budget < 0 {
		panic(errBudget)
	}
	y := s.walk(nd.yes, withFact(facts, fact{nd.test, true}))
	z := s.walk(nd.no, withFact(facts, fact{nd.test, false}))
	r := s.out.mk(nd.test, y, z)
	s.memo[key] = r
	return r
}

// relevant keeps the facts that decide some test reachable from n.
func (s *simplifier) relevant(n int32, facts []fact) []fact {
	reach := s.reach[n]
	out := facts[:0:0]
	for _, f := range facts {
		v := 0
		if f.val {
			v = 1
		}
		for w, bitsw := range s.decides[2*int(f.test)+v] {
			if bitsw&reach[w] != 0 {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// withFact returns a new slice: facts plus f, sorted by test.
func withFact(facts []fact, f fact) []fact {
	out := make([]fact, 0, len(facts)+1)
	out = append(out, facts...)
	out = append(out, f)
	slices.SortFunc(out, func(a, b fact) int { return int(a.test) - int(b.test) })
	return out
}

func memoKey(n int32, facts []fact) string {
	b := make([]byte, 4, 4+4*len(facts))
	binary.LittleEndian.PutUint32(b, uint32(n))
	for _, f := range facts {
		v := uint32(f.test) << 1
		if f.val {
			v |= 1
		}
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return string(b)
}

// decide reports whether knowing test a came out aval determines test b,
// and how. It must stay sound under the short-packet rule: a false test
// does not prove its bytes exist.
func decide(a *Test, aval bool, b *Test) (bool, bool) {
	if *a == *b {
		return aval, true
	}
	if a.Base != b.Base {
		return false, false
	}
	// a is x == v over bytes covering all of b's mask: b's value is known.
	if aval && a.Op == OpEQ && b.Off >= a.Off && b.Off+b.Len <= a.Off+a.Len {
		sh := 8 * uint(a.Off+a.Len-b.Off-b.Len)
		if uint64(b.Mask)<<sh&^uint64(a.Mask) == 0 {
			x := uint32(uint64(a.Value)>>sh) & b.Mask
			return compare(x, b.Op, b.Value), true
		}
	}
	if a.Off != b.Off || a.Len != b.Len || a.Mask != b.Mask {
		return false, false
	}
	// Same field: reason on the sets of values each test accepts.
	ia, ib := truthSet(a), truthSet(b)
	if aval {
		if ia.subset(ib) { // every value a allows makes b true
			return true, true
		}
		if ia.disjoint(ib) {
			return false, true
		}
	} else if ib.subset(ia) { // b true would have made a true
		return false, true
	}
	return false, false
}

// valueSet is an interval [lo, hi], or its complement when out is set.
type valueSet struct {
	lo, hi uint64
	out    bool
}

func truthSet(t *Test) valueSet {
	v, max := uint64(t.Value), uint64(t.Mask)
	switch t.Op {
	case OpEQ:
		return valueSet{lo: v, hi: v}
	case OpNE:
		return valueSet{lo: v, hi: v, out: true}
	case OpLT:
		return valueSet{lo: 0, hi: v - 1} // v > 0 for canonical tests
	case OpLE:
		return valueSet{lo: 0, hi: v}
	case OpGT:
		return valueSet{lo: v + 1, hi: max}
	}
	return valueSet{lo: v, hi: max}
}

// subset reports s ⊆ o (for o with out set, s must avoid o's interval).
func (s valueSet) subset(o valueSet) bool {
	switch {
	case !s.out && !o.out:
		return s.lo >= o.lo && s.hi <= o.hi
	case !s.out && o.out:
		return s.hi < o.lo || s.lo > o.hi
	case s.out && o.out:
		return o.lo >= s.lo && o.hi <= s.hi
	}
	return false // a complement is never inside an interval here
}

func (s valueSet) disjoint(o valueSet) bool {
	switch {
	case !s.out && !o.out:
		return s.hi < o.lo || o.hi < s.lo
	case !s.out:
		return s.lo >= o.lo && s.hi <= o.hi
	case !o.out:
		return o.lo >= s.lo && o.hi <= s.hi
	}
	return false
}
