package packet

// MaxBatch is the most packets one Batch carries. Sources with a larger
// BURST emit several batches.
const MaxBatch = 64

// Batch is a fixed-size vector of packets: the unit that moves between
// elements. It is a value type with no heap pointers of its own, so
// elements keep scratch batches per output port without allocating.
type Batch struct {
	N int
	P [MaxBatch]*Packet
}

// Append adds p; it reports false (and does not take p) when full.
func (b *Batch) Append(p *Packet) bool {
	if b.N == MaxBatch {
		return false
	}
	b.P[b.N] = p
	b.N++
	return true
}

// Full reports whether no more packets fit.
func (b *Batch) Full() bool { return b.N == MaxBatch }

// Packets returns the live part of the batch.
func (b *Batch) Packets() []*Packet { return b.P[:b.N] }

// Reset forgets the packets without freeing them (their ownership has
// moved elsewhere).
func (b *Batch) Reset() {
	clear(b.P[:b.N])
	b.N = 0
}

// Filter keeps the packets for which keep returns true, in order, and
// hands the others to drop. It compacts in place. It is small enough to
// be inlined, and then so are keep and drop when they are function
// literals: an element's Process costs no indirect call per packet.
func (b *Batch) Filter(keep func(*Packet) bool, drop func(*Packet)) {
	j := 0
	for _, p := range b.P[:b.N] {
		if keep(p) {
			b.P[j] = p
			j++
		} else {
			drop(p)
		}
	}
	clear(b.P[j:b.N])
	b.N = j
}
