package verify

import (
	"fmt"
	"net/netip"
	"sort"

	"flowbox/verify/sym"
)

// Verdict is a requirement's answer.
type Verdict uint8

const (
	Satisfied Verdict = iota
	Violated
	Unprovable
)

func (v Verdict) String() string { return [...]string{"SATISFIED", "VIOLATED", "UNPROVABLE"}[v] }

// PathInfo describes one explored path (for --json).
type PathInfo struct {
	Outcome string            `json:"outcome"`
	Reason  string            `json:"reason"`
	Hops    string            `json:"hops"`
	Packet  string            `json:"packet,omitempty"`
	Fields  map[string]string `json:"fields,omitempty"`
	Approx  bool              `json:"approximate,omitempty"`
}

// Answer is the result of checking one requirement.
type Answer struct {
	Requirement    string     `json:"requirement"`
	Verdict        Verdict    `json:"-"`
	VerdictText    string     `json:"verdict"`
	Reason         string     `json:"reason"`
	Counterexample string     `json:"counterexample,omitempty"`
	Path           string     `json:"path,omitempty"`
	Paths          []PathInfo `json:"paths"`
}

// Line renders the answer as one line of `flowbox verify`.
func (a *Answer) Line() string {
	s := a.Verdict.String() + ": " + a.Reason
	if a.Counterexample != "" {
		s += "; counterexample: " + a.Counterexample
	}
	if a.Path != "" {
		s += "; path: " + a.Path
	}
	return s
}

// Checker answers requirements over a graph.
type Checker struct {
	G      *Graph
	Net    *Network // nil for a single configuration
	Limits Limits
	// AllPaths fills Answer.Paths and SecurityResult.Paths (for --json).
	AllPaths bool
	// shapes caches startShapes by (node, output port).
	shapes map[[2]int][]sym.Snap
}

// injection is one start point.
type injection struct {
	node, port int
	kind       int
	state      *sym.State // the packet to inject (nil: sym.NewPacket(kind))
	src        sym.Set    // constraint on the source address (nil: none)
	desc       string
}

