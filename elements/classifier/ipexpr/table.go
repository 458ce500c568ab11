package ipexpr

import "encoding/binary"

// Decision-table evaluation.
//
// Walking the DAG costs a dependent chain per step (load the step, load
// the packet word, compare, branch to the next step), a dozen of them for
// a typical rule list. When the program has few distinct tests, Match
// instead evaluates every one of them, branch-free and independently (the
// CPU overlaps them), into a bit vector, and one load from a table built
// at compile time by walking the DAG for each bit vector gives the output.
// Every packet is still tested against every rule; only the order of the
// work changes. The table path is taken when all the bytes any test reads
// are present; shorter packets (where "a read past the end is false"
// matters) and programs with MAC tests use the step walk.

// maxTableTests bounds the table at 1<<maxTableTests one-byte entries.
const maxTableTests = 12

// window is how many bytes from the IP header the table path may read
// (tests beyond it keep the program on the walk). Offsets into it are
// bytes, so loads from a window-sized array need no bounds checks.
const window = 256

// winBytes is the view the table path reads through: the window plus the
// tail of a 4-byte load that starts at its last offset.
type winBytes = [window + 4]byte

// fastTest is one distinct test in table form: load the big-endian word at
// off from its base, mask it, and the test holds when x-lo <= span
// (unsigned), an interval check that covers ==, < and >. The word is the
// one that ends at the test's last byte, so no shift is needed (tests in
// the first bytes of a header load its first word and have their mask and
// interval shifted instead).
type fastTest struct {
	off  uint32
	mask uint32
	lo   uint32
	span uint32
}

// buildTable fills p.fast, p.table, p.needIP and p.needT when the program
// qualifies; otherwise it leaves them empty and Match walks.
func (p *Program) buildTable() {
	if len(p.steps) == 0 {
		return
	}
	type key struct {
		base      Base
		off       int32
		size      uint8
		mask, val uint32
		op        cmpOp
	}
	ids := map[key]int{}
	bit := make([]int, len(p.steps))
	var fastIP, fastT []fastTest
	needIP, needT := 0, 0
	for i := range p.steps {
		s := &p.steps[i]
		if s.base == BaseMAC {
			return
		}
		size := (32 - int(s.shift)) / 8
		k := key{s.base, s.off, uint8(size), s.mask, s.val, s.op}
		id, ok := ids[k]
		if !ok {
			id = len(ids)
			if id == maxTableTests {
				return
			}
			ids[k] = id
			end := int(s.off) + size
			if s.off < 0 || end > window-64 {
				return
			}
			pos := max(end-4, 0)
			sh := uint(8 * (pos + 4 - end))
			var lo, hi uint32
			switch s.op {
			case cmpEQ:
				lo, hi = s.val, s.val
			case cmpLT:
				lo, hi = 0, s.val-1
			default:
				lo, hi = s.val+1, s.mask
			}
			hi = min(hi, s.mask)
			ft := fastTest{off: uint32(pos), mask: s.mask << sh, lo: lo << sh, span: (hi - lo) << sh}
			if (s.op == cmpLT && s.val == 0) || (s.op == cmpGT && s.val >= s.mask) || hi < lo {
				ft.mask, ft.lo, ft.span = 0, 1, 0 // never true
			}
			if s.base == BaseTransport {
				needT = max(needT, pos+4)
				fastT = append(fastT, ft)
				id = -len(fastT) // numbered after the IP tests, below
			} else {
				needIP = max(needIP, pos+4)
				fastIP = append(fastIP, ft)
				id = len(fastIP) - 1
			}
			ids[k] = id
		}
		bit[i] = id
	}
	// Match evaluates the IP tests, then the transport tests, shifting
	// each result in at the bottom: test k of n lands in bit n-1-k.
	n := len(fastIP) + len(fastT)
	for i, id := range bit {
		if id < 0 {
			bit[i] = len(fastIP) - id - 1
		}
	}
	table := make([]int16, 1<<n)
	for v := range table {
		i := p.root
		for i >= 0 {
			s := &p.steps[i]
			if v>>(n-1-bit[i])&1 != 0 {
				i = s.yes
			} else {
				i = s.no
			}
		}
		table[v] = int16(-2 - i)
	}
	if needT > 0 {
		needIP = max(needIP, 1) // the IHL byte
	}
	p.fastIP, p.fastT, p.table, p.needIP, p.needT = fastIP, fastT, table, needIP, needT
	// The common case, a transport header right after a 20-byte IP
	// header, reads every test at a fixed offset: blocks of four tests,
	// in the same order, padded in front with never-true tests (their
	// zero bits fall off the top of the table index).
	all := make([]fastTest, 0, n+3)
	for range (4 - n%4) % 4 {
		all = append(all, fastTest{mask: 0, lo: 1, span: 0})
	}
	all = append(all, fastIP...)
	for _, t := range fastT {
		t.off += 20
		all = append(all, t)
	}
	p.blocks = make([][4]fastTest, len(all)/4)
	for i := range p.blocks {
		p.blocks[i] = [4]fastTest(all[4*i:])
	}
	// evalBlocks gathers misses rather than hits: the same table with
	// its index complemented.
	p.blockTable = make([]int16, len(table))
	for v := range table {
		p.blockTable[v] = table[len(table)-1-v]
	}
}

