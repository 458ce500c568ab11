package ipexpr

// NewTest builds the canonical form of the leaf "(x & mask) op value" where
// x is the size-byte (1-4) big-endian field at off from base. The result
// may be a *Const when the comparison does not depend on the packet, and
// it reads only the bytes the mask selects, so that a test on ip[19] is
// never made false by a missing byte 16.
func NewTest(base Base, off, size int, mask uint32, op Op, value uint32) Node {
	mask &= fullMask(size)
	if mask == 0 {
		return &Const{Value: compare(0, op, value)}
	}
	if op == OpEQ || op == OpNE {
		if value&^mask != 0 {
			// x&mask can never equal value: == is never true, != is
			// true whenever the bytes exist.
			if op == OpEQ {
				return &Const{Value: false}
			}
			op, value = OpGE, 0
		}
	}
	lead, trail := zeroBytes(mask, size)
	if lead > 0 {
		if op != OpEQ && op != OpNE && uint64(value) >= 1<<(8*uint(size-lead)) {
			// The value is larger than anything the masked bytes hold.
			if op == OpGT || op == OpGE {
				return &Const{Value: false}
			}
			op, value = OpGE, 0
		}
		off += lead
		size -= lead
	}
	if trail > 0 {
		value = shiftValue(op, value, 8*uint(trail))
		mask >>= 8 * uint(trail)
		size -= trail
	}
	return foldRange(&Test{Base: base, Off: off, Len: size, Mask: mask, Op: op, Value: value})
}

// zeroBytes counts the all-zero bytes at the front and back of a size-byte
// mask (the mask is non-zero).
func zeroBytes(mask uint32, size int) (lead, trail int) {
	for i := size - 1; i >= 0 && mask>>(8*uint(i))&0xff == 0; i-- {
		lead++
	}
	for mask&0xff == 0 {
		mask >>= 8
		trail++
	}
	return lead, trail
}

// shiftValue rescales a comparison value when the low s bits of x&mask are
// known to be zero: x < v becomes x>>s < ceil(v/2^s), and so on.
func shiftValue(op Op, v uint32, s uint) uint32 {
	floor := v >> s
	ceil := uint32((uint64(v) + 1<<s - 1) >> s)
	switch op {
	case OpLT, OpGE:
		return ceil
	case OpGT, OpLE:
		return floor
	}
	return floor // == and != : v has no bits below s
}

// foldRange turns relational tests that cannot depend on the value into
// constants (never true) or presence tests (x >= 0).
func foldRange(t *Test) Node {
	switch {
	case t.Op == OpLT && t.Value == 0:
		return &Const{Value: false}
	case t.Op == OpGT && t.Value >= t.Mask:
		return &Const{Value: false}
	case t.Op == OpLE && t.Value >= t.Mask:
		t.Op, t.Value = OpGE, 0
	case t.Op == OpGE && t.Value > t.Mask:
		return &Const{Value: false}
	}
	return t
}

// Bytes is true when the bytes at off from base equal value under mask
// (nil mask: all ones). Runs longer than four bytes become an And of word
// tests.
func Bytes(base Base, off int, value, mask []byte) Node {
	var n Node
	for i := 0; i < len(value); i += 4 {
		end := min(i+4, len(value))
		var v, m uint32
		for j := i; j < end; j++ {
			mb := byte(0xff)
			if mask != nil {
				mb = mask[j]
			}
			v = v<<8 | uint32(value[j]&mb)
			m = m<<8 | uint32(mb)
		}
		n = and(n, NewTest(base, off+i, end-i, m, OpEQ, v))
	}
	if n == nil {
		return &Const{Value: true}
	}
	return n
}

// and joins two nodes, treating nil as "nothing yet" and folding constants.
func and(x, y Node) Node {
	if x == nil {
		return y
	}
	if c, ok := x.(*Const); ok {
		if c.Value {
			return y
		}
		return x
	}
	if c, ok := y.(*Const); ok {
		if c.Value {
			return x
		}
		return y
	}
	return &And{X: x, Y: y}
}

// or joins two nodes, folding constants.
func or(x, y Node) Node {
	if c, ok := x.(*Const); ok {
		if c.Value {
			return x
		}
		return y
	}
	if c, ok := y.(*Const); ok {
		if c.Value {
			return y
		}
		return x
	}
	return &Or{X: x, Y: y}
}
