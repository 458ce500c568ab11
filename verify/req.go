package verify

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"flowbox/elements/classifier/ipexpr"
)

// NodeKind says what a requirement node names.
type NodeKind uint8

const (
	NodeElem     NodeKind = iota // an element (arrival), or element:PORT (leaving on output PORT)
	NodeAddr                     // an address or subnet
	NodeClient                   // the operator's clients
	NodeInternet                 // the internet
)

// ReqNode is one node of a requirement.
type ReqNode struct {
	Kind   NodeKind
	Text   string
	Box    string // module (network files), "" for a single config
	Elem   string
	Port   int // output port; -1 when not given
	Prefix netip.Prefix
}

// ReqHop is one "-> NODE [FLOW] [const FIELDS]" (or the source).
type ReqHop struct {
	Node     ReqNode
	FlowText string
	Flow     ipexpr.Node // nil: any packet
	Const    []string
}

// Requirement is a parsed "reach from ..." statement.
type Requirement struct {
	Text string
	Hops []ReqHop // Hops[0] is the source
}

// ConstFields are the field names const accepts.
var ConstFields = []string{"src", "dst", "proto", "src port", "dst port", "tos", "ttl", "seq", "ack", "payload"}

// ParseRequirement parses `reach from NODE [FLOW] {-> NODE [FLOW] [const
// FIELDS]}+`.
func ParseRequirement(text string) (*Requirement, error) {
	t := strings.TrimSpace(text)
	rest, ok := cutWord(t, "reach")
	if !ok {
		return nil, fmt.Errorf("requirement must start with 'reach from': %q", text)
	}
	rest, ok = cutWord(strings.TrimSpace(rest), "from")
	if !ok {
		return nil, fmt.Errorf("expected 'from' after 'reach'")
	}
	parts := strings.Split(rest, "->")
	if len(parts) < 2 {
		return nil, fmt.Errorf("expected at least one '-> NODE' hop")
	}
	r := &Requirement{Text: t}
	for i, p := range parts {
		h, err := parseHop(strings.TrimSpace(p), i == 0)
		if err != nil {
			if i == 0 {
				return nil, fmt.Errorf("source: %w", err)
			}
			return nil, fmt.Errorf("hop %d: %w", i, err)
		}
		r.Hops = append(r.Hops, h)
	}
	return r, nil
}

// cutWord removes a leading keyword followed by a space or the end.
func cutWord(s, w string) (string, bool) {
	if !strings.HasPrefix(s, w) {
		return s, false
	}
	rest := s[len(w):]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '\n' && rest[0] != '\r' {
		return s, false
	}
	return rest, true
}

func parseHop(s string, source bool) (ReqHop, error) {
	var h ReqHop
	f := strings.Fields(s)
	if len(f) == 0 {
		return h, fmt.Errorf("missing node")
	}
	n, err := parseNode(f[0])
	if err != nil {
		return h, err
	}
	h.Node = n
	rest := strings.TrimSpace(s[strings.Index(s, f[0])+len(f[0]):])
	flow := rest
	if i := constIndex(rest); i >= 0 {
		if source {
			return h, fmt.Errorf("const is not allowed on the source")
		}
		flow = strings.TrimSpace(rest[:i])
		fields, err := parseConst(strings.TrimSpace(rest[i+len("const"):]))
		if err != nil {
			return h, err
		}
		h.Const = fields
	}
	if flow != "" {
		node, err := ipexpr.Parse(flow)
		if err != nil {
			return h, fmt.Errorf("flow %q: %v", flow, err)
		}
		h.Flow, h.FlowText = node, flow
	}
	return h, nil
}

// constIndex finds the keyword const as a word.
func constIndex(s string) int {
	for i := 0; i+5 <= len(s); i++ {
		if s[i:i+5] != "const" {
			continue
		}
		before := i == 0 || s[i-1] == ' ' || s[i-1] == '\t' || s[i-1] == '\n'
		after := i+5 == len(s) || s[i+5] == ' ' || s[i+5] == '\t' || s[i+5] == '\n'
		if before && after {
			return i
		}
	}
	return -1
}

func parseConst(s string) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("const needs at least one field")
	}
	var out []string
	for _, part := range strings.Split(s, "&&") {
		name := strings.Join(strings.Fields(part), " ")
		known := false
		for _, k := range ConstFields {
			if name == k {
				known = true
			}
		}
		if !known {
			return nil, fmt.Errorf("const: unknown field %q (known: %s)", name, strings.Join(ConstFields, ", "))
		}
		out = append(out, name)
	}
	return out, nil
}

func parseNode(w string) (ReqNode, error) {
	n := ReqNode{Text: w, Port: -1}
	switch w {
	case "client":
		n.Kind = NodeClient
		return n, nil
	case "internet":
		n.Kind = NodeInternet
		return n, nil
	}
	if p, err := netip.ParsePrefix(w); err == nil {
		if !p.Addr().Is4() {
			return n, fmt.Errorf("only IPv4 subnets: %q", w)
		}
		n.Kind, n.Prefix = NodeAddr, p.Masked()
		return n, nil
	}
	if a, err := netip.ParseAddr(w); err == nil {
		if !a.Is4() {
			return n, fmt.Errorf("only IPv4 addresses: %q", w)
		}
		n.Kind, n.Prefix = NodeAddr, netip.PrefixFrom(a, 32)
		return n, nil
	}
	if strings.Trim(w, "0123456789./") == "" {
		return n, fmt.Errorf("bad address or subnet %q", w)
	}
	parts := strings.Split(w, ":")
	if len(parts) > 3 {
		return n, fmt.Errorf("node %q: expected ELEMENT[:PORT] or MODULE:ELEMENT:PORT", w)
	}
	last := parts[len(parts)-1]
	if len(parts) > 1 {
		p, err := strconv.Atoi(last)
		if err != nil || p < 0 || p > 1<<16 {
			if len(parts) == 2 {
				// module:element
				n.Box, n.Elem = parts[0], parts[1]
				return n, validName(n.Elem, w)
			}
			return n, fmt.Errorf("node %q: bad port %q", w, last)
		}
		n.Port = p
		parts = parts[:len(parts)-1]
	}
	if len(parts) == 2 {
		n.Box = parts[0]
	}
	n.Elem = parts[len(parts)-1]
	if n.Box != "" {
		if err := validName(n.Box, w); err != nil {
			return n, err
		}
	}
	return n, validName(n.Elem, w)
}

func validName(s, w string) error {
	if s == "" {
		return fmt.Errorf("node %q: empty name", w)
	}
	for _, c := range s {
		if !(c == '_' || c == '/' || c == '@' || c == '.' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("node %q: bad character %q", w, c)
		}
	}
	return nil
}
