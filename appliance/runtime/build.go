// Package runtime is flowbox's router: it builds an element graph from a
// parsed configuration (instantiating, configuring and connecting
// elements, resolving push/pull with Click's rules), serves handlers, and
// runs the graph on pinned worker threads.
package runtime

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"flowbox/appliance/core"
	"flowbox/appliance/lang"
	"flowbox/appliance/suggest"
)

// Node is one element of a built router with its build-time facts.
type Node struct {
	Elem  core.Element
	Class *core.Class
	Decl  *lang.Element
	Index int
	// port kinds as declared (before resolution), for the `ports` handler
	declIn, declOut []core.PortKind
	// connections touching each port, for error checks and `ports`
	inConns, outConns [][]int
}

// Router is a built configuration.
type Router struct {
	Nodes  []*Node
	Conns  []lang.Connection
	Graph  *lang.Graph
	byName map[string]*Node

	errs    lang.ErrorList
	sources map[string][]byte

	sched *scheduler

	traceMu sync.Mutex
	tracer  *tracer

	// Log receives element messages; defaults to stderr.
	Log func(string)
}

// BuildOptions control building.
type BuildOptions struct {
	// Threads is the number of worker threads (default 1).
	Threads int
	// Log receives element messages (default: stderr).
	Log func(string)
	// SkipInitialize builds and checks without initializing elements
	// (flowbox check): no files opened, no devices touched.
	SkipInitialize bool
	// Approve, if set, is asked before a configuration is installed (at
	// first build and at every hot reload): a non-nil error rejects it.
	// Operator policy hooks (Lua on_config) plug in here.
	Approve func(g *lang.Graph) error
}

// RejectedError is a configuration refused by the Approve policy.
type RejectedError struct{ Reason string }

func (e *RejectedError) Error() string { return "configuration rejected by policy: " + e.Reason }

// Build instantiates the graph. All errors found are returned together as
// a lang.ErrorList (every one with file:line:col and a caret snippet).
func Build(g *lang.Graph, opt BuildOptions) (*Router, error) {
	r := &Router{Graph: g, Conns: g.Connections, byName: map[string]*Node{}, sources: g.Sources, Log: opt.Log}
	if r.Log == nil {
		r.Log = logStderr
	}
	if opt.Approve != nil {
		if err := opt.Approve(g); err != nil {
			return nil, err
		}
	}
	r.instantiate()
	if len(r.errs) > 0 {
		return nil, r.errList()
	}
	r.countPorts()
	r.configure()
	r.resolvePushPull()
	r.checkConnections()
	if len(r.errs) > 0 {
		return nil, r.errList()
	}
	r.connect()
	if len(r.errs) > 0 {
		return nil, r.errList()
	}
	threads := opt.Threads
	if threads < 1 {
		threads = 1
	}
	r.sched = newScheduler(r, threads)
	for _, n := range r.Nodes {
		n.Elem.Core().SetRouter(r)
		if n.Elem.Core().IsStopper() {
			r.sched.stoppers++
		}
	}
	r.sched.assign()
	if r.resolve(); len(r.errs) > 0 {
		return nil, r.errList()
	}
	if !opt.SkipInitialize {
		r.initialize()
		if len(r.errs) > 0 {
			// Release what the elements that did initialize acquired
			// (devices, files): a failed build or reload leaks nothing.
			r.cleanup(nil)
			return nil, r.errList()
		}
	}
	return r, nil
}

func (r *Router) errList() error {
	r.errs.Sort()
	return r.errs
}

func (r *Router) errorf(pos lang.Pos, format string, args ...any) {
	r.errs = append(r.errs, lang.NewError(r.sources, pos, format, args...))
}

// describe names an element as Click's messages do: 'name :: Class'.
func (n *Node) describe() string {
	return fmt.Sprintf("'%s :: %s'", n.Decl.Name, n.Decl.Class)
}

func (r *Router) instantiate() {
	for i, d := range r.Graph.Elements {
		cls := core.Lookup(d.Class)
		if cls == nil {
			r.errorf(d.Pos, "unknown element class '%s'%s", d.Class, suggestClass(d.Class))
			continue
		}
		n := &Node{Elem: cls.New(), Class: cls, Decl: d, Index: i}
		r.Nodes = append(r.Nodes, n)
		r.byName[d.Name] = n
	}
}

// suggestClass offers the closest registered class name for a typo.
func suggestClass(name string) string {
	best := suggest.Closest(name, 4, core.ClassNames())
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean '%s'?)", best)
}

