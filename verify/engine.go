// Package verify proves what a Click configuration (or a network of them)
// does to traffic before it is installed, the way SymNet and In-Net do:
// symbolic packets are pushed through every element's model (package
// verify/sym, models next to each element's code), every path is explored,
// and requirements (reach/const, In-Net §4.2) and security rules (§2.1,
// §4.4) are checked on the resulting paths with an interval solver.
package verify

import (
	"fmt"
	"sort"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/lang"
	"flowbox/verify/sym"
)

// Entry and exit classes: where traffic enters and leaves a box.
var (
	entryClasses = map[string]bool{"FromDevice": true, "PollDevice": true, "FromNetfront": true, "FromHost": true}
	exitClasses  = map[string]bool{"ToDevice": true, "ToNetfront": true, "ToHost": true}
)

// Node is one instantiated element of the verified network.
type Node struct {
	Name  string // "elem", or "box/elem" in a network
	Elem  string // element name within its box
	Box   string
	Class string
	Conf  string
	Pos   lang.Pos
	NIn   int
	NOut  int
	Outs  [][]edge
	beh   sym.Behavior
	// Opaque is why the node cannot be verified ("" when it has a model).
	Opaque string
	Entry  bool
	Exit   bool
	Device string // FromDevice/ToDevice device name
}

type edge struct{ to, port int }

// Graph is a set of boxes' elements joined by their connections and by
// links between devices.
type Graph struct {
	Nodes  []*Node
	byName map[string]int
	// links maps an exit node to the entry node it feeds (network links).
	links map[int]int
	Vars  *sym.Vars
}

// Lookup finds a node by full name.
func (g *Graph) Lookup(name string) (*Node, int, bool) {
	i, ok := g.byName[name]
	if !ok {
		return nil, -1, false
	}
	return g.Nodes[i], i, true
}

// NewGraph returns an empty graph.
func NewGraph() *Graph {
	return &Graph{byName: map[string]int{}, links: map[int]int{}, Vars: sym.NewVars()}
}

// ParseConfig parses Click text into a lang.Graph.
func ParseConfig(file string, text []byte) (*lang.Graph, error) {
	return lang.Parse(file, text, lang.Options{KeepUndefined: true})
}

// AddBox instantiates every element of a parsed configuration under box
// ("" for a single configuration).
func (g *Graph) AddBox(box string, lg *lang.Graph) error {
	base := len(g.Nodes)
	nin := make([]int, len(lg.Elements))
	nout := make([]int, len(lg.Elements))
	for _, c := range lg.Connections {
		nout[c.From] = max(nout[c.From], c.FromPort+1)
		nin[c.To] = max(nin[c.To], c.ToPort+1)
	}
	for i, le := range lg.Elements {
		name := le.Name
		if box != "" {
			name = box + "/" + le.Name
		}
		n := &Node{Name: name, Elem: le.Name, Box: box, Class: le.Class, Conf: le.Config, Pos: le.Pos,
			NIn: nin[i], NOut: nout[i], Outs: make([][]edge, nout[i])}
		if err := g.instantiate(n); err != nil {
			return fmt.Errorf("%s: %s :: %s: %w", le.Pos, le.Name, le.Class, err)
		}
		if _, dup := g.byName[name]; dup {
			return fmt.Errorf("duplicate element %s", name)
		}
		g.byName[name] = len(g.Nodes)
		g.Nodes = append(g.Nodes, n)
	}
	for _, c := range lg.Connections {
		n := g.Nodes[base+c.From]
		n.Outs[c.FromPort] = append(n.Outs[c.FromPort], edge{base + c.To, c.ToPort})
	}
	return nil
}

