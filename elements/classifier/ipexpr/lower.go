package ipexpr

import (
	"encoding/binary"
	"net/netip"

	"flowbox/appliance/core"
)

var opNames = map[string]Op{"==": OpEQ, "=": OpEQ, "!=": OpNE, "<": OpLT, ">": OpGT, "<=": OpLE, ">=": OpGE}

// finish parses the rest of a primitive whose kind is known:
// ['&' MASK] [OP] VALUE, and lowers it to Test leaves.
func (p *parser) finish(q *prim) (Node, error) {
	mask, hasMask, err := p.mask(q)
	if err != nil {
		return nil, err
	}
	op := OpEQ
	if t := p.peek(); t.kind == tOp {
		p.next()
		op = opNames[t.text]
		if err := p.checkOp(q, op, t); err != nil {
			return nil, err
		}
	}
	vt := p.next()
	var n Node
	switch q.kind {
	case pHost:
		n, err = p.hostValue(q, op, vt)
	case pNet:
		n, err = p.netValue(q, op, vt)
	case pEther:
		n, err = p.etherValue(q, op, vt)
	case pTCPOpt:
		n, err = p.tcpOptValue(vt)
	default:
		n, err = p.intValue(q, op, mask, hasMask, vt)
	}
	if err != nil {
		return nil, err
	}
	saved := *q
	p.prev = &saved
	return n, nil
}

func (p *parser) mask(q *prim) (uint32, bool, error) {
	t := p.peek()
	if t.kind != tAmp {
		return 0, false, nil
	}
	if q.kind == pHost || q.kind == pNet || q.kind == pEther || q.kind == pTCPOpt {
		return 0, false, p.errf(t, "a '&' mask is not allowed here")
	}
	p.next()
	m, err := p.number("mask", q.maxValue())
	return m, true, err
}

func (p *parser) checkOp(q *prim, op Op, t token) error {
	switch q.kind {
	case pTCPOpt:
		return p.errf(t, "tcp opt takes no operator, got %s", t)
	case pHost, pNet, pEther:
		if op != OpEQ && op != OpNE {
			return p.errf(t, "only == and != apply to addresses, got %s", t)
		}
	}
	return nil
}

// maxValue is the largest value of q's integer field.
func (q *prim) maxValue() uint32 {
	switch q.kind {
	case pPort:
		return 0xffff
	case pProto, pICMPType:
		return 0xff
	case pField:
		return uint32(1<<q.f.width - 1)
	}
	return 0xffffffff
}

// sides combines a src-side and a dst-side test. With != the conjunction
// flips (De Morgan), so "host != A" means neither address is A.
func sides(sd srcDst, op Op, src, dst func() Node) Node {
	switch sd {
	case sdSrc:
		return src()
	case sdDst:
		return dst()
	}
	both := sd == sdAnd
	if op == OpNE {
		both = !both
	}
	if both {
		return and(src(), dst())
	}
	return or(src(), dst())
}

func (p *parser) hostValue(q *prim, op Op, t token) (Node, error) {
	a, err := netip.ParseAddr(t.text)
	if t.kind != tWord || err != nil || !a.Is4() {
		return nil, p.errf(t, "expected IP address, got %s", t)
	}
	v := binary.BigEndian.Uint32(a.AsSlice())
	return sides(q.sd, op,
		func() Node { return NewTest(BaseIP, 12, 4, 0xffffffff, op, v) },
		func() Node { return NewTest(BaseIP, 16, 4, 0xffffffff, op, v) }), nil
}

