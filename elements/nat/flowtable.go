// Package nat holds the NAPT elements IPRewriter, TCPRewriter and
// UDPRewriter, their flow table and their INPUTSPEC parser.
//
// A flow (one NAT session) has two directions. Each direction is stored in
// the flow table under the 5-tuple its packets arrive with, so one lookup
// finds both the flow and the direction. Packets of the forward direction
// are rewritten to the pattern's tuple; packets of the reply direction are
// rewritten back to the original endpoints.
package nat

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/netip"
)

// Directions of a flow.
const (
	DirForward = 0 // packets of the flow that created the mapping
	DirReply   = 1 // packets coming back to the rewritten tuple
)

// FlowKey is a 5-tuple as it appears in a packet. It is a fixed-size,
// comparable value (16 bytes with padding) so the table compares keys with
// a few word compares and never allocates.
type FlowKey struct {
	Src, Dst     uint32 // IPv4 addresses, host byte order
	Sport, Dport uint16
	Proto        uint8
}

// Reverse returns the tuple of a packet travelling the other way.
func (k FlowKey) Reverse() FlowKey {
	return FlowKey{Src: k.Dst, Dst: k.Src, Sport: k.Dport, Dport: k.Sport, Proto: k.Proto}
}

// String prints the key in Click's IPFlowID form "(SRC, SPORT, DST, DPORT)".
func (k FlowKey) String() string {
	return fmt.Sprintf("(%s, %d, %s, %d)", addrString(k.Src), k.Sport, addrString(k.Dst), k.Dport)
}

func addrString(a uint32) string {
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}).String()
}

// packedKey is a FlowKey in two machine words, the form the table hashes
// and compares: a = src<<32 | dst, b = sport<<24 | dport<<8 | proto. The
// packet path builds it straight from the headers with two loads.
type packedKey struct{ a, b uint64 }

func (k FlowKey) pack() packedKey {
	return packedKey{a: uint64(k.Src)<<32 | uint64(k.Dst),
		b: uint64(k.Sport)<<24 | uint64(k.Dport)<<8 | uint64(k.Proto)}
}

// hash is a two-word multiply-shift hash keyed by the table's random seed
// (so remote hosts cannot aim tuples at one bucket). It is never 0, so a
// zero hash marks an empty slot.
func (k packedKey) hash(seed uint64) uint32 {
	h := (k.a^seed)*0x9e3779b97f4a7c15 + (k.b^seed>>17)*0xbf58476d1ce4e5b9
	return uint32(h>>32) | 1
}

// Flow is one NAT session: the forward and reply tuples, where each
// direction's packets go, when the session expires, and TCP bookkeeping.
// The verifier reads flows as state: Key[d] is the tuple packets of
// direction d arrive with, Rewritten(d) the tuple they leave with.
type Flow struct {
	Key    [2]FlowKey // arriving tuple per direction
	packed [2]packedKey
	Output [2]uint16 // output port per direction
	Input  uint16    // input port whose spec created the flow
	Expiry int64     // Unix ns; the flow is dead at or after this time

	timeout int64     // current idle timeout, refreshed on every packet
	ipDelta uint32    // one's-complement IP header delta, forward direction
	l4Delta uint32    // same, with the ports added (TCP/UDP checksum)
	state   flowState // TCP FIN/RST and bidirectional tracking
	live    bool
	seq     [2]seqDelta // TCPRewriter sequence-number shifts per direction
}

type flowState uint8

const (
	stateFinForward flowState = 1 << iota // FIN seen in the forward direction
	stateFinReply                         // FIN seen in the reply direction
	stateReset                            // RST seen
	stateBidir                            // reply direction has carried a packet
	stateSeq                              // a sequence delta is installed
)

func (s flowState) done() bool {
	return s&stateReset != 0 || s&(stateFinForward|stateFinReply) == stateFinForward|stateFinReply
}

// Rewritten returns the tuple packets of direction dir leave with: the
// reverse of the other direction's arriving tuple.
func (f *Flow) Rewritten(dir int) FlowKey { return f.Key[1-dir].Reverse() }

// Live reports whether the flow slot holds a session.
func (f *Flow) Live() bool { return f.live }

// Done reports whether the TCP session has ended (RST, or FIN both ways).
func (f *Flow) Done() bool { return f.state.done() }

// setDeltas precomputes the one's-complement checksum change of the forward
// rewrite, so each packet costs one add and fold per checksum (the reply
// direction applies the complement, which undoes it).
func (f *Flow) setDeltas() {
	from, to := f.Key[DirForward], f.Rewritten(DirForward)
	d := wordDelta(0, from.Src, to.Src)
	d = wordDelta(d, from.Dst, to.Dst)
	f.ipDelta = fold(d)
	d = d + uint32(^from.Sport) + uint32(to.Sport)
	d = d + uint32(^from.Dport) + uint32(to.Dport)
	f.l4Delta = fold(d)
}

func wordDelta(d, from, to uint32) uint32 {
	d += uint32(^uint16(from>>16)) + uint32(^uint16(from))
	return d + uint32(uint16(to>>16)) + uint32(uint16(to))
}

func fold(s uint32) uint32 {
	s = s&0xffff + s>>16
	return s&0xffff + s>>16
}

// delta returns the checksum delta for direction dir.
func (f *Flow) delta(dir int, l4 bool) uint32 {
	d := f.ipDelta
	if l4 {
		d = f.l4Delta
	}
	if dir == DirReply {
		d = uint32(^uint16(d))
	}
	return d
}