func firstWord(conf string) string {
	args := core.SplitArgs(conf)
	if len(args) == 0 {
		return ""
	}
	f := strings.Fields(args[0])
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func (g *Graph) instantiate(n *Node) error {
	switch {
	case entryClasses[n.Class]:
		n.Entry, n.Device = true, firstWord(n.Conf)
		return nil
	case exitClasses[n.Class]:
		n.Exit, n.Device = true, firstWord(n.Conf)
		return nil
	}
	cls := core.Lookup(n.Class)
	if cls == nil {
		n.Opaque = "unknown element class " + n.Class
		return nil
	}
	e := cls.New()
	e.Core().Setup(n.Name, n.Class, n.Conf, n.Pos.String(), n.NIn, n.NOut)
	var cerr error
	if c, ok := e.(core.Configurer); ok {
		cerr = safeConfigure(c, n.Conf)
	}
	switch m := sym.ModelFor(n.Class).(type) {
	case sym.Model:
		if cerr != nil {
			return cerr
		}
		b, err := safeModel(m, e)
		if err != nil {
			n.Opaque = "model: " + err.Error()
			return nil
		}
		n.beh = b
	case sym.Opaque:
		n.Opaque = m.Reason
	default:
		if cerr != nil {
			return cerr
		}
		n.Opaque = "no verifier model for " + n.Class
	}
	return nil
}

func safeConfigure(c core.Configurer, conf string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("configure panicked: %v", r)
		}
	}()
	return c.Configure(core.NewArgs(conf))
}

func safeModel(m sym.Model, e core.Element) (b sym.Behavior, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panicked: %v", r)
		}
	}()
	return m(e)
}

// Entries lists entry nodes (FromDevice ...), in graph order.
func (g *Graph) Entries() []int {
	var out []int
	for i, n := range g.Nodes {
		if n.Entry {
			out = append(out, i)
		}
	}
	return out
}

// Path is one explored path.
type Path struct {
	Outcome sym.Outcome
	Reason  string
	State   *sym.State
	// At is the node where the path ended.
	At string
}

// Hops renders the path as "a -> b[1] -> c".
func (p *Path) Hops() string {
	var b strings.Builder
	for i, h := range p.State.Hops() {
		if i > 0 {
			b.WriteString(" -> ")
		}
		b.WriteString(h.Elem)
		if h.Out > 0 {
			fmt.Fprintf(&b, "[%d]", h.Out)
		}
	}
	return b.String()
}

// Limits bound exploration.
type Limits struct {
	MaxHops  int // per path (default 4096)
	MaxPaths int // per injection (default 100000)
	MaxSteps int // element visits per injection (default 2,000,000)
}

// Explorer pushes symbolic packets through a graph.
type Explorer struct {
	G      *Graph
	Limits Limits
	// Watch marks the nodes whose visits requirements look up (nil: all).
	Watch  map[int]bool
	paths  []*Path
	count  int
	steps  int
	visits map[[2]int][]sym.Snap // the current DFS path's arrivals
}

func (x *Explorer) watched(node int) bool { return x.Watch == nil || x.Watch[node] }

// Inject starts a state leaving node at output port (an entry's output 0
// for traffic entering the box) and returns every path.
func (x *Explorer) Inject(node, port int, s *sym.State) []*Path {
	x.paths = nil
	x.count, x.steps = 0, 0
	x.visits = map[[2]int][]sym.Snap{}
	n := x.G.Nodes[node]
	s.Trail = nil
	s.PushHop(sym.Hop{Elem: n.Name, Class: n.Class, In: -1, Out: port, At: s.Snapshot(), Left: s.Snapshot()}, true)
	x.send(node, port, s, 0)
	return x.paths
}

func (x *Explorer) end(s *sym.State, o sym.Outcome, at, reason string) {
	x.count++
	if o != sym.Infeasible && o != sym.Dropped && !s.S.Feasible() {
		o, reason = sym.Infeasible, "constraints unsatisfiable"
	}
	x.paths = append(x.paths, &Path{Outcome: o, Reason: reason, State: s, At: at})
}

func (x *Explorer) send(node, port int, s *sym.State, depth int) {
	n := x.G.Nodes[node]
	var outs []edge
	if port < len(n.Outs) {
		outs = n.Outs[port]
	}
	if len(outs) == 0 {
		x.end(s, sym.Dropped, n.Name, fmt.Sprintf("output %d of %s is not connected", port, n.Name))
		return
	}
	for i, e := range outs {
		c := s
		if i < len(outs)-1 {
			c = s.Clone()
		}
		x.arrive(e.to, e.port, c, depth+1)
	}
}

func (x *Explorer) maxHops() int {
	if x.Limits.MaxHops > 0 {
		return x.Limits.MaxHops
	}
	return 4096
}

