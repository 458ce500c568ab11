package runtime

import (
	"fmt"
	"strings"

	"flowbox/appliance/core"
)

// portRef names one port of one node.
type portRef struct {
	node   int
	output bool
	port   int
}

// resolvePushPull gives every agnostic port a kind, following Click's
// rules: connected ports share a kind; an agnostic element's ports that
// its flow code ties together share a kind; conflicts are errors with
// Click's messages; ports left unconstrained become push.
func (r *Router) resolvePushPull() {
	kind := map[portRef]core.PortKind{}
	for i, n := range r.Nodes {
		for p, k := range n.declIn {
			kind[portRef{i, false, p}] = k
		}
		for p, k := range n.declOut {
			kind[portRef{i, true, p}] = k
		}
	}
	reported := map[string]bool{}
	report := func(key, msg string, pos any) {
		if reported[key] {
			return
		}
		reported[key] = true
		n := r.Nodes[pos.(int)]
		r.errorf(n.Decl.Pos, "%s", msg)
	}
	// Direct conflicts between declared kinds come first, with Click's message.
	for ci, c := range r.Conns {
		if c.FromPort >= len(r.Nodes[c.From].declOut) || c.ToPort >= len(r.Nodes[c.To].declIn) {
			continue
		}
		fk := kind[portRef{c.From, true, c.FromPort}]
		tk := kind[portRef{c.To, false, c.ToPort}]
		if fk != core.Agnostic && tk != core.Agnostic && fk != tk {
			from, to := r.Nodes[c.From], r.Nodes[c.To]
			r.errorf(r.Conns[ci].Pos, "%s %s output %d connected to %s %s input %d",
				from.describe(), fk, c.FromPort, to.describe(), tk, c.ToPort)
		}
	}
	for changed := true; changed; {
		changed = false
		for _, c := range r.Conns {
			a, b := portRef{c.From, true, c.FromPort}, portRef{c.To, false, c.ToPort}
			ka, okA := kind[a]
			kb, okB := kind[b]
			if !okA || !okB {
				continue
			}
			switch {
			case ka == core.Agnostic && kb != core.Agnostic:
				kind[a] = kb
				changed = true
			case kb == core.Agnostic && ka != core.Agnostic:
				kind[b] = ka
				changed = true
			}
		}
		for i, n := range r.Nodes {
			for _, group := range flowGroups(n) {
				var push, pull []portRef
				for _, pr := range group {
					pr.node = i
					switch kind[pr] {
					case core.Push:
						push = append(push, pr)
					case core.Pull:
						pull = append(pull, pr)
					}
				}
				if len(push) > 0 && len(pull) > 0 {
					report(fmt.Sprint("mixed", i), fmt.Sprintf("agnostic %s in mixed context: %s, %s",
						n.describe(), describePort(pull[0], core.Pull), describePort(push[0], core.Push)), i)
					continue
				}
				k := core.Agnostic
				if len(push) > 0 {
					k = core.Push
				} else if len(pull) > 0 {
					k = core.Pull
				}
				if k == core.Agnostic {
					continue
				}
				for _, pr := range group {
					pr.node = i
					if kind[pr] == core.Agnostic {
						kind[pr] = k
						changed = true
					}
				}
			}
		}
	}
	for i, n := range r.Nodes {
		b := n.Elem.Core()
		for p := range n.declIn {
			k := kind[portRef{i, false, p}]
			if k == core.Agnostic {
				k = core.Push
			}
			b.Input(p).Kind = k
		}
		for p := range n.declOut {
			k := kind[portRef{i, true, p}]
			if k == core.Agnostic {
				k = core.Push
			}
			b.Output(p).Kind = k
		}
	}
}

func describePort(p portRef, k core.PortKind) string {
	side := "input"
	if p.output {
		side = "output"
	}
	return fmt.Sprintf("%s %s %d", k, side, p.port)
}

// flowGroups returns the sets of agnostic ports the element's flow code
// ties together. The default code ties every agnostic input to every
// agnostic output; "#/#" ties input i to output i only.
func flowGroups(n *Node) [][]portRef {
	var ins, outs []int
	for p, k := range n.declIn {
		if k == core.Agnostic {
			ins = append(ins, p)
		}
	}
	for p, k := range n.declOut {
		if k == core.Agnostic {
			outs = append(outs, p)
		}
	}
	if len(ins) == 0 && len(outs) == 0 {
		return nil
	}
	if strings.HasPrefix(n.Class.FlowCode, "#") {
		var groups [][]portRef
		for _, p := range ins {
			g := []portRef{{output: false, port: p}}
			for _, q := range outs {
				if q == p {
					g = append(g, portRef{output: true, port: q})
				}
			}
			groups = append(groups, g)
		}
		return groups
	}
	var g []portRef
	for _, p := range ins {
		g = append(g, portRef{output: false, port: p})
	}
	for _, p := range outs {
		g = append(g, portRef{output: true, port: p})
	}
	return [][]portRef{g}
}