// slot is one open-addressing bucket: the key's hash (0 = empty) and a
// reference to the flow direction (flow index << 1 | direction).
type slot struct {
	hash uint32
	ref  uint32
}

// FlowTable holds up to a fixed number of flows in preallocated storage and
// indexes both directions of each in an open-addressing hash table with
// linear probing. Deletion shifts the following run back (no tombstones),
// so probe sequences never degrade. The slot array has at least four times
// as many buckets as flows (two keys per flow, load <= 1/2).
type FlowTable struct {
	slots []slot
	mask  uint32
	seed  uint64
	flows []Flow
	free  []int32 // stack of unused flow indexes
	used  int     // high-water mark of flow indexes ever handed out
}

// NewFlowTable returns a table for capacity flows.
func NewFlowTable(capacity int) *FlowTable {
	if capacity < 1 {
		capacity = 1
	}
	nslots := 1 << bits.Len(uint(4*capacity-1))
	t := &FlowTable{
		slots: make([]slot, nslots),
		mask:  uint32(nslots - 1),
		seed:  rand.Uint64(),
		flows: make([]Flow, capacity),
		free:  make([]int32, capacity),
	}
	for i := range t.free {
		t.free[i] = int32(capacity - 1 - i) // pop hands out index 0 first
	}
	return t
}

// Len is the number of live flows.
func (t *FlowTable) Len() int { return len(t.flows) - len(t.free) }

// Cap is the most flows the table holds.
func (t *FlowTable) Cap() int { return len(t.flows) }

// Full reports whether no flow slot is free.
func (t *FlowTable) Full() bool { return len(t.free) == 0 }

// Flow returns flow i (live or not).
func (t *FlowTable) Flow(i int32) *Flow { return &t.flows[i] }

// Lookup finds the flow direction whose arriving tuple is k. It returns
// the flow index and direction, or -1.
func (t *FlowTable) Lookup(k FlowKey) (int32, int) { return t.lookup(k.pack()) }

func (t *FlowTable) lookup(k packedKey) (int32, int) {
	h := k.hash(t.seed)
	slots := t.slots
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := slots[i]
		if s.hash == h {
			fi, dir := int32(s.ref>>1), int(s.ref&1)
			if t.flows[fi].packed[dir] == k {
				return fi, dir
			}
		} else if s.hash == 0 {
			return -1, 0
		}
	}
}

// Insert stores a new flow with the given forward and reply arriving
// tuples and returns its index, or -1 when the table is full. The caller
// makes sure neither key is present.
func (t *FlowTable) Insert(fwd, reply FlowKey) int32 {
	n := len(t.free)
	if n == 0 {
		return -1
	}
	fi := t.free[n-1]
	t.free = t.free[:n-1]
	if int(fi) >= t.used {
		t.used = int(fi) + 1
	}
	f := &t.flows[fi]
	*f = Flow{Key: [2]FlowKey{fwd, reply}, packed: [2]packedKey{fwd.pack(), reply.pack()}, live: true}
	f.setDeltas()
	t.put(f.packed[DirForward], uint32(fi)<<1|DirForward)
	t.put(f.packed[DirReply], uint32(fi)<<1|DirReply)
	return fi
}

func (t *FlowTable) put(k packedKey, ref uint32) {
	h := k.hash(t.seed)
	i := h & t.mask
	for t.slots[i].hash != 0 {
		i = (i + 1) & t.mask
	}
	t.slots[i] = slot{hash: h, ref: ref}
}

// Remove frees flow fi and unindexes both of its directions.
func (t *FlowTable) Remove(fi int32) {
	f := &t.flows[fi]
	if !f.live {
		return
	}
	t.unput(f.packed[DirForward], uint32(fi)<<1|DirForward)
	t.unput(f.packed[DirReply], uint32(fi)<<1|DirReply)
	f.live = false
	t.free = append(t.free, fi) // never grows past capacity: no allocation
}

// unput deletes the slot holding ref and shifts later members of the probe
// run back into the hole, so lookups never need tombstones.
func (t *FlowTable) unput(k packedKey, ref uint32) {
	h := k.hash(t.seed)
	i := h & t.mask
	for t.slots[i].ref != ref || t.slots[i].hash != h {
		if t.slots[i].hash == 0 {
			return
		}
		i = (i + 1) & t.mask
	}
	for j := (i + 1) & t.mask; t.slots[j].hash != 0; j = (j + 1) & t.mask {
		home := t.slots[j].hash & t.mask
		// Move slot j into the hole at i unless its home lies cyclically
		// in (i, j]: then it is still reachable from its home.
		if (j-home)&t.mask >= (j-i)&t.mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = slot{}
}

// Each calls fn for every live flow in index order.
func (t *FlowTable) Each(fn func(i int32, f *Flow)) {
	for i := 0; i < t.used; i++ {
		if t.flows[i].live {
			fn(int32(i), &t.flows[i])
		}
	}
}

// Expire removes every flow whose expiry is at or before now and returns
// how many were removed; onRemove (may be nil) sees each one first.
func (t *FlowTable) Expire(now int64, onRemove func(f *Flow)) int {
	n := 0
	for i := 0; i < t.used; i++ {
		f := &t.flows[i]
		if f.live && f.Expiry <= now {
			if onRemove != nil {
				onRemove(f)
			}
			t.Remove(int32(i))
			n++
		}
	}
	return n
}

func (k packedKey) unpack() FlowKey {
	return FlowKey{Src: uint32(k.a >> 32), Dst: uint32(k.a), Sport: uint16(k.b >> 24),
		Dport: uint16(k.b >> 8), Proto: uint8(k.b)}
}
