package ipexpr

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"flowbox/appliance/core"
)

// Error is a parse error located in a pattern. Pattern is the pattern's
// index (-1 when parsing a lone expression) and Col the 1-based column of
// the offending token.
type Error struct {
	Pattern int
	Col     int
	Msg     string
}

func (e *Error) Error() string {
	if e.Pattern < 0 {
		return fmt.Sprintf("col %d: %s", e.Col, e.Msg)
	}
	return fmt.Sprintf("pattern %d: col %d: %s", e.Pattern, e.Col, e.Msg)
}

// Parse parses one expression into its AST.
func Parse(s string) (Node, error) {
	toks, err := lex(s)
	if err != nil {
		err.(*Error).Pattern = -1
		return nil, err
	}
	p := &parser{toks: toks}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errf(t, "unexpected %s", t)
	}
	return n, nil
}

type parser struct {
	toks []token
	i    int
	// prev is the last primitive with an explicit value; a bare value
	// later on reuses its qualifiers ("src port 80 or 81").
	prev *prim
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}
func (p *parser) isWord(s string) bool {
	t := p.peek()
	return t.kind == tWord && t.text == s
}
func (p *parser) errf(t token, format string, args ...any) error {
	return &Error{Pattern: -1, Col: t.col, Msg: fmt.Sprintf(format, args...)}
}

// expr := or ['?' expr ':' expr]
func (p *parser) expr() (Node, error) {
	c, err := p.orExpr()
	if err != nil || p.peek().kind != tQuest {
		return c, err
	}
	p.next()
	a, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != tColon {
		return nil, p.errf(t, "expected ' : ' in ternary, got %s", t)
	}
	b, err := p.expr()
	if err != nil {
		return nil, err
	}
	if k, ok := c.(*Const); ok {
		if k.Value {
			return a, nil
		}
		return b, nil
	}
	return &Cond{If: c, Then: a, Else: b}, nil
}

// or := and {('or'|'||') and}
func (p *parser) orExpr() (Node, error) {
	x, err := p.andExpr()
	for err == nil && (p.peek().kind == tOrOr || p.isWord("or")) {
		p.next()
		var y Node
		if y, err = p.andExpr(); err == nil {
			x = or(x, y)
		}
	}
	return x, err
}

// and := unary {['and'|'&&'] unary}: juxtaposition means and ("fin ack").
func (p *parser) andExpr() (Node, error) {
	x, err := p.unary()
	for err == nil {
		if p.peek().kind == tAndAnd || p.isWord("and") {
			p.next()
		} else if !p.startsFactor() {
			break
		}
		var y Node
		if y, err = p.unary(); err == nil {
			x = and(x, y)
		}
	}
	return x, err
}

func (p *parser) startsFactor() bool {
	switch t := p.peek(); t.kind {
	case tWord:
		return t.text != "or" && t.text != "and"
	case tBang, tLParen, tOp:
		return true
	}
	return false
}

// unary := ('not'|'!') unary | '(' expr ')' | primitive
func (p *parser) unary() (Node, error) {
	t := p.peek()
	switch {
	case t.kind == tBang || p.isWord("not"):
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if c, ok := x.(*Const); ok {
			return &Const{Value: !c.Value}, nil
		}
		return &Not{X: x}, nil
	case t.kind == tLParen:
		p.next()
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, p.errf(c, "expected ')', got %s", c)
		}
		return x, nil
	case t.kind == tEOF:
		return nil, p.errf(t, "expected expression, got %s", t)
	}
	return p.primitive()
}

// ---- primitives ----

type primKind uint8

const (
	pHost primKind = iota + 1
	pNet
	pPort
	pProto
	pField
	pTCPOpt
	pICMPType
	pEther
)

type srcDst uint8

const (
	sdNone srcDst = iota
	sdSrc
	sdDst
	sdOr
	sdAnd
)

// field locates an integer field: value = (raw >> shift) & (2^width - 1)
// where raw is size bytes at off from base.
type field struct {
	base        Base
	off, size   int
	shift       uint
	width       uint
	proto       int  // required IP protocol, -1 for none
	firstFrag   bool // only true on first fragments
	description string
}

// prim is a primitive's qualifiers, kept for carry-over.
type prim struct {
	kind  primKind
	sd    srcDst
	proto int // tcp/udp qualifier of port, -1 for either
	f     field
}

var ipFields = map[string]field{
	"vers": {off: 0, size: 1, shift: 4, width: 4},
	"hl":   {off: 0, size: 1, shift: 0, width: 4},
	"id":   {off: 4, size: 2, width: 16},
	"tos":  {off: 1, size: 1, width: 8},
	"dscp": {off: 1, size: 1, shift: 2, width: 6},
	"ttl":  {off: 8, size: 1, width: 8},
}

// keywords start a primitive of their own and are never carried-over values.
var keywords = map[string]bool{
	"src": true, "dst": true, "host": true, "net": true, "port": true, "ip": true,
	"tcp": true, "udp": true, "icmp": true, "transp": true, "ether": true,
	"proto": true, "true": true, "false": true, "any": true, "all": true,
	"-": true, "not": true, "and": true, "or": true, "ect": true, "ce": true,
	"frag": true, "unfrag": true,
}

