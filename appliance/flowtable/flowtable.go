// Package flowtable is a fixed-capacity hash table of per-flow state keyed
// by IPv4 5-tuples, for elements that look flows up on the packet path
// (the NAT rewriters' sessions, FlowMeter's flow cache).
//
// A Table preallocates all its storage: lookups, inserts and removals
// never allocate. Entries live in an array and are named by their index;
// an open-addressing hash index with linear probing maps keys to them.
// Each entry is indexed under one key, or under two (a pair, "ways" 0 and
// 1: the two directions of a bidirectional session), so one lookup finds
// both the entry and the way. Removal shifts the rest of the probe run
// back (no tombstones), so probe sequences never degrade. Keys are hashed
// with a random per-table seed, so remote hosts cannot aim tuples at one
// bucket.
//
// A Table is not safe for concurrent use; it belongs to one worker.
package flowtable

import (
	"iter"
	"math/bits"
	"math/rand/v2"
)

// Tuple is an IPv4 5-tuple in host byte order.
type Tuple struct {
	Src, Dst     uint32 // IPv4 addresses
	Sport, Dport uint16 // ports (or whatever the element keys on instead)
	Proto        uint8  // IP protocol
}

// Key is a Tuple packed in two machine words, the form the table hashes
// and compares: a = src<<32 | dst, b = sport<<24 | dport<<8 | proto. It is
// comparable.
type Key struct{ a, b uint64 }

// Key packs the tuple.
func (t Tuple) Key() Key {
	return Key{a: uint64(t.Src)<<32 | uint64(t.Dst),
		b: uint64(t.Sport)<<24 | uint64(t.Dport)<<8 | uint64(t.Proto)}
}

// WireKey builds a key straight from packet bytes, with two loads:
// addrs is the IPv4 source and destination (8 bytes from header offset
// 12) read as one big-endian word, ports the first 4 bytes of the
// transport header (source and destination ports) read the same way.
func WireKey(addrs uint64, ports uint32, proto uint8) Key {
	return Key{a: addrs, b: uint64(ports)<<8 | uint64(proto)}
}

// Tuple unpacks the key.
func (k Key) Tuple() Tuple {
	return Tuple{Src: uint32(k.a >> 32), Dst: uint32(k.a), Sport: uint16(k.b >> 24),
		Dport: uint16(k.b >> 8), Proto: uint8(k.b)}
}

// hash is a two-word multiply-shift hash keyed by seed. It is never 0, so
// a zero hash marks an empty slot.
func (k Key) hash(seed uint64) uint32 {
	h := (k.a^seed)*0x9e3779b97f4a7c15 + (k.b^seed>>17)*0xbf58476d1ce4e5b9
	return uint32(h>>32) | 1
}

// slot is one bucket of the index: the key's hash (0 = empty) and the
// entry it names, as entry index << 1 | way.
type slot struct {
	hash uint32
	ref  uint32
}

// entry is one element of the storage: its keys by way, next to the value
// so that the key compare of a lookup touches the cache line the caller
// reads next.
type entry[V any] struct {
	keys [2]Key
	val  V
}

// Table holds up to a fixed number of values of type V, each indexed under
// one key or a pair of keys.
type Table[V any] struct {
	slots   []slot
	mask    uint32
	seed    uint64
	ways    int // keys per entry the index was sized for: 1 or 2
	entries []entry[V]
	nkeys   []uint8 // keys each entry is indexed under: 0 when free, 1 or 2
	free    []int32 // stack of unused entry indexes
	used    int     // high-water mark of entry indexes ever handed out
}

// New returns a table for capacity entries (at least 1) of keysPerEntry
// keys each: 1 for entries inserted with Insert, 2 for InsertPair. The
// index has at least twice as many buckets as keys (load <= 1/2).
func New[V any](capacity, keysPerEntry int) *Table[V] {
	capacity = max(capacity, 1)
	ways := 1
	if keysPerEntry > 1 {
		ways = 2
	}
	nslots := 1 << bits.Len(uint(2*ways*capacity-1))
	t := &Table[V]{
		slots:   make([]slot, nslots),
		mask:    uint32(nslots - 1),
		seed:    rand.Uint64(),
		ways:    ways,
		entries: make([]entry[V], capacity),
		nkeys:   make([]uint8, capacity),
		free:    make([]int32, capacity),
	}
	for i := range t.free {
		t.free[i] = int32(capacity - 1 - i) // pop hands out index 0 first
	}
	return t
}

// Len is the number of live entries.
func (t *Table[V]) Len() int { return len(t.entries) - len(t.free) }

// Cap is the most entries the table holds.
func (t *Table[V]) Cap() int { return len(t.entries) }

// Full reports whether no entry is free.
func (t *Table[V]) Full() bool { return len(t.free) == 0 }

