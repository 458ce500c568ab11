// Package sym is the leaf of the verifier: symbolic values, an interval
// solver over fixed-width bit-vectors, the symbolic packet (header fields at
// absolute offsets, annotations and per-flow state as metadata) and the
// Model interface that element packages implement next to their code.
// It imports no element package, so element packages can import it.
package sym

import (
	"fmt"
	"strings"
)

// Iv is an inclusive interval of unsigned values.
type Iv struct{ Lo, Hi uint32 }

// Set is a sorted list of disjoint, non-adjacent intervals: the values an
// expression of some width may take. A nil Set is empty; Full(w) is every
// w-bit value. Sets are immutable once built.
type Set []Iv

// MaxIntervals caps the size of sets built from masked comparisons; past it
// a constraint is dropped and the result marked approximate.
const MaxIntervals = 4096

// Max is the largest w-bit value.
func Max(w uint8) uint32 {
	if w >= 32 {
		return 0xffffffff
	}
	return 1<<w - 1
}

// Full is every w-bit value.
func Full(w uint8) Set { return Set{{0, Max(w)}} }

// Point is {v}.
func Point(v uint32) Set { return Set{{v, v}} }

// Range is [lo, hi] (empty if lo > hi).
func Range(lo, hi uint32) Set {
	if lo > hi {
		return nil
	}
	return Set{{lo, hi}}
}

// Prefix is every 32-bit value whose top bits equal those of addr.
func Prefix(addr uint32, bits int) Set {
	if bits <= 0 {
		return Full(32)
	}
	if bits >= 32 {
		return Point(addr)
	}
	m := ^uint32(0) << (32 - uint(bits))
	return Set{{addr & m, addr&m | ^m}}
}

// Empty reports whether s has no value.
func (s Set) Empty() bool { return len(s) == 0 }

// Contains reports whether v is in s.
func (s Set) Contains(v uint32) bool {
	lo, hi := 0, len(s)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case v < s[m].Lo:
			hi = m
		case v > s[m].Hi:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}

// Size is the number of values (saturating at 2^32 as 1<<32).
func (s Set) Size() uint64 {
	var n uint64
	for _, iv := range s {
		n += uint64(iv.Hi) - uint64(iv.Lo) + 1
	}
	return n
}

// IsFull reports whether s holds every w-bit value.
func (s Set) IsFull(w uint8) bool { return len(s) == 1 && s[0].Lo == 0 && s[0].Hi == Max(w) }

// Equal compares two normalized sets.
func (s Set) Equal(t Set) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

// Intersect is s ∩ t.
func (s Set) Intersect(t Set) Set {
	var out Set
	i, j := 0, 0
	for i < len(s) && j < len(t) {
		lo, hi := max(s[i].Lo, t[j].Lo), min(s[i].Hi, t[j].Hi)
		if lo <= hi {
			out = append(out, Iv{lo, hi})
		}
		if s[i].Hi < t[j].Hi {
			i++
		} else {
			j++
		}
	}
	return out
}

// Union is s ∪ t.
func (s Set) Union(t Set) Set {
	all := make([]Iv, 0, len(s)+len(t))
	i, j := 0, 0
	for i < len(s) || j < len(t) {
		if j >= len(t) || (i < len(s) && s[i].Lo <= t[j].Lo) {
			all = append(all, s[i])
			i++
		} else {
			all = append(all, t[j])
			j++
		}
	}
	return normalize(all)
}

