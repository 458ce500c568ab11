package verify

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
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

// SyntaxError is a malformed requirement: Col is the 1-based column (in
// bytes) of the requirement text where Msg applies.
type SyntaxError struct {
	Col int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("col %d: %s", e.Col, e.Msg) }

func errAt(off int, format string, a ...any) error {
	return &SyntaxError{Col: off + 1, Msg: fmt.Sprintf(format, a...)}
}

// ParseRequirement parses `reach from NODE [FLOW] {-> NODE [FLOW] [const
// FIELDS]}+`. Errors are *SyntaxError, naming the column and what was
// expected there.
func ParseRequirement(text string) (*Requirement, error) {
	off := len(text) - len(strings.TrimLeft(text, " \t\r\n"))
	t := strings.TrimSpace(text)
	got := func(s string) string {
		if f := strings.Fields(s); len(f) > 0 {
			return fmt.Sprintf("%q", f[0])
		}
		return "end of requirement"
	}
	rest, ok := cutWord(t, "reach")
	if !ok {
		return nil, errAt(off, "expected 'reach from', got %s", got(t))
	}
	o := off + len("reach")
	o += len(rest) - len(strings.TrimLeft(rest, " \t\r\n"))
	rest = strings.TrimLeft(rest, " \t\r\n")
	rest, ok = cutWord(rest, "from")
	if !ok {
		return nil, errAt(o, "expected 'from' after 'reach', got %s", got(rest))
	}
	o += len("from")
	r := &Requirement{Text: t}
	for i := 0; ; i++ {
		part, more := rest, false
		if j := strings.Index(rest, "->"); j >= 0 {
			part, more = rest[:j], true
		}
		h, err := parseHop(part, o, i == 0)
		if err != nil {
			return nil, err
		}
		r.Hops = append(r.Hops, h)
		if !more {
			break
		}
		o += len(part) + len("->")
		rest = rest[len(part)+len("->"):]
	}
	if len(r.Hops) < 2 {
		return nil, errAt(off+len(t), "expected '-> NODE' after the source (at least one hop)")
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

// parseHop parses one "NODE [FLOW] [const FIELDS]"; off is the column
// (0-based) of s in the requirement.
func parseHop(s string, off int, source bool) (ReqHop, error) {
	var h ReqHop
	what := "a node after '->'"
	if source {
		what = "a source node after 'reach from'"
	}
	lead := len(s) - len(strings.TrimLeft(s, " \t\r\n"))
	f := strings.Fields(s)
	if len(f) == 0 {
		return h, errAt(off+lead, "expected %s", what)
	}
	if f[0] == "const" || strings.HasPrefix(f[0], "->") {
		return h, errAt(off+lead, "expected %s, got %q", what, f[0])
	}
	n, err := parseNode(f[0])
	if err != nil {
		return h, errAt(off+lead, "%v", err)
	}
	h.Node = n
	restOff := lead + len(f[0])
	rest := s[restOff:]
	flow, flowOff := rest, off+restOff
	if i := constIndex(rest); i >= 0 {
		if source {
			return h, errAt(off+restOff+i, "const is not allowed on the source (it applies to the hop ending at a node)")
		}
		flow = rest[:i]
		fields, err := parseConst(rest[i+len("const"):], off+restOff+i+len("const"))
		if err != nil {
			return h, err
		}
		h.Const = fields
	}
	flowOff += len(flow) - len(strings.TrimLeft(flow, " \t\r\n"))
	flow = strings.TrimSpace(flow)
	if flow != "" {
		node, err := ipexpr.Parse(flow)
		if err != nil {
			var pe *ipexpr.Error
			if errors.As(err, &pe) {
				return h, &SyntaxError{Col: flowOff + pe.Col, Msg: fmt.Sprintf("flow %q: %s", flow, pe.Msg)}
			}
			return h, errAt(flowOff, "flow %q: %v", flow, err)
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

// parseConst parses "FIELD {&& FIELD}"; off is its column (0-based).
func parseConst(s string, off int) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errAt(off+len(s), "expected a field after 'const' (%s)", strings.Join(ConstFields, ", "))
	}
	var out []string
	o := off
	for k, part := range strings.Split(s, "&&") {
		lead := len(part) - len(strings.TrimLeft(part, " \t\r\n"))
		name := strings.Join(strings.Fields(part), " ")
		if name == "" {
			after := "'const'"
			if k > 0 {
				after = "'&&'"
			}
			return nil, errAt(o+lead, "expected a field after %s (%s)", after, strings.Join(ConstFields, ", "))
		}
		if !slices.Contains(ConstFields, name) {
			return nil, errAt(o+lead, "unknown const field %q (expected one of %s, joined by &&)", name, strings.Join(ConstFields, ", "))
		}
		out = append(out, name)
		o += len(part) + len("&&")
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
