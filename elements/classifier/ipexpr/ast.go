// Package ipexpr is the IPClassifier/IPFilter expression language: a lexer
// and parser for Click's tcpdump-like patterns, an exported AST, a reference
// interpreter (EvalAST) and a compiler that turns an ordered list of
// (expression -> output) rules into one decision DAG of masked word tests
// (Program), evaluated per packet without iterating over rules.
//
// The AST is deliberately small so that the verifier can walk it: every
// primitive (host, net, port, icmp type, tcp opt, ...) is lowered at parse
// time to boolean combinations of Test leaves, each a masked comparison of
// at most four packet bytes at a fixed offset from one of three bases (the
// IP header, the transport header located through IHL, or the MAC header).
package ipexpr

import (
	"fmt"
	"strings"
)

// Base says which header a Test's offset is relative to.
type Base uint8

const (
	// BaseIP is the IP header (for Classifier: the first byte of data).
	BaseIP Base = iota
	// BaseTransport is the transport header: the IP header plus IHL*4
	// bytes. It is absent (every test on it is false) when IHL < 5 or the
	// IP header is longer than the packet.
	BaseTransport
	// BaseMAC is the Ethernet header annotation.
	BaseMAC
	numBases
)

func (b Base) String() string {
	switch b {
	case BaseTransport:
		return "transp"
	case BaseMAC:
		return "ether"
	}
	return "ip"
}

// Op is a comparison operator.
type Op uint8

const (
	OpEQ Op = iota
	OpNE
	OpLT
	OpGT
	OpLE
	OpGE
)

func (o Op) String() string {
	return [...]string{"==", "!=", "<", ">", "<=", ">="}[o]
}

// Node is an expression tree node: one of *Const, *Not, *And, *Or, *Cond
// or *Test.
type Node interface {
	fmt.Stringer
	isNode()
}

// Const is true or false (also `-`, `any`, `all`).
type Const struct{ Value bool }

// Not negates X. Note that not(T) is true for a Test T that reads past the
// end of the packet, while T with the inverse operator is false there.
type Not struct{ X Node }

// And is true when both X and Y are.
type And struct{ X, Y Node }

// Or is true when X or Y is.
type Or struct{ X, Y Node }

// Cond is the ternary If ? Then : Else.
type Cond struct{ If, Then, Else Node }

// Test is the only leaf that looks at a packet. It reads Len (1-4) bytes
// big-endian at Off from Base into x and is true when the bytes exist and
// (x & Mask) Op Value. A test whose bytes are not all present is false
// whatever its Op ("a read past the end is false for both == and !=").
//
// Tests built by this package are canonical: Mask is non-zero in its first
// and last byte (so Len counts exactly the bytes the test depends on), and
// Value has no bits outside Mask for == and !=.
type Test struct {
	Base  Base
	Off   int
	Len   int
	Mask  uint32
	Op    Op
	Value uint32
}

func (*Const) isNode() {}
func (*Not) isNode()   {}
func (*And) isNode()   {}
func (*Or) isNode()    {}
func (*Cond) isNode()  {}
func (*Test) isNode()  {}

func (c *Const) String() string {
	if c.Value {
		return "true"
	}
	return "false"
}
func (n *Not) String() string { return "!(" + n.X.String() + ")" }
func (n *And) String() string { return "(" + n.X.String() + " && " + n.Y.String() + ")" }
func (n *Or) String() string  { return "(" + n.X.String() + " || " + n.Y.String() + ")" }
func (n *Cond) String() string {
	return "(" + n.If.String() + " ? " + n.Then.String() + " : " + n.Else.String() + ")"
}

func (t *Test) String() string { return t.format(t.Base.String()) }

func (t *Test) format(base string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s[%d:%d]", base, t.Off, t.Len)
	if full := fullMask(t.Len); t.Mask != full {
		fmt.Fprintf(&b, " & 0x%x", t.Mask)
	}
	fmt.Fprintf(&b, " %s 0x%x", t.Op, t.Value)
	return b.String()
}

// fullMask is the all-ones mask for n bytes.
func fullMask(n int) uint32 {
	if n >= 4 {
		return 0xffffffff
	}
	return 1<<(8*uint(n)) - 1
}

// Walk calls fn for n and then, depth first, for each of its children.
func Walk(n Node, fn func(Node)) {
	fn(n)
	switch x := n.(type) {
	case *Not:
		Walk(x.X, fn)
	case *And:
		Walk(x.X, fn)
		Walk(x.Y, fn)
	case *Or:
		Walk(x.X, fn)
		Walk(x.Y, fn)
	case *Cond:
		Walk(x.If, fn)
		Walk(x.Then, fn)
		Walk(x.Else, fn)
	}
}

// Packet is what EvalAST and Program.Match look at.
type Packet struct {
	IP  []byte // from the IP header (Classifier: data start) to the end
	MAC []byte // from the Ethernet header to the end; nil if unset
}

// EvalAST interprets n directly against an IP header (slow: for tests and
// verification). Ether tests are false since no MAC header is given.
func EvalAST(n Node, ipHeader []byte) bool {
	return EvalPacket(n, Packet{IP: ipHeader})
}

// EvalPacket is EvalAST with a MAC header too.
func EvalPacket(n Node, p Packet) bool {
	switch x := n.(type) {
	case *Const:
		return x.Value
	case *Not:
		return !EvalPacket(x.X, p)
	case *And:
		return EvalPacket(x.X, p) && EvalPacket(x.Y, p)
	case *Or:
		return EvalPacket(x.X, p) || EvalPacket(x.Y, p)
	case *Cond:
		if EvalPacket(x.If, p) {
			return EvalPacket(x.Then, p)
		}
		return EvalPacket(x.Else, p)
	case *Test:
		return x.Eval(p)
	}
	return false
}

// Eval evaluates one test against a packet.
func (t *Test) Eval(p Packet) bool {
	var d []byte
	switch t.Base {
	case BaseIP:
		d = p.IP
	case BaseTransport:
		d = TransportHeader(p.IP)
	case BaseMAC:
		d = p.MAC
	}
	if t.Off < 0 || t.Off+t.Len > len(d) {
		return false
	}
	var x uint32
	for _, c := range d[t.Off : t.Off+t.Len] {
		x = x<<8 | uint32(c)
	}
	return compare(x&t.Mask, t.Op, t.Value)
}

// TransportHeader returns the bytes after the IP header (located by IHL),
// or nil if IHL < 5 or the header does not fit.
func TransportHeader(ip []byte) []byte {
	if len(ip) == 0 {
		return nil
	}
	hl := int(ip[0]&0x0f) * 4
	if hl < 20 || hl > len(ip) {
		return nil
	}
	return ip[hl:]
}

func compare(x uint32, op Op, v uint32) bool {
	switch op {
	case OpEQ:
		return x == v
	case OpNE:
		return x != v
	case OpLT:
		return x < v
	case OpGT:
		return x > v
	case OpLE:
		return x <= v
	case OpGE:
		return x >= v
	}
	return false
}
