package ipexpr

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// cmpOp is a step's comparison after normalization: != , >= and <= are
// rewritten as ==, < and > with the branches swapped.
type cmpOp uint8

const (
	cmpEQ cmpOp = iota
	cmpLT
	cmpGT
)

// step is one node of a compiled program: load the field, mask it,
// compare, and continue at yes or no (short when the bytes are missing).
// Successors >= 0 are steps; a successor s < 0 ends the walk with output
// -2-s (-1: drop).
type step struct {
	off            int32 // byte offset from the base
	mask, val      uint32
	yes, no, short int32
	size           uint8 // bytes the test reads (1-4)
	shift          uint8 // 32 - 8*size: aligns a 4-byte load
	base           Base
	op             cmpOp
	_              [4]byte // 32 bytes: indexing is a shift
}

// Program is a compiled rule list: a DAG of masked word tests.
type Program struct {
	steps         []step
	listing       []Test // the test each step performs, for String
	targets       [][2]int32
	root          int32
	usesTransport bool
	usesMAC       bool
	raw           bool

	// Decision-table form (see table.go): every distinct test of the
	// program evaluated branch-free into a bit vector, which indexes the
	// precomputed outcome. nil when the program does not qualify.
	fastIP     []fastTest    // tests on the IP header
	fastT      []fastTest    // tests on the transport header
	blocks     [][4]fastTest // all tests for a 20-byte IP header
	blockTable []int16       // table indexed by the misses of blocks
	table      []int16
	needIP     int // bytes from the IP base the fast tests read
	needT      int // bytes from the transport base the fast tests read
}

// emit lays the DAG out as steps in depth-first order from the root.
func emit(d *dag, root int32, opt Options) *Program {
	p := &Program{raw: opt.Raw}
	index := make(map[int32]int32, len(d.nodes))
	var order []int32
	var visit func(n int32)
	visit = func(n int32) {
		if n < 0 {
			return
		}
		if _, ok := index[n]; ok {
			return
		}
		index[n] = int32(len(order))
		order = append(order, n)
		// "No" first: in rule lists the failing branch is the common
		// path, which then runs forward through memory.
		visit(d.nodes[n].no)
		visit(d.nodes[n].yes)
	}
	visit(root)
	at := func(n int32) int32 {
		if n < 0 {
			return n
		}
		return index[n]
	}
	p.root = at(root)
	for _, n := range order {
		nd := d.nodes[n]
		t := d.tests[nd.test]
		yes, no := at(nd.yes), at(nd.no)
		s := step{off: int32(t.Off), size: uint8(t.Len), mask: t.Mask, val: t.Value,
			yes: yes, no: no, short: no, shift: uint8(32 - 8*t.Len), base: t.Base}
		switch t.Op {
		case OpNE:
			s.yes, s.no = no, yes
		case OpLT:
			s.op = cmpLT
		case OpGE:
			s.op, s.yes, s.no = cmpLT, no, yes
		case OpGT:
			s.op = cmpGT
		case OpLE:
			s.op, s.yes, s.no = cmpGT, no, yes
		}
		p.usesTransport = p.usesTransport || t.Base == BaseTransport
		p.usesMAC = p.usesMAC || t.Base == BaseMAC
		p.steps = append(p.steps, s)
		p.listing = append(p.listing, t)
		p.targets = append(p.targets, [2]int32{yes, no})
	}
	p.buildTable()
	return p
}

// noTransport is a transport offset no packet reaches: every transport
// test then takes its short branch.
const noTransport = 1 << 24

// Match runs the program on one packet: ip from the IP header (or the data
// start for raw programs) to the end of the packet, mac from the Ethernet
// header (nil if unknown). It returns the output, or -1 to drop. It never
// allocates and never reads out of bounds.
func (p *Program) Match(ip, mac []byte) int {
	if p.table != nil {
		if out := p.matchTable(ip); out != undecided {
			return out
		}
	}
	return p.walk(ip, mac)
}

// walk is the general evaluator: it follows the DAG step by step, taking
// the short branch of any test whose bytes are missing.
func (p *Program) walk(ip, mac []byte) int {
	i := p.root
	toff := noTransport
	if p.usesTransport && len(ip) > 0 {
		if hl := int(ip[0]&0x0f) * 4; hl >= 20 && hl <= len(ip) {
			toff = hl
		}
	}
	steps := p.steps
	for i >= 0 {
		s := &steps[i]
		off := int(s.off)
		if s.base != BaseIP { // rare: the common case stays branch-light
			if s.base == BaseMAC {
				i = s.eval(mac, off)
				continue
			}
			off += toff
		}
		if uint(off)+4 > uint(len(ip)) {
			i = s.eval(ip, off)
			continue
		}
		x := binary.BigEndian.Uint32(ip[off:]) >> (s.shift & 31) & s.mask
		switch {
		case s.op == cmpEQ:
			i = s.no
			if x == s.val {
				i = s.yes
			}
		case s.op == cmpLT:
			i = s.no
			if x < s.val {
				i = s.yes
			}
		default:
			i = s.no
			if x > s.val {
				i = s.yes
			}
		}
	}
	return int(-2 - i)
}

// eval is the slow path of one step: a field near the end of the data, or
// in the MAC header. It returns the next step.
//
//go:noinline
func (s *step) eval(d []byte, off int) int32 {
	end := off + int(s.size)
	if off < 0 || end > len(d) {
		return s.short
	}
	var x uint32
	for _, c := range d[off:end] {
		x = x<<8 | uint32(c)
	}
	x &= s.mask
	var ok bool
	switch s.op {
	case cmpEQ:
		ok = x == s.val
	case cmpLT:
		ok = x < s.val
	default:
		ok = x > s.val
	}
	if ok {
		return s.yes
	}
	return s.no
}

// UsesMAC reports whether any test reads the MAC header (callers may pass
// a nil mac slice to Match otherwise).
func (p *Program) UsesMAC() bool { return p.usesMAC }

// Len is the number of steps (tests) in the program.
func (p *Program) Len() int { return len(p.steps) }

// String lists the program for the `program` handler: one line per step
// with its test and where each outcome leads.
func (p *Program) String() string {
	var b strings.Builder
	if len(p.steps) == 0 {
		fmt.Fprintf(&b, "all packets -> %s\n", target(p.root))
		return b.String()
	}
	base := ""
	if p.raw {
		base = "data"
	}
	for i, t := range p.listing {
		name := base
		if name == "" {
			name = t.Base.String()
		}
		fmt.Fprintf(&b, "%3d  %-34s yes->%-8s no->%s\n", i, t.format(name),
			target(p.targets[i][0]), target(p.targets[i][1]))
	}
	return b.String()
}

func target(n int32) string {
	switch {
	case n >= 0:
		return fmt.Sprintf("step %d", n)
	case n == codeDrop:
		return "drop"
	}
	return fmt.Sprintf("[%d]", -2-n)
}