func (p *parser) netValue(q *prim, op Op, t token) (Node, error) {
	text := t.text
	if p.isWord("mask") {
		p.next()
		text += " mask " + p.next().text
	}
	pfx, err := core.ParseIPPrefix(text)
	if t.kind != tWord || err != nil || !pfx.Addr().Is4() {
		return nil, p.errf(t, "expected network (A/LEN, A mask M or 10.0/16), got %s", t)
	}
	m := uint32(0)
	if pfx.Bits() > 0 {
		m = ^uint32(0) << (32 - uint(pfx.Bits()))
	}
	v := binary.BigEndian.Uint32(pfx.Addr().AsSlice()) & m
	return sides(q.sd, op,
		func() Node { return NewTest(BaseIP, 12, 4, m, op, v) },
		func() Node { return NewTest(BaseIP, 16, 4, m, op, v) }), nil
}

func (p *parser) etherValue(q *prim, op Op, t token) (Node, error) {
	mac, err := core.ParseEther(t.text)
	if t.kind != tWord || err != nil {
		return nil, p.errf(t, "expected Ethernet address, got %s", t)
	}
	side := func(off int) func() Node {
		return func() Node {
			if op == OpEQ {
				return Bytes(BaseMAC, off, mac[:], nil)
			}
			// Present and different in at least one of the two words.
			return or(NewTest(BaseMAC, off, 4, 0xffffffff, OpNE, binary.BigEndian.Uint32(mac[:4])),
				NewTest(BaseMAC, off+4, 2, 0xffff, OpNE, uint32(binary.BigEndian.Uint16(mac[4:]))))
		}
	}
	return sides(q.sd, op, side(6), side(0)), nil
}

func (p *parser) tcpOptValue(t token) (Node, error) {
	flag := tcpOptNames[t.text]
	if t.kind != tWord || flag == 0 {
		return nil, p.errf(t, "expected TCP flag (syn, fin, ack, rst, psh, urg), got %s", t)
	}
	return and(protoIs(6), and(firstFragment(), NewTest(BaseTransport, 13, 1, flag, OpNE, 0))), nil
}

// intValue handles the integer primitives: port, proto, icmp type, fields.
func (p *parser) intValue(q *prim, op Op, mask uint32, hasMask bool, t token) (Node, error) {
	v, err := p.intWord(q, t)
	if err != nil {
		return nil, err
	}
	fm := q.maxValue()
	if hasMask {
		fm &= mask
	}
	switch q.kind {
	case pPort:
		var proto Node
		if q.proto < 0 {
			proto = or(protoIs(6), protoIs(17))
		} else {
			proto = protoIs(uint32(q.proto))
		}
		val := sides(q.sd, op,
			func() Node { return NewTest(BaseTransport, 0, 2, fm, op, v) },
			func() Node { return NewTest(BaseTransport, 2, 2, fm, op, v) })
		return and(proto, and(firstFragment(), val)), nil
	case pProto:
		return NewTest(BaseIP, 9, 1, fm, op, v), nil
	case pICMPType:
		return and(protoIs(1), and(firstFragment(), NewTest(BaseTransport, 0, 1, fm, op, v))), nil
	}
	f := q.f
	n := NewTest(f.base, f.off, f.size, fm<<f.shift, op, v<<f.shift)
	if f.firstFrag {
		n = and(firstFragment(), n)
	}
	if f.proto >= 0 {
		n = and(protoIs(uint32(f.proto)), n)
	}
	return n, nil
}

// intWord reads a number or a name valid for q's kind.
func (p *parser) intWord(q *prim, t token) (uint32, error) {
	var names map[string]uint32
	what := q.f.description + " value"
	switch q.kind {
	case pPort:
		names, what = portNames, "port number or name"
	case pProto:
		names, what = protoNames, "IP protocol number or name"
	case pICMPType:
		names, what = icmpTypeNames, "ICMP type number or name"
	}
	if v, ok := names[t.text]; ok && t.kind == tWord {
		return v, nil
	}
	v, ok := parseUint(t.text)
	if t.kind != tWord || !ok {
		return 0, p.errf(t, "expected %s, got %s", what, t)
	}
	if v > q.maxValue() {
		return 0, p.errf(t, "%s out of range (max %d), got %s", what, q.maxValue(), t)
	}
	return v, nil
}