// countPorts sets each element's port counts from its connections and
// checks them against the class's port-count spec.
func (r *Router) countPorts() {
	usedIn := make([]int, len(r.Nodes))
	usedOut := make([]int, len(r.Nodes))
	for _, c := range r.Conns {
		usedOut[c.From] = max(usedOut[c.From], c.FromPort+1)
		usedIn[c.To] = max(usedIn[c.To], c.ToPort+1)
	}
	for i, n := range r.Nodes {
		spec, _ := core.ParsePortSpec(n.Class.Ports)
		nin := max(usedIn[i], spec.In.Min)
		if spec.In.Max >= 0 && usedIn[i] > spec.In.Max {
			r.errorf(n.Decl.Pos, "%s has no input %d (it has %s)", n.describe(), usedIn[i]-1, portWord(spec.In, "input"))
			nin = spec.In.Max
		}
		outs := spec.OutputsFor(nin)
		nout := max(usedOut[i], outs.Min)
		if outs.Max >= 0 && usedOut[i] > outs.Max {
			r.errorf(n.Decl.Pos, "%s has no output %d (it has %s)", n.describe(), usedOut[i]-1, portWord(outs, "output"))
			nout = outs.Max
		}
		n.Elem.Core().Setup(n.Decl.Name, n.Decl.Class, n.Decl.Config, n.Decl.Pos.String(), nin, nout)
		n.inConns = make([][]int, nin)
		n.outConns = make([][]int, nout)
		n.declIn = make([]core.PortKind, nin)
		n.declOut = make([]core.PortKind, nout)
		for p := 0; p < nin; p++ {
			n.declIn[p] = core.ProcessingKind(n.Class.Processing, false, p)
		}
		for p := 0; p < nout; p++ {
			n.declOut[p] = core.ProcessingKind(n.Class.Processing, true, p)
		}
	}
	for ci, c := range r.Conns {
		from, to := r.Nodes[c.From], r.Nodes[c.To]
		if c.FromPort < len(from.outConns) {
			from.outConns[c.FromPort] = append(from.outConns[c.FromPort], ci)
		}
		if c.ToPort < len(to.inConns) {
			to.inConns[c.ToPort] = append(to.inConns[c.ToPort], ci)
		}
	}
}

func portWord(pr core.PortRange, word string) string {
	switch {
	case pr.Max < 0:
		return fmt.Sprintf("at least %d %ss", pr.Min, word)
	case pr.Min == pr.Max && pr.Max == 1:
		return "1 " + word
	case pr.Min == pr.Max:
		return fmt.Sprintf("%d %ss", pr.Max, word)
	}
	return fmt.Sprintf("%d to %d %ss", pr.Min, pr.Max, word)
}

func (r *Router) configure() {
	for _, n := range r.Nodes {
		c, ok := n.Elem.(core.Configurer)
		if !ok {
			if n.Decl.Config != "" && len(core.SplitArgs(n.Decl.Config)) > 0 {
				r.errorf(n.Decl.Pos, "%s takes no arguments", n.describe())
			}
			continue
		}
		if err := safeConfigure(c, n.Decl.Config); err != nil {
			r.errorf(n.Decl.Pos, "%s: %v", n.describe(), err)
		}
	}
}

// safeConfigure contains a panicking Configure (a bug in an element must
// not take the appliance down while loading a config).
func safeConfigure(c core.Configurer, config string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error while configuring: %v", p)
		}
	}()
	return c.Configure(core.NewArgs(config))
}

// resolve lets elements check the names their arguments refer to
// (core.Resolver): every error is reported, positioned at its element.
func (r *Router) resolve() {
	for _, n := range r.Nodes {
		rs, ok := n.Elem.(core.Resolver)
		if !ok {
			continue
		}
		if err := safeResolve(rs, r); err != nil {
			r.errorf(n.Decl.Pos, "%s: %v", n.describe(), err)
		}
	}
}

func safeResolve(rs core.Resolver, r *Router) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error while resolving names: %v", p)
		}
	}()
	return rs.Resolve(r)
}

func (r *Router) initialize() {
	for _, n := range r.Nodes {
		in, ok := n.Elem.(core.Initializer)
		if !ok {
			continue
		}
		if err := safeInitialize(in, r); err != nil {
			r.errorf(n.Decl.Pos, "%s: %v", n.describe(), err)
		}
	}
}

func safeInitialize(in core.Initializer, r core.Router) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error while initializing: %v", p)
		}
	}()
	return in.Initialize(r)
}