var flagTests = map[string]func() Node{
	"ect":    func() Node { return NewTest(BaseIP, 1, 1, 0x03, OpNE, 0) },
	"ce":     func() Node { return NewTest(BaseIP, 1, 1, 0x03, OpEQ, 3) },
	"frag":   func() Node { return NewTest(BaseIP, 6, 2, 0x3fff, OpNE, 0) },
	"unfrag": func() Node { return NewTest(BaseIP, 6, 2, 0x3fff, OpEQ, 0) },
}

func firstFragment() Node { return NewTest(BaseIP, 6, 2, 0x1fff, OpEQ, 0) }

func protoIs(proto uint32) Node { return NewTest(BaseIP, 9, 1, 0xff, OpEQ, proto) }

func (p *parser) primitive() (Node, error) {
	t := p.peek()
	if p.prev != nil && (t.kind == tOp || t.kind == tAmp ||
		(t.kind == tWord && !keywords[t.text] && p.prev.accepts(t.text))) {
		q := *p.prev
		return p.finish(&q)
	}
	q := prim{proto: -1}
	if err := p.srcDst(&q); err != nil {
		return nil, err
	}
	t = p.peek()
	if t.kind != tWord {
		return nil, p.errf(t, "expected primitive, got %s", t)
	}
	switch t.text {
	case "ether":
		p.next()
		if h := p.next(); h.kind != tWord || h.text != "host" {
			return nil, p.errf(h, "expected 'host' after 'ether', got %s", h)
		}
		q.kind = pEther
	case "ip":
		p.next()
		return p.ipPrimitive(&q, t)
	case "tcp", "udp", "icmp", "transp":
		p.next()
		return p.transportPrimitive(&q, t)
	case "host":
		p.next()
		q.kind = pHost
	case "net":
		p.next()
		q.kind = pNet
	case "port":
		p.next()
		q.kind = pPort
	case "true", "false", "any", "all", "-":
		if q.sd != sdNone {
			return nil, p.errf(t, "%s cannot follow 'src'/'dst'", t)
		}
		p.next()
		return &Const{Value: t.text != "false"}, nil
	case "ect", "ce", "frag", "unfrag":
		p.next()
		return p.noSrcDst(&q, t, flagTests[t.text]())
	default:
		if err := p.shorthand(&q, t); err != nil {
			return nil, err
		}
	}
	return p.finish(&q)
}

// srcDst parses [src|dst|src or dst|src and dst|dst or src|dst and src].
func (p *parser) srcDst(q *prim) error {
	first := p.peek()
	if first.kind != tWord || (first.text != "src" && first.text != "dst") {
		return nil
	}
	p.next()
	q.sd = sdSrc
	other := "dst"
	if first.text == "dst" {
		q.sd, other = sdDst, "src"
	}
	conj := p.peek()
	if conj.kind == tWord && (conj.text == "or" || conj.text == "and") {
		if o := p.peekAt(1); o.kind == tWord && o.text == other {
			p.next()
			p.next()
			q.sd = sdOr
			if conj.text == "and" {
				q.sd = sdAnd
			}
		}
	}
	return nil
}

func (p *parser) noSrcDst(q *prim, t token, n Node) (Node, error) {
	if q.sd != sdNone {
		return nil, p.errf(t, "%s cannot follow 'src'/'dst'", t)
	}
	return n, nil
}

// shorthand resolves a primitive given by its value only: an address is a
// host, a prefix a net, a port name a port, a TCP flag name a tcp opt.
func (p *parser) shorthand(q *prim, t token) error {
	switch {
	case isIPv4(t.text):
		q.kind = pHost
	case strings.Contains(t.text, "/") && isPrefix(t.text):
		q.kind = pNet
	case portNames[t.text] != 0:
		q.kind = pPort
	case tcpOptNames[t.text] != 0 && q.sd == sdNone:
		q.kind = pTCPOpt
	default:
		return p.errf(t, "unknown primitive %s", t)
	}
	return nil
}

func (p *parser) ipPrimitive(q *prim, ipTok token) (Node, error) {
	t := p.peek()
	if t.kind == tLBrack {
		f, err := p.byteField(BaseIP, -1, "ip")
		if err != nil {
			return nil, err
		}
		q.kind, q.f = pField, f
		if q.sd != sdNone {
			return nil, p.errf(ipTok, "'src'/'dst' cannot qualify ip[...]")
		}
		return p.finish(q)
	}
	if t.kind != tWord {
		return nil, p.errf(t, "expected ip field after 'ip', got %s", t)
	}
	if q.sd != sdNone && t.text != "host" && t.text != "net" {
		return nil, p.errf(t, "'src'/'dst' cannot qualify 'ip %s'", t.text)
	}
	p.next()
	if f, ok := ipFields[t.text]; ok {
		f.proto, f.description = -1, "ip "+t.text
		q.kind, q.f = pField, f
		return p.finish(q)
	}
	switch t.text {
	case "proto":
		q.kind = pProto
	case "host":
		q.kind = pHost
	case "net":
		q.kind = pNet
	case "ect", "ce", "frag", "unfrag":
		return flagTests[t.text](), nil
	default:
		return nil, p.errf(t, "unknown ip field %s (expected proto, vers, hl, id, tos, dscp, ttl, ect, ce, frag, unfrag or [POS:LEN])", t)
	}
	return p.finish(q)
}