func (c *Checker) findElem(n ReqNode) ([]int, error) {
	name := n.Elem
	if n.Box != "" {
		name = n.Box + "/" + n.Elem
	}
	if _, i, ok := c.G.Lookup(name); ok {
		return []int{i}, nil
	}
	// a bare element name in a network: every box's element of that name
	var out []int
	if n.Box == "" {
		for i, nd := range c.G.Nodes {
			if nd.Elem == n.Elem {
				out = append(out, i)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no element %q", name)
	}
	return out, nil
}

func prefixSet(p netip.Prefix) sym.Set {
	a := p.Addr().As4()
	return sym.Prefix(uint32(a[0])<<24|uint32(a[1])<<16|uint32(a[2])<<8|uint32(a[3]), p.Bits())
}

func (c *Checker) injections(n ReqNode) ([]injection, error) {
	switch n.Kind {
	case NodeElem:
		idx, err := c.findElem(n)
		if err != nil {
			return nil, err
		}
		var out []injection
		for _, i := range idx {
			nd := c.G.Nodes[i]
			port := max(n.Port, 0)
			if nd.Entry {
				port = 0
			}
			if port >= nd.NOut {
				return nil, fmt.Errorf("%s has no output %d", nd.Name, port)
			}
			for _, s := range c.startPackets(i, port) {
				out = append(out, injection{node: i, port: port, state: s, desc: nd.Name})
			}
		}
		return out, nil
	}
	if c.Net != nil {
		return c.Net.injections(c.G, n)
	}
	var src sym.Set
	if n.Kind == NodeAddr {
		src = prefixSet(n.Prefix)
	}
	var out []injection
	for _, i := range c.G.Entries() {
		out = append(out, injection{node: i, port: 0, kind: sym.EtherFrame, src: src, desc: c.G.Nodes[i].Name})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the configuration has no FromDevice to inject %s traffic at", n.Text)
	}
	return out, nil
}

// Explore injects an unconstrained packet at every start point of node and
// returns the paths.
func (c *Checker) explore(n ReqNode, flow *ReqHop, watch map[int]bool) ([]*Path, error) {
	injs, err := c.injections(n)
	if err != nil {
		return nil, err
	}
	var all []*Path
	for _, inj := range injs {
		s := inj.state
		if s == nil {
			s = sym.NewPacket(c.G.Vars, inj.kind, "")
		}
		if inj.src != nil && s.Hdr[sym.L3] != sym.Unset {
			src, _ := s.Load(s.Hdr[sym.L3]+sym.IPSrc, 4)
			s.S.In(src, inj.src)
		}
		starts := []*sym.State{s}
		if flow != nil && flow.Flow != nil {
			sn := s.Snapshot()
			starts, _ = s.Split(flow.Flow, s.HdrBases(sn), &sn)
		}
		for _, st := range starts {
			st.Init = st.Snapshot()
			x := &Explorer{G: c.G, Limits: c.Limits, Watch: watch}
			all = append(all, x.Inject(inj.node, inj.port, st)...)
		}
	}
	return all, nil
}

// fieldAt reads a requirement field from a snapshot.
func fieldAt(s *sym.State, sn sym.Snap, name string) (sym.Expr, error) {
	t := &sym.State{Mem: sn.Mem, Head: 0, S: s.S}
	l3, l4 := sn.Hdr[sym.L3], sn.Hdr[sym.L4]
	at := func(base, off, n int32) (sym.Expr, error) {
		if base == sym.Unset {
			return sym.Expr{}, fmt.Errorf("no header for field %s", name)
		}
		return t.Load(base+off, n)
	}
	switch name {
	case "src":
		return at(l3, sym.IPSrc, 4)
	case "dst":
		return at(l3, sym.IPDst, 4)
	case "proto":
		return at(l3, sym.IPProto, 1)
	case "tos":
		return at(l3, sym.IPTOS, 1)
	case "ttl":
		return at(l3, sym.IPTTL, 1)
	case "src port":
		return at(l4, 0, 2)
	case "dst port":
		return at(l4, 2, 2)
	case "seq":
		return at(l4, 4, 4)
	case "ack":
		return at(l4, 8, 4)
	case "payload":
		for i := len(sn.Mem) - 1; i >= 0; i-- {
			if sn.Mem[i].Len == 0 {
				return sn.Mem[i].Val, nil
			}
		}
		return sym.Expr{}, fmt.Errorf("no payload")
	}
	return sym.Expr{}, fmt.Errorf("unknown field %q", name)
}

// describe renders the packet of snapshot sn under model m.
func describe(s *sym.State, sn sym.Snap, m *sym.Assignment) string {
	get := func(f string) (uint32, bool) {
		e, err := fieldAt(s, sn, f)
		if err != nil {
			return 0, false
		}
		return m.Value(e), true
	}
	src, ok1 := get("src")
	dst, ok2 := get("dst")
	if !ok1 || !ok2 {
		return "(no IP header)"
	}
	pr, _ := get("proto")
	ttl, _ := get("ttl")
	sp, _ := get("src port")
	dp, _ := get("dst port")
	name := map[uint32]string{1: "icmp", 6: "tcp", 17: "udp"}[pr]
	if name == "" {
		name = fmt.Sprintf("proto %d", pr)
	}
	if pr == 6 || pr == 17 {
		return fmt.Sprintf("%s %s:%d > %s:%d ttl %d", name, sym.U32(src), sp, sym.U32(dst), dp, ttl)
	}
	return fmt.Sprintf("%s %s > %s ttl %d", name, sym.U32(src), sym.U32(dst), ttl)
}

// match is one way a path meets the requirement's hops.
type match struct {
	path  *Path
	pos   []*sym.Trail // the hop meeting each requirement hop
	state *sym.State
}

// snapAt returns the packet at a requirement hop's match: as it leaves
// the source or an ELEMENT:PORT, as it arrives elsewhere.
func snapAt(t *sym.Trail, n ReqNode, first bool) sym.Snap {
	if (first || n.Kind == NodeElem && n.Port >= 0) && t.Out >= 0 {
		return t.Left
	}
	return t.At
}

// candidates lists the hops after `after` where node n may be met (only
// marked hops: the explorer marks every node requirements can name).
func (c *Checker) candidates(p *Path, n ReqNode, after *sym.Trail) []*sym.Trail {
	var out []*sym.Trail
	last := p.State.Trail
	for _, t := range p.State.Marks() {
		if t.Depth <= after.Depth {
			continue
		}
		h := &t.Hop
		switch n.Kind {
		case NodeElem:
			nd, _, ok := c.G.Lookup(h.Elem)
			if !ok || nd.Elem != n.Elem || (n.Box != "" && nd.Box != n.Box) {
				continue
			}
			if n.Port >= 0 && h.Out != n.Port {
				// EXIT:0 (the paper's "dst:0" of a ToDevice) is the
				// packet leaving through the device.
				if !(n.Port == 0 && h.Out < 0 && exitClasses[h.Class] && (t.Depth != last.Depth || p.Outcome == sym.Delivered)) {
					continue
				}
			}
			out = append(out, t)
		default:
			if !exitClasses[h.Class] {
				continue
			}
			if c.Net != nil {
				if c.Net.exitServes(c.G, h.Elem, n) {
					out = append(out, t)
				}
			} else if t.Depth == last.Depth && p.Outcome == sym.Delivered {
				out = append(out, t)
			}
		}
	}
	return out
}

// watch is the set of nodes requirement r can meet.
func (c *Checker) watch(r *Requirement) map[int]bool {
	w := map[int]bool{}
	for _, h := range r.Hops {
		switch h.Node.Kind {
		case NodeElem:
			idx, _ := c.findElem(h.Node)
			for _, i := range idx {
				w[i] = true
			}
		default:
			for i, n := range c.G.Nodes {
				if n.Exit {
					w[i] = true
				}
			}
		}
	}
	return w
}

// Check answers one requirement.
func (c *Checker) Check(r *Requirement) *Answer {
	a := &Answer{Requirement: r.Text}
	src := r.Hops[0]
	paths, err := c.explore(src.Node, &src, c.watch(r))
	if err != nil {
		a.Verdict, a.Reason = Unprovable, err.Error()
		a.VerdictText = a.Verdict.String()
		return a
	}
	for _, h := range r.Hops[1:] {
		if h.Node.Kind == NodeElem {
			if _, err := c.findElem(h.Node); err != nil {
				a.Verdict, a.Reason = Unprovable, err.Error()
				a.VerdictText = a.Verdict.String()
				return a
			}
		}
	}
	var matches []match
	best, bestDepth := (*Path)(nil), -1
	for _, p := range paths {
		if p.Outcome == sym.Infeasible {
			continue
		}
		depth := c.matchPath(r, p, &matches)
		if depth > bestDepth || depth == bestDepth && best != nil && p.State.Trail.Depth > best.State.Trail.Depth {
			best, bestDepth = p, depth
		}
	}
	unprov, approxPaths := 0, 0
	var unprovEx *Path
	for _, p := range paths {
		if p.Outcome == sym.Unprovable {
			unprov++
			if unprovEx == nil {
				unprovEx = p
			}
		}
		if p.State.S.Approx && p.Outcome != sym.Infeasible {
			approxPaths++
		}
	}
	if c.AllPaths {
		for _, p := range paths {
			a.Paths = append(a.Paths, pathInfo(p))
		}
	}
	target := r.Hops[len(r.Hops)-1].Node.Text
	var exact []match
	for _, m := range matches {
		if !m.state.S.Approx {
			exact = append(exact, m)
		}
	}
	if len(matches) == 0 {
		switch {
		case unprov > 0:
			a.Verdict = Unprovable
			a.Reason = fmt.Sprintf("no proven path reaches %s; %d path(s) unprovable: %s", target, unprov, unprovEx.Reason)
			a.Path = unprovEx.Hops()
		case best == nil:
			a.Verdict = Violated
			a.Reason = fmt.Sprintf("no packet from %s can take any path", src.Node.Text)
			if src.FlowText != "" {
				a.Reason = fmt.Sprintf("no packet %s emits matches %q: no path", src.Node.Text, src.FlowText)
			}
		default:
			a.Verdict = Violated
			a.Reason = fmt.Sprintf("no path reaches %s (%s); e.g. %s: %s", target, Summary(paths), best.Outcome, best.Reason)
			if m, ok := best.State.S.Model(); ok {
				a.Counterexample = describe(best.State, best.State.Init, m)
			}
			a.Path = best.Hops()
		}
		a.VerdictText = a.Verdict.String()
		return a
	}
	// const: on every matching path, each listed field ends its hop as it
	// started it.
	for _, m := range matches {
		for i := 1; i < len(r.Hops); i++ {
			h := r.Hops[i]
			if len(h.Const) == 0 {
				continue
			}
			from := snapAt(m.pos[i-1], r.Hops[i-1].Node, i == 1)
			to := snapAt(m.pos[i], h.Node, false)
			for _, f := range h.Const {
				e0, err0 := fieldAt(m.state, from, f)
				e1, err1 := fieldAt(m.state, to, f)
				if err0 != nil || err1 != nil {
					a.Verdict = Violated
					a.Reason = fmt.Sprintf("field %s is not present on hop %d (%s -> %s)", f, i, r.Hops[i-1].Node.Text, h.Node.Text)
					a.Path = m.path.Hops()
					a.VerdictText = a.Verdict.String()
					return a
				}
				if m.state.S.MustEqual(e0, e1) {
					continue
				}
				if m.state.S.Approx {
					a.Verdict = Unprovable
					a.Reason = fmt.Sprintf("cannot prove %s constant on hop %d: the path is approximate", f, i)
					a.Path = m.path.Hops()
					a.VerdictText = a.Verdict.String()
					return a
				}
				a.Verdict = Violated
				vs := c.G.Vars
				a.Reason = fmt.Sprintf("%s changes between %s and %s: %s becomes %s", f, r.Hops[i-1].Node.Text, h.Node.Text, formatField(vs, f, e0), formatField(vs, f, e1))
				w := m.state.S.Clone()
				if !e0.IsBlob() && !e1.IsBlob() {
					w.Ne(e0, e1)
				}
				if mod, ok := w.Model(); ok {
					a.Counterexample = describe(m.state, m.path.State.Init, mod)
					if !e0.IsBlob() {
						a.Counterexample += fmt.Sprintf(" (%s %s at %s, %s at %s)", f, fieldValue(f, mod.Value(e0)), r.Hops[i-1].Node.Text, fieldValue(f, mod.Value(e1)), h.Node.Text)
					}
				}
				a.Path = m.path.Hops()
				a.VerdictText = a.Verdict.String()
				return a
			}
		}
	}
	w := matches[0]
	if len(exact) > 0 {
		w = exact[0]
	}
	switch {
	case len(exact) == 0:
		a.Verdict = Unprovable
		a.Reason = fmt.Sprintf("only approximate paths reach %s", target)
	case unprov > 0 && hasConst(r):
		a.Verdict = Unprovable
		a.Reason = fmt.Sprintf("holds on the %d proven path(s), but %d path(s) are unprovable: %s", len(matches), unprov, unprovEx.Reason)
	default:
		a.Verdict = Satisfied
		a.Reason = fmt.Sprintf("%d of %d path(s) reach %s", len(matches), countFeasible(paths), target)
		if hasConst(r) {
			a.Reason += ", fields constant on every one"
		}
	}
	if mod, ok := w.state.S.Model(); ok {
		a.Counterexample = ""
		a.Reason += "; e.g. " + describe(w.state, w.path.State.Init, mod)
	}
	a.Path = w.path.Hops()
	a.VerdictText = a.Verdict.String()
	return a
}

func hasConst(r *Requirement) bool {
	for _, h := range r.Hops {
		if len(h.Const) > 0 {
			return true
		}
	}
	return false
}

func countFeasible(ps []*Path) int {
	n := 0
	for _, p := range ps {
		if p.Outcome != sym.Infeasible {
			n++
		}
	}
	return n
}

// matchPath adds every way p meets the hops; it returns how many hops the
// best partial match met.
func (c *Checker) matchPath(r *Requirement, p *Path, out *[]match) int {
	best := 0
	pos := make([]*sym.Trail, len(r.Hops))
	var rec func(i int, after *sym.Trail, s *sym.State)
	rec = func(i int, after *sym.Trail, s *sym.State) {
		if i > best {
			best = i
		}
		if i == len(r.Hops) {
			*out = append(*out, match{path: p, pos: append([]*sym.Trail(nil), pos...), state: s})
			return
		}
		h := r.Hops[i]
		for _, k := range c.candidates(p, h.Node, after) {
			pos[i] = k
			sn := snapAt(k, h.Node, false)
			st := s.Clone()
			if h.Node.Kind == NodeAddr {
				d, err := fieldAt(st, sn, "dst")
				if err != nil || !st.S.In(d, prefixSet(h.Node.Prefix)) {
					continue
				}
			}
			if c.Net != nil && (h.Node.Kind == NodeClient || h.Node.Kind == NodeInternet) {
				d, err := fieldAt(st, sn, "dst")
				if err != nil || !st.S.In(d, c.Net.subnets(h.Node.Kind)) {
					continue
				}
			}
			states := []*sym.State{st}
			if h.Flow != nil {
				states, _ = st.Split(h.Flow, st.HdrBases(sn), &sn)
			}
			for _, t := range states {
				if t.S.Feasible() {
					rec(i+1, k, t)
				}
			}
			if len(*out) > 64 {
				return
			}
		}
	}
	first := p.State.Trail.First
	pos[0] = first
	rec(1, first, p.State)
	return best
}

func pathInfo(p *Path) PathInfo {
	pi := PathInfo{Outcome: p.Outcome.String(), Reason: p.Reason, Hops: p.Hops(), Approx: p.State.S.Approx}
	if p.Outcome == sym.Infeasible {
		return pi
	}
	if m, ok := p.State.S.Model(); ok {
		pi.Packet = describe(p.State, p.State.Init, m)
		end := p.State.Last().At
		pi.Fields = map[string]string{}
		for _, f := range ConstFields {
			if e, err := fieldAt(p.State, end, f); err == nil {
				pi.Fields[f] = p.State.Vars().Format(e)
			}
		}
	}
	return pi
}

// SortedKeys is a helper for stable output.
func SortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Paths returns every feasible path that meets all of r's hops.
func (c *Checker) Paths(r *Requirement) ([]*Path, error) {
	paths, err := c.explore(r.Hops[0].Node, &r.Hops[0], c.watch(r))
	if err != nil {
		return nil, err
	}
	var ms []match
	var out []*Path
	for _, p := range paths {
		if p.Outcome == sym.Infeasible {
			continue
		}
		n := len(ms)
		c.matchPath(r, p, &ms)
		if len(ms) > n {
			q := *p
			q.State = ms[n].state
			out = append(out, &q)
		}
	}
	return out, nil
}

// FieldAt reads a requirement field (src, dst, proto, ...) of the packet
// in snapshot sn.
func FieldAt(s *sym.State, sn sym.Snap, name string) (sym.Expr, error) { return fieldAt(s, sn, name) }

// fieldValue renders a concrete field value: addresses dotted.
func fieldValue(field string, v uint32) string {
	if field == "src" || field == "dst" {
		return sym.U32(v)
	}
	return fmt.Sprint(v)
}

// formatField renders a field's symbolic value; a constant address is
// dotted.
func formatField(vs *sym.Vars, field string, e sym.Expr) string {
	if v, ok := e.IsConst(); ok && (field == "src" || field == "dst") {
		return sym.U32(v)
	}
	return vs.Format(e)
}