// checkConnections enforces Click's rules: a push output and a pull input
// take one connection each; every port must be connected.
func (r *Router) checkConnections() {
	for _, n := range r.Nodes {
		b := n.Elem.Core()
		for p, cs := range n.outConns {
			kind := b.Output(p).Kind
			if kind == core.Push && len(uniqueConns(r.Conns, cs)) > 1 {
				r.errorf(r.Conns[cs[1]].Pos, "illegal reuse of %s push output %d", n.describe(), p)
			}
			if len(cs) == 0 {
				r.errorf(n.Decl.Pos, "%s output %d unused", n.describe(), p)
			}
		}
		for p, cs := range n.inConns {
			kind := b.Input(p).Kind
			if kind == core.Pull && len(uniqueConns(r.Conns, cs)) > 1 {
				r.errorf(r.Conns[cs[1]].Pos, "illegal reuse of %s pull input %d", n.describe(), p)
			}
			if len(cs) == 0 {
				r.errorf(n.Decl.Pos, "%s input %d unused", n.describe(), p)
			}
		}
	}
}

// uniqueConns drops repeated identical connections (repeating a connection
// is not an error in Click).
func uniqueConns(all []lang.Connection, idx []int) []int {
	var out []int
	seen := map[[4]int]bool{}
	for _, i := range idx {
		c := all[i]
		k := [4]int{c.From, c.FromPort, c.To, c.ToPort}
		if !seen[k] {
			seen[k] = true
			out = append(out, i)
		}
	}
	return out
}

// connect wires push outputs to downstream pushers and pull inputs to
// upstream pullers.
func (r *Router) connect() {
	for _, c := range dedupe(r.Conns) {
		from, to := r.Nodes[c.From], r.Nodes[c.To]
		out := from.Elem.Core().Output(c.FromPort)
		in := to.Elem.Core().Input(c.ToPort)
		switch out.Kind {
		case core.Push:
			p := core.AsPusher(to.Elem)
			if p == nil {
				r.errorf(c.Pos, "%s cannot take pushed packets on input %d", to.describe(), c.ToPort)
				continue
			}
			out.Connect(p, c.ToPort)
		case core.Pull:
			p := core.AsPuller(from.Elem)
			if p == nil {
				r.errorf(c.Pos, "%s cannot be pulled on output %d", from.describe(), c.FromPort)
				continue
			}
			in.Connect(p, c.FromPort)
		}
	}
}

func dedupe(conns []lang.Connection) []lang.Connection {
	var out []lang.Connection
	seen := map[[4]int]bool{}
	for _, c := range conns {
		k := [4]int{c.From, c.FromPort, c.To, c.ToPort}
		if !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	return out
}

// Find resolves name relative to from's compound, as Click does.
func (r *Router) Find(from core.Element, name string) core.Element {
	if from != nil {
		prefix := from.Core().Name()
		for {
			i := strings.LastIndexByte(prefix, '/')
			if i < 0 {
				break
			}
			prefix = prefix[:i]
			if n := r.byName[prefix+"/"+name]; n != nil {
				return n.Elem
			}
		}
	}
	if n := r.byName[name]; n != nil {
		return n.Elem
	}
	return nil
}

// Node returns the node named name, or nil.
func (r *Router) Node(name string) *Node { return r.byName[name] }

// Elements lists every element in configuration order.
func (r *Router) Elements() []core.Element {
	out := make([]core.Element, len(r.Nodes))
	for i, n := range r.Nodes {
		out[i] = n.Elem
	}
	return out
}

// Names lists element names in configuration order.
func (r *Router) Names() []string {
	out := make([]string, len(r.Nodes))
	for i, n := range r.Nodes {
		out[i] = n.Decl.Name
	}
	return out
}

// sortedNames is Names sorted, for completion and globbing.
func (r *Router) sortedNames() []string {
	n := r.Names()
	sort.Strings(n)
	return n
}

// CheckElements instantiates and configures every element of a graph that
// may be incomplete (it had syntax errors) and returns only the errors
// that do not depend on connections: unknown classes and bad arguments.
// `flowbox check` adds them to the syntax errors so one run reports all.
func CheckElements(g *lang.Graph) lang.ErrorList {
	r := &Router{Graph: g, byName: map[string]*Node{}, sources: g.Sources, Log: func(string) {}}
	r.instantiate()
	for _, n := range r.Nodes {
		spec, _ := core.ParsePortSpec(n.Class.Ports)
		nin := spec.In.Min
		nout := spec.OutputsFor(nin).Min
		for _, c := range g.Connections {
			if c.From == n.Index {
				nout = max(nout, c.FromPort+1)
			}
			if c.To == n.Index {
				nin = max(nin, c.ToPort+1)
			}
		}
		if spec.In.Max >= 0 {
			nin = min(nin, spec.In.Max)
		}
		if o := spec.OutputsFor(nin); o.Max >= 0 {
			nout = min(nout, o.Max)
		}
		n.Elem.Core().Setup(n.Decl.Name, n.Decl.Class, n.Decl.Config, n.Decl.Pos.String(), nin, nout)
	}
	r.configure()
	return r.errs
}