// undecided is matchTable's answer when the packet must be walked.
const undecided = -2

// matchTable is Match's table path. It returns undecided when the packet
// is too short for it (or its transport header is absent).
func (p *Program) matchTable(ip []byte) int {
	if len(ip) < p.needIP {
		return undecided
	}
	toff := 20
	if p.needT > 0 {
		hl := int(ip[0]&0x0f) << 2
		if hl < 20 || hl+p.needT > len(ip) {
			return undecided
		}
		toff = hl
	}
	// Every byte a test reads lies in ip[:len(ip)] and in the window.
	// Viewing the window as an array lets the loads go without bounds
	// checks; a slice without room behind it is copied first.
	if cap(ip) < len(winBytes{}) {
		return p.evalCopy(ip, toff)
	}
	h := (*winBytes)(ip[:len(winBytes{})])
	if toff != 20 {
		return p.eval(h, toff)
	}
	// The common case, every test at a fixed offset: four tests per
	// iteration with constant indexes and no per-test offset arithmetic
	// or flags (see miss).
	var bits uint64
	for i := range p.blocks {
		b := &p.blocks[i]
		bits = bits<<4 | miss(h, &b[0])<<3 | miss(h, &b[1])<<2 | miss(h, &b[2])<<1 | miss(h, &b[3])
	}
	return int(p.blockTable[bits&uint64(len(p.blockTable)-1)])
}

// miss is 1 when test t fails on h and 0 when it holds: the sign of
// span - (x-lo) computed in 64 bits.
func miss(h *winBytes, t *fastTest) uint64 {
	x := binary.BigEndian.Uint32(h[uint8(t.off):])&t.mask - t.lo
	return (uint64(t.span) - uint64(x)) >> 63
}

// evalCopy runs eval on a copy of a slice with little capacity (tests,
// Classifier on odd slices); packet buffers always have room.
//
//go:noinline
func (p *Program) evalCopy(ip []byte, toff int) int {
	var w winBytes
	copy(w[:], ip)
	return p.eval(&w, toff)
}

// eval computes every test into a bit vector and looks up the outcome.
func (p *Program) eval(h *winBytes, toff int) int {
	var bits uint
	for k := range p.fastIP {
		t := &p.fastIP[k]
		x := binary.BigEndian.Uint32(h[uint8(t.off):]) & t.mask
		bits = bits<<1 | b2u(x-t.lo <= t.span)
	}
	for k := range p.fastT {
		t := &p.fastT[k]
		x := binary.BigEndian.Uint32(h[uint8(int(t.off)+toff):]) & t.mask
		bits = bits<<1 | b2u(x-t.lo <= t.span)
	}
	return int(p.table[bits&uint(len(p.table)-1)])
}

func b2u(b bool) uint {
	var u uint
	if b {
		u = 1
	}
	return u
}