func (p *parser) transportPrimitive(q *prim, protoTok token) (Node, error) {
	proto := int(protoNames[protoTok.text])
	if protoTok.text == "transp" {
		proto = -1
	}
	t := p.peek()
	switch {
	case t.kind == tLBrack:
		f, err := p.byteField(BaseTransport, proto, protoTok.text)
		if err != nil {
			return nil, err
		}
		q.kind, q.f = pField, f
		return p.noSrcDstFinish(q, protoTok)
	case t.kind == tWord && t.text == "port" && (proto == 6 || proto == 17):
		p.next()
		q.kind, q.proto = pPort, proto
		return p.finish(q)
	case t.kind == tWord && t.text == "opt" && proto == 6:
		p.next()
		q.kind = pTCPOpt
		return p.noSrcDstFinish(q, protoTok)
	case t.kind == tWord && t.text == "win" && proto == 6:
		p.next()
		q.kind = pField
		q.f = field{base: BaseTransport, off: 14, size: 2, width: 16, proto: 6, firstFrag: true, description: "tcp win"}
		return p.noSrcDstFinish(q, protoTok)
	case t.kind == tWord && t.text == "type" && proto == 1:
		p.next()
		q.kind = pICMPType
		return p.noSrcDstFinish(q, protoTok)
	}
	if proto < 0 {
		return nil, p.errf(t, "expected '[' after 'transp', got %s", t)
	}
	if q.sd != sdNone {
		return nil, p.errf(t, "expected 'port' after '%s %s', got %s", sdWord(q.sd), protoTok.text, t)
	}
	return protoIs(uint32(proto)), nil
}

func (p *parser) noSrcDstFinish(q *prim, t token) (Node, error) {
	if q.sd != sdNone {
		return nil, p.errf(t, "'src'/'dst' cannot qualify %s", t)
	}
	return p.finish(q)
}

func sdWord(sd srcDst) string {
	return [...]string{"", "src", "dst", "src or dst", "src and dst"}[sd]
}

// byteField parses [POS] or [POS:LEN] (LEN 1-4).
func (p *parser) byteField(base Base, proto int, name string) (field, error) {
	p.next() // '['
	pos, err := p.number("byte position", 0xffff)
	if err != nil {
		return field{}, err
	}
	size := uint32(1)
	if p.peek().kind == tColon {
		p.next()
		if size, err = p.number("field length 1-4", 4); err != nil {
			return field{}, err
		}
		if size == 0 {
			return field{}, p.errf(p.toks[p.i-1], "field length must be 1-4")
		}
	}
	if t := p.next(); t.kind != tRBrack {
		return field{}, p.errf(t, "expected ']', got %s", t)
	}
	return field{base: base, off: int(pos), size: int(size), width: 8 * uint(size), proto: proto,
		firstFrag: base == BaseTransport, description: fmt.Sprintf("%s[%d:%d]", name, pos, size)}, nil
}

// number parses an unsigned integer token no larger than max.
func (p *parser) number(what string, max uint32) (uint32, error) {
	t := p.next()
	v, err := strconv.ParseUint(t.text, 0, 32)
	if t.kind != tWord || err != nil {
		return 0, p.errf(t, "expected %s, got %s", what, t)
	}
	if uint32(v) > max {
		return 0, p.errf(t, "%s out of range (max %d), got %s", what, max, t)
	}
	return uint32(v), nil
}

// accepts reports whether word is a valid value for q's kind (carry-over).
func (q *prim) accepts(word string) bool {
	_, isNum := parseUint(word)
	switch q.kind {
	case pHost:
		return isIPv4(word)
	case pNet:
		return isPrefix(word)
	case pPort:
		return isNum || portNames[word] != 0
	case pProto:
		_, named := protoNames[word]
		return isNum || named
	case pICMPType:
		_, named := icmpTypeNames[word]
		return isNum || named
	case pTCPOpt:
		return tcpOptNames[word] != 0
	case pField:
		return isNum
	case pEther:
		_, err := core.ParseEther(word)
		return err == nil
	}
	return false
}

func parseUint(s string) (uint32, bool) {
	v, err := strconv.ParseUint(s, 0, 32)
	return uint32(v), err == nil
}

func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

func isPrefix(s string) bool {
	if s == "" || !strings.ContainsAny(s[:1], "0123456789") {
		return false
	}
	_, err := core.ParseIPPrefix(s)
	return err == nil
}
