package verify

import (
	"fmt"

	"flowbox/appliance/suggest"
	"flowbox/verify/sym"
)

// The packet injected where a requirement starts has the layout the start
// element really emits (see package sym's Source):
//
//   - FromDevice (and the other entries): an unconstrained Ethernet frame;
//   - a packet generator whose model implements sym.Source (RatedSource,
//     InfiniteSource, TimedSource): the packet it declares, i.e. its DATA;
//   - any other element: the layouts are derived from the models, not
//     assumed: unconstrained packets of each origin's layout (entries,
//     generators) are pushed through the graph, and every distinct shape
//     the packet has leaving the start element's output (data start,
//     annotations, header positions, fields) is injected as a fresh,
//     unconstrained packet of that shape (sym.Generalize). Behind
//     Strip(14) -> CheckIPHeader that is an annotated IP packet, behind a
//     Counter fed by a source an Ethernet frame.
//   - when no origin reaches the element (it is fed only by opaque
//     elements, or by nothing): an element without inputs is taken for an
//     unmodelled generator of Ethernet frames; anything else gets the bare,
//     annotated IP packet (sym.IPPacket) as before.

// startPackets returns the packets to inject leaving node's output port.
func (c *Checker) startPackets(node, port int) []*sym.State {
	vs := c.G.Vars
	nd := c.G.Nodes[node]
	if nd.Entry {
		return []*sym.State{sym.NewPacket(vs, sym.EtherFrame, "")}
	}
	if src, ok := nd.beh.(sym.Source); ok {
		return []*sym.State{src.Emitted(vs, port)}
	}
	var out []*sym.State
	for _, sn := range c.startShapes(node, port) {
		out = append(out, sym.Generalize(vs, sn, ""))
	}
	if len(out) > 0 {
		return out
	}
	if nd.NIn == 0 {
		return []*sym.State{sym.NewPacket(vs, sym.EtherFrame, "")}
	}
	return []*sym.State{sym.NewPacket(vs, sym.IPPacket, "")}
}

// origin reports whether traffic starts at node, and the layout of what
// it emits on output port (unconstrained).
func (c *Checker) origin(node, port int) (*sym.State, bool) {
	nd := c.G.Nodes[node]
	switch {
	case nd.Entry:
		return sym.NewPacket(c.G.Vars, sym.EtherFrame, ""), true
	case nd.beh != nil:
		if src, ok := nd.beh.(sym.Source); ok {
			return sym.Generalize(c.G.Vars, src.Emitted(c.G.Vars, port).Snapshot(), ""), true
		}
	case nd.NIn == 0 && nd.NOut > 0:
		// an unmodelled generator (FromDump, ...): Ethernet frames
		return sym.NewPacket(c.G.Vars, sym.EtherFrame, ""), true
	}
	return nil, false
}

// startShapes lists the distinct shapes of the packet leaving node's
// output port on the paths from every origin.
func (c *Checker) startShapes(node, port int) []sym.Snap {
	key := [2]int{node, port}
	if sn, ok := c.shapes[key]; ok {
		return sn
	}
	name := c.G.Nodes[node].Name
	seen := map[string]bool{}
	var out []sym.Snap
	for o, on := range c.G.Nodes {
		if o == node {
			continue
		}
		for p := 0; p < on.NOut; p++ {
			s, ok := c.origin(o, p)
			if !ok {
				break
			}
			x := &Explorer{G: c.G, Limits: c.Limits, Watch: map[int]bool{node: true}}
			for _, path := range x.Inject(o, p, s) {
				if path.Outcome == sym.Infeasible {
					continue
				}
				for _, t := range path.State.Marks() {
					if t.Elem != name || t.Out != port {
						continue
					}
					if k := t.Left.Shape(); !seen[k] {
						seen[k] = true
						out = append(out, t.Left)
					}
				}
			}
		}
	}
	if c.shapes == nil {
		c.shapes = map[[2]int][]sym.Snap{}
	}
	c.shapes[key] = out
	return out
}

// UnknownElementError is a requirement naming an element the
// configuration does not have: a usage error, not an answer.
type UnknownElementError struct {
	Name    string // as written
	Suggest string // the closest element name, or ""
}

func (e *UnknownElementError) Error() string {
	s := fmt.Sprintf("no element %q in the configuration", e.Name)
	if e.Suggest != "" {
		s += fmt.Sprintf(" (did you mean %q?)", e.Suggest)
	}
	return s
}

// Validate checks that every element r names exists (an
// *UnknownElementError otherwise), so that a typo is reported as such
// instead of being answered UNPROVABLE.
func (c *Checker) Validate(r *Requirement) error {
	for _, h := range r.Hops {
		if h.Node.Kind != NodeElem {
			continue
		}
		idx, err := c.findElem(h.Node)
		if err != nil {
			name := h.Node.Elem
			if h.Node.Box != "" {
				name = h.Node.Box + "/" + h.Node.Elem
			}
			return &UnknownElementError{Name: name, Suggest: c.suggest(h.Node)}
		}
		if h.Node.Port < 0 {
			continue
		}
		for _, i := range idx {
			nd := c.G.Nodes[i]
			if h.Node.Port < nd.NOut || h.Node.Port == 0 && nd.Exit {
				continue // EXIT:0 is leaving through the device
			}
			return fmt.Errorf("%s (%s) has no output %d (it has %d)", nd.Name, nd.Class, h.Node.Port, nd.NOut)
		}
	}
	return nil
}

// suggest returns the element name closest to n's, if close enough.
func (c *Checker) suggest(n ReqNode) string {
	want := n.Elem
	if n.Box != "" {
		want = n.Box + "/" + n.Elem
	}
	f := suggest.New(want, 3)
	try := f.Try
	for _, nd := range c.G.Nodes {
		if n.Box != "" {
			try(nd.Name)
		} else {
			try(nd.Elem)
		}
	}
	return f.Best()
}
