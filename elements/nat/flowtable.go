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
	"net/netip"

	"flowbox/appliance/flowtable"
)

// Directions of a flow.
const (
	DirForward = 0 // packets of the flow that created the mapping
	DirReply   = 1 // packets coming back to the rewritten tuple
)

// FlowKey is a 5-tuple as it appears in a packet (addresses and ports in
// host byte order). It is a fixed-size, comparable value; the table keys
// flows by its packed two-word form.
type FlowKey flowtable.Tuple

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

// pack returns the key in the table's two-word form.
func (k FlowKey) pack() flowtable.Key { return flowtable.Tuple(k).Key() }

// Flow is one NAT session: the forward and reply tuples, where each
// direction's packets go, when the session expires, and TCP bookkeeping.
// The verifier reads flows as state: Key[d] is the tuple packets of
// direction d arrive with, Rewritten(d) the tuple they leave with.
type Flow struct {
	Key    [2]FlowKey // arriving tuple per direction
	Output [2]uint16  // output port per direction
	Input  uint16     // input port whose spec created the flow
	Expiry int64      // Unix ns; the flow is dead at or after this time

	timeout int64       // current idle timeout, refreshed on every packet
	ipDelta uint32      // one's-complement IP header delta, forward direction
	l4Delta uint32      // same, with the ports added (TCP/UDP checksum)
	state   flowState   // TCP FIN/RST and bidirectional tracking
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

// FlowTable holds up to a fixed number of flows in preallocated storage and
// indexes both directions of each (way 0 is DirForward, way 1 DirReply) in
// a flowtable.Table, so one lookup finds the flow and the direction.
type FlowTable struct {
	t flowtable.Table[Flow] // held by value: one pointer less on the packet path
}

// NewFlowTable returns a table for capacity flows.
func NewFlowTable(capacity int) *FlowTable {
	return &FlowTable{t: *flowtable.New[Flow](capacity, 2)}
}

// Len is the number of live flows.
func (t *FlowTable) Len() int { return t.t.Len() }

// Cap is the most flows the table holds.
func (t *FlowTable) Cap() int { return t.t.Cap() }

// Full reports whether no flow slot is free.
func (t *FlowTable) Full() bool { return t.t.Full() }

// Flow returns flow i (live or not).
func (t *FlowTable) Flow(i int32) *Flow { return t.t.At(i) }

// Lookup finds the flow direction whose arriving tuple is k. It returns
// the flow index and direction, or -1.
func (t *FlowTable) Lookup(k FlowKey) (int32, int) { return t.t.Lookup(k.pack()) }

// lookup is Lookup for a key already packed (built from packet bytes).
func (t *FlowTable) lookup(k flowtable.Key) (int32, int) { return t.t.Lookup(k) }

// Insert stores a new flow with the given forward and reply arriving
// tuples and returns its index, or -1 when the table is full. The caller
// makes sure neither key is present.
func (t *FlowTable) Insert(fwd, reply FlowKey) int32 {
	fi := t.t.InsertPair(fwd.pack(), reply.pack())
	if fi >= 0 {
		f := t.t.At(fi)
		*f = Flow{Key: [2]FlowKey{fwd, reply}}
		f.setDeltas()
	}
	return fi
}

// Remove frees flow fi and unindexes both of its directions.
func (t *FlowTable) Remove(fi int32) { t.t.Remove(fi) }

// Each calls fn for every live flow in index order.
func (t *FlowTable) Each(fn func(i int32, f *Flow)) {
	for i, f := range t.t.All() {
		fn(i, f)
	}
}

// Expire removes every flow whose expiry is at or before now and returns
// how many were removed; onRemove (may be nil) sees each one first.
func (t *FlowTable) Expire(now int64, onRemove func(f *Flow)) int {
	return t.t.RemoveFunc(func(_ int32, f *Flow) bool {
		if f.Expiry > now {
			return false
		}
		if onRemove != nil {
			onRemove(f)
		}
		return true
	})
}