func (x *Explorer) maxPaths() int {
	if x.Limits.MaxPaths > 0 {
		return x.Limits.MaxPaths
	}
	return 100000
}

func (x *Explorer) arrive(node, in int, s *sym.State, depth int) {
	n := x.G.Nodes[node]
	x.steps++
	maxSteps := x.Limits.MaxSteps
	if maxSteps <= 0 {
		maxSteps = 2000000
	}
	if x.steps > maxSteps {
		x.end(s, sym.Unprovable, n.Name, "exploration budget exhausted")
		return
	}
	if x.count >= x.maxPaths() {
		x.end(s, sym.Unprovable, n.Name, "path limit reached")
		return
	}
	if depth > x.maxHops() {
		x.end(s, sym.Failed, n.Name, "loop: path longer than the hop limit")
		return
	}
	key := [2]int{node, in}
	for _, earlier := range x.visits[key] {
		if sameSnap(earlier, s.Snapshot()) {
			s.PushHop(sym.Hop{Elem: n.Name, Class: n.Class, In: in, Out: -1, At: s.Snapshot()}, x.watched(node))
			x.end(s, sym.Failed, n.Name, fmt.Sprintf("loop: the packet returns to %s input %d unchanged (TTL and checksums aside)", n.Name, in))
			return
		}
	}
	s.PushHop(sym.Hop{Elem: n.Name, Class: n.Class, In: in, Out: -1, At: s.Snapshot()}, x.watched(node) || n.Exit)
	x.visits[key] = append(x.visits[key], s.Snapshot())
	defer func() { x.visits[key] = x.visits[key][:len(x.visits[key])-1] }()
	switch {
	case n.Exit:
		if to, ok := x.G.links[node]; ok {
			// a network link: the frame enters the next box's device
			s.SetLeft(0)
			s.PushHop(sym.Hop{Elem: x.G.Nodes[to].Name, Class: x.G.Nodes[to].Class, In: -1, Out: 0, At: s.Snapshot(), Left: s.Snapshot()}, x.watched(to))
			x.send(to, 0, s, depth+1)
			return
		}
		x.end(s, sym.Delivered, n.Name, "leaves through "+n.Name)
		return
	case n.Entry:
		x.end(s, sym.Dropped, n.Name, n.Class+" has no input")
		return
	case n.Opaque != "":
		x.end(s, sym.Unprovable, n.Name, n.Name+" :: "+n.Class+" is opaque: "+n.Opaque)
		return
	}
	ctx := &sym.Ctx{Elem: n.Name, Class: n.Class, NOut: n.NOut}
	ctx.Out = func(port int, c *sym.State) {
		c.SetLeft(port)
		x.send(node, port, c, depth)
	}
	ctx.Stop = func(c *sym.State, o sym.Outcome, reason string) {
		x.end(c, o, n.Name, n.Name+": "+reason)
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				x.end(s, sym.Unprovable, n.Name, fmt.Sprintf("%s: model panicked: %v", n.Name, r))
			}
		}()
		n.beh.Push(ctx, in, s)
	}()
}

// ignoredInLoops are fields a loop may change without ending it.
var ignoredInLoops = map[string]bool{"ttl": true, "ip sum": true, "l4 sum": true, "udp sum": true}

func sameSnap(a, b sym.Snap) bool {
	if a.Head != b.Head || a.Anno != b.Anno || len(a.Mem) != len(b.Mem) || len(a.Meta) != len(b.Meta) {
		return false
	}
	for i := range a.Mem {
		fa, fb := a.Mem[i], b.Mem[i]
		if fa.Off != fb.Off || fa.Len != fb.Len {
			return false
		}
		if fa.Val != fb.Val && !ignoredInLoops[fa.Name] {
			return false
		}
	}
	for k, v := range a.Meta {
		if w, ok := b.Meta[k]; !ok || (w != v && k != "ttl") {
			return false
		}
	}
	return true
}

// Summary counts paths by outcome.
func Summary(ps []*Path) string {
	c := map[sym.Outcome]int{}
	for _, p := range ps {
		c[p.Outcome]++
	}
	var parts []string
	for _, o := range []sym.Outcome{sym.Delivered, sym.Dropped, sym.Infeasible, sym.Failed, sym.Unprovable} {
		if c[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[o], o))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
