package arp

import "flowbox/appliance/packet"

// arpEntry is one neighbour: resolved (known) or waiting for a reply with
// packets queued.
type arpEntry struct {
	ip        uint32
	used      bool
	known     bool
	queried   bool // a query was sent at lastQuery
	eth       [6]byte
	created   int64 // Unix ns: entry created, or last expired
	updated   int64 // Unix ns: last reply
	lastQuery int64 // Unix ns
	head      int32 // first queued packet (index into packetQueue), -1 none
	tail      int32
	queued    int32
}

// arpTable is an open-addressing hash table keyed by the IPv4 address,
// with linear probing and backward-shift deletion, so lookups never
// allocate or touch a Go map. It holds at most max entries in a power of
// two of slots at least twice as large, which keeps probe runs short.
type arpTable struct {
	slots []arpEntry
	shift uint8
	n     int
	max   int
}

func newARPTable(max int) arpTable {
	size := 8
	for size < 2*max {
		size <<= 1
	}
	bits := uint8(0)
	for 1<<bits < size {
		bits++
	}
	return arpTable{slots: make([]arpEntry, size), shift: 32 - bits, max: max}
}

// home is the slot where ip's probe run starts (Fibonacci hashing).
func (t *arpTable) home(ip uint32) int { return int((ip * 2654435769) >> t.shift) }

func (t *arpTable) next(i int) int { return (i + 1) & (len(t.slots) - 1) }

// find returns ip's entry, or nil.
func (t *arpTable) find(ip uint32) *arpEntry {
	for i := t.home(ip); t.slots[i].used; i = t.next(i) {
		if t.slots[i].ip == ip {
			return &t.slots[i]
		}
	}
	return nil
}

// insert returns ip's entry, creating an empty one; nil when full.
func (t *arpTable) insert(ip uint32) *arpEntry {
	i := t.home(ip)
	for ; t.slots[i].used; i = t.next(i) {
		if t.slots[i].ip == ip {
			return &t.slots[i]
		}
	}
	if t.n >= t.max {
		return nil
	}
	t.n++
	t.slots[i] = arpEntry{ip: ip, used: true, head: -1, tail: -1}
	return &t.slots[i]
}

// remove deletes ip's entry, shifting later members of its probe run back
// so that every remaining entry stays reachable from its home slot.
func (t *arpTable) remove(ip uint32) {
	i := t.home(ip)
	for ; t.slots[i].used && t.slots[i].ip != ip; i = t.next(i) {
	}
	if !t.slots[i].used {
		return
	}
	t.n--
	for j := t.next(i); t.slots[j].used; j = t.next(j) {
		// Move slot j into the hole at i unless its home lies cyclically
		// in (i, j], where it would become unreachable.
		if h := t.home(t.slots[j].ip); !cyclicBetween(i, h, j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = arpEntry{}
}

// cyclicBetween reports whether h lies in the cyclic interval (i, j].
func cyclicBetween(i, h, j int) bool {
	if i <= j {
		return i < h && h <= j
	}
	return i < h || h <= j
}

// packetQueue stores packets waiting for ARP replies as singly linked
// lists threaded through fixed arrays, one list per entry: no allocation
// per packet, and a hard bound on the total.
type packetQueue struct {
	pkts []*packet.Packet
	next []int32
	free int32 // head of the free-node list, -1 when full
	n    int
}

func newPacketQueue(capacity int) packetQueue {
	q := packetQueue{pkts: make([]*packet.Packet, capacity), next: make([]int32, capacity), free: -1}
	for i := capacity - 1; i >= 0; i-- {
		q.next[i], q.free = q.free, int32(i)
	}
	return q
}

// push appends p to e's list; false when the queue is full.
func (q *packetQueue) push(e *arpEntry, p *packet.Packet) bool {
	node := q.free
	if node < 0 {
		return false
	}
	q.free = q.next[node]
	q.pkts[node], q.next[node] = p, -1
	if e.tail >= 0 {
		q.next[e.tail] = node
	} else {
		e.head = node
	}
	e.tail = node
	e.queued++
	q.n++
	return true
}

// pop removes and returns the first packet of e's list, or nil.
func (q *packetQueue) pop(e *arpEntry) *packet.Packet {
	node := e.head
	if node < 0 {
		return nil
	}
	p := q.pkts[node]
	e.head = q.next[node]
	if e.head < 0 {
		e.tail = -1
	}
	q.pkts[node], q.next[node], q.free = nil, q.free, node
	e.queued--
	q.n--
	return p
}