// normalize merges sorted-by-Lo intervals that overlap or touch.
func normalize(ivs []Iv) Set {
	var out Set
	for _, iv := range ivs {
		if n := len(out); n > 0 && (iv.Lo <= out[n-1].Hi || (out[n-1].Hi != 0xffffffff && iv.Lo == out[n-1].Hi+1)) {
			if iv.Hi > out[n-1].Hi {
				out[n-1].Hi = iv.Hi
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// Complement is every w-bit value not in s.
func (s Set) Complement(w uint8) Set {
	var out Set
	next := uint64(0)
	for _, iv := range s {
		if uint64(iv.Lo) > next {
			out = append(out, Iv{uint32(next), iv.Lo - 1})
		}
		next = uint64(iv.Hi) + 1
	}
	if next <= uint64(Max(w)) {
		out = append(out, Iv{uint32(next), Max(w)})
	}
	return out
}

// Shift is {(v + c) mod 2^w : v ∈ s}.
func (s Set) Shift(c uint32, w uint8) Set {
	c &= Max(w)
	if c == 0 || len(s) == 0 {
		return s
	}
	m := uint64(Max(w))
	var lowPart, highPart []Iv
	for _, iv := range s {
		lo, hi := uint64(iv.Lo)+uint64(c), uint64(iv.Hi)+uint64(c)
		switch {
		case lo > m: // wholly wrapped
			lowPart = append(lowPart, Iv{uint32(lo - m - 1), uint32(hi - m - 1)})
		case hi > m: // split at the wrap
			highPart = append(highPart, Iv{uint32(lo), uint32(m)})
			lowPart = append([]Iv{{0, uint32(hi - m - 1)}}, lowPart...)
		default:
			highPart = append(highPart, Iv{uint32(lo), uint32(hi)})
		}
	}
	// lowPart intervals are in order except the split one, which starts at 0.
	all := append(sortIvs(lowPart), highPart...)
	return normalize(all)
}

func sortIvs(ivs []Iv) []Iv {
	for i := 1; i < len(ivs); i++ {
		for j := i; j > 0 && ivs[j].Lo < ivs[j-1].Lo; j-- {
			ivs[j], ivs[j-1] = ivs[j-1], ivs[j]
		}
	}
	return ivs
}

// Min is the smallest value (s must be non-empty).
func (s Set) Min() uint32 { return s[0].Lo }

// Nth returns the n-th smallest value and whether it exists.
func (s Set) Nth(n uint64) (uint32, bool) {
	for _, iv := range s {
		k := uint64(iv.Hi) - uint64(iv.Lo) + 1
		if n < k {
			return iv.Lo + uint32(n), true
		}
		n -= k
	}
	return 0, false
}

func (s Set) String() string {
	if len(s) == 0 {
		return "{}"
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, iv := range s {
		if i == 8 {
			fmt.Fprintf(&b, ", ... %d more", len(s)-8)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if iv.Lo == iv.Hi {
			fmt.Fprintf(&b, "%d", iv.Lo)
		} else {
			fmt.Fprintf(&b, "%d-%d", iv.Lo, iv.Hi)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// Cmp is a comparison operator, numbered as ipexpr.Op.
type Cmp uint8

const (
	EQ Cmp = iota
	NE
	LT
	GT
	LE
	GE
)

// Negate is the operator that holds exactly where c does not.
func (c Cmp) Negate() Cmp {
	return [...]Cmp{EQ: NE, NE: EQ, LT: GE, GT: LE, LE: GT, GE: LT}[c]
}

func (c Cmp) holds(sign int) bool {
	switch c {
	case EQ:
		return sign == 0
	case NE:
		return sign != 0
	case LT:
		return sign < 0
	case GT:
		return sign > 0
	case LE:
		return sign <= 0
	case GE:
		return sign >= 0
	}
	return false
}

// Masked is {x of width w : (x & mask) op v}; exact is false when the set
// would exceed MaxIntervals (then the full set is returned).
func Masked(w uint8, mask uint32, op Cmp, v uint32) (s Set, exact bool) {
	mask &= Max(w)
	if v > Max(w) { // (x&mask) < v always
		if op.holds(-1) {
			return Full(w), true
		}
		return nil, true
	}
	b := maskBuilder{mask: mask, op: op, v: v}
	if !b.run(int(w)-1, 0, 0) {
		return Full(w), false
	}
	return normalize(b.out), true
}

type maskBuilder struct {
	mask, v uint32
	op      Cmp
	out     []Iv
}

// run decides bits from i down; p holds the bits above i, sign compares the
// masked bits seen so far with v's.
func (b *maskBuilder) run(i int, p uint32, sign int) bool {
	var below uint32
	if i >= 0 {
		below = uint32((uint64(1) << uint(i+1)) - 1)
	}
	if sign != 0 || b.mask&below == 0 {
		if sign == 0 && b.v&below != 0 {
			sign = -1 // the masked bits left are all 0, v has some set
		}
		if b.op.holds(sign) {
			b.out = append(b.out, Iv{p, p | below})
			if len(b.out) > MaxIntervals {
				return false
			}
		}
		return true
	}
	bit := uint32(1) << uint(i)
	vb := b.v&bit != 0
	if b.mask&bit == 0 {
		ns := 0
		if vb {
			ns = -1
		}
		return b.run(i-1, p, ns) && b.run(i-1, p|bit, ns)
	}
	s0, s1 := 0, 1
	if vb {
		s0, s1 = -1, 0
	}
	return b.run(i-1, p, s0) && b.run(i-1, p|bit, s1)
}