// At returns the value of entry i (live or not).
func (t *Table[V]) At(i int32) *V { return &t.entries[i].val }

// Live reports whether entry i holds a value.
func (t *Table[V]) Live(i int32) bool { return t.nkeys[i] != 0 }

// Key returns the key entry i is indexed under for way (0 or 1).
func (t *Table[V]) Key(i int32, way int) Key { return t.entries[i].keys[way] }

// Lookup finds the live entry indexed under k. It returns the entry and
// the way k names (0 for entries inserted with Insert), or -1.
func (t *Table[V]) Lookup(k Key) (i int32, way int) {
	h := k.hash(t.seed)
	slots := t.slots
	for s := h & t.mask; ; s = (s + 1) & t.mask {
		sl := slots[s]
		if sl.hash == h {
			i, way := int32(sl.ref>>1), int(sl.ref&1)
			if t.entries[i].keys[way] == k {
				return i, way
			}
		} else if sl.hash == 0 {
			return -1, 0
		}
	}
}

// Insert stores a new entry, zero-valued, indexed under k, and returns
// its index, or -1 when the table is full. The caller makes sure k is
// not present.
func (t *Table[V]) Insert(k Key) int32 {
	i := t.take(1)
	if i >= 0 {
		t.entries[i].keys = [2]Key{k}
		t.put(k, uint32(i)<<1)
	}
	return i
}

// InsertPair stores a new entry, zero-valued, indexed under k0 (way 0)
// and k1 (way 1), and returns its index, or -1 when the table is full.
// The table must have been made for two keys per entry; the caller makes
// sure neither key is present and that they differ.
func (t *Table[V]) InsertPair(k0, k1 Key) int32 {
	if t.ways != 2 {
		panic("flowtable: InsertPair on a table of one key per entry")
	}
	i := t.take(2)
	if i >= 0 {
		t.entries[i].keys = [2]Key{k0, k1}
		t.put(k0, uint32(i)<<1)
		t.put(k1, uint32(i)<<1|1)
	}
	return i
}

// take pops a free entry and makes it live, with nkeys keys and a zero
// value.
func (t *Table[V]) take(nkeys uint8) int32 {
	n := len(t.free)
	if n == 0 {
		return -1
	}
	i := t.free[n-1]
	t.free = t.free[:n-1]
	t.used = max(t.used, int(i)+1)
	var zero V
	t.entries[i].val, t.nkeys[i] = zero, nkeys
	return i
}

func (t *Table[V]) put(k Key, ref uint32) {
	h := k.hash(t.seed)
	s := h & t.mask
	for t.slots[s].hash != 0 {
		s = (s + 1) & t.mask
	}
	t.slots[s] = slot{hash: h, ref: ref}
}

// Remove frees entry i and unindexes its keys; a free entry is left alone.
func (t *Table[V]) Remove(i int32) {
	n := t.nkeys[i]
	if n == 0 {
		return
	}
	e := &t.entries[i]
	t.unput(e.keys[0], uint32(i)<<1)
	if n == 2 {
		t.unput(e.keys[1], uint32(i)<<1|1)
	}
	t.nkeys[i] = 0
	t.free = append(t.free, i) // never grows past capacity: no allocation
}

// unput deletes the slot holding ref and shifts later members of the probe
// run back into the hole, so lookups never need tombstones. It does
// nothing when ref is not indexed under k.
func (t *Table[V]) unput(k Key, ref uint32) {
	h := k.hash(t.seed)
	s := h & t.mask
	for t.slots[s].ref != ref || t.slots[s].hash != h {
		if t.slots[s].hash == 0 {
			return
		}
		s = (s + 1) & t.mask
	}
	for j := (s + 1) & t.mask; t.slots[j].hash != 0; j = (j + 1) & t.mask {
		home := t.slots[j].hash & t.mask
		// Move slot j into the hole at s unless its home lies cyclically
		// in (s, j]: then it is still reachable from its home.
		if (j-home)&t.mask >= (j-s)&t.mask {
			t.slots[s] = t.slots[j]
			s = j
		}
	}
	t.slots[s] = slot{}
}

// All yields every live entry, index and value, in index order. The loop
// body may Remove the entry it is given.
func (t *Table[V]) All() iter.Seq2[int32, *V] {
	return func(yield func(int32, *V) bool) {
		for i := 0; i < t.used; i++ {
			if t.nkeys[i] != 0 && !yield(int32(i), &t.entries[i].val) {
				return
			}
		}
	}
}

// RemoveFunc removes every live entry for which del returns true and
// returns how many it removed.
func (t *Table[V]) RemoveFunc(del func(i int32, v *V) bool) int {
	n := 0
	for i := 0; i < t.used; i++ {
		if t.nkeys[i] != 0 && del(int32(i), &t.entries[i].val) {
			t.Remove(int32(i))
			n++
		}
	}
	return n
}
