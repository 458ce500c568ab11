package flowtable

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

func TestKeyPacking(t *testing.T) {
	tu := Tuple{Src: 0x0a000001, Dst: 0xc0a80102, Sport: 1234, Dport: 80, Proto: 6}
	if got := tu.Key().Tuple(); got != tu {
		t.Fatalf("Key().Tuple() = %+v, want %+v", got, tu)
	}
	// The same tuple as it stands in an IPv4 header and a TCP header.
	ip := make([]byte, 20)
	binary.BigEndian.PutUint32(ip[12:], tu.Src)
	binary.BigEndian.PutUint32(ip[16:], tu.Dst)
	l4 := []byte{1234 >> 8, 1234 & 0xff, 0, 80}
	if k := WireKey(binary.BigEndian.Uint64(ip[12:]), binary.BigEndian.Uint32(l4), 6); k != tu.Key() {
		t.Fatalf("WireKey = %+v, want %+v", k, tu.Key())
	}
	if tu.Key().hash(0) == 0 || (Key{}).hash(42) == 0 {
		t.Fatal("a hash is 0, the empty-slot mark")
	}
}

// loc is where a key leads: an entry and a way.
type loc struct {
	i   int32
	way int
}

// model is what a table should hold.
type model map[Key]loc

// check compares every key of m, and some absent ones, against tab.
func (m model) check(t *testing.T, tab *Table[int], absent func() Key) {
	t.Helper()
	for k, want := range m {
		i, way := tab.Lookup(k)
		if i != want.i || way != want.way {
			t.Fatalf("Lookup(%+v) = %d/%d, want %d/%d", k.Tuple(), i, way, want.i, want.way)
		}
		if tab.Key(i, way) != k || !tab.Live(i) {
			t.Fatalf("entry %d: key %+v live %v", i, tab.Key(i, way).Tuple(), tab.Live(i))
		}
	}
	for n := 0; n < 50; n++ {
		k := absent()
		if _, in := m[k]; !in {
			if i, _ := tab.Lookup(k); i >= 0 {
				t.Fatalf("Lookup(%+v) found an absent key", k.Tuple())
			}
		}
	}
}

// TestTableAgainstModel runs random single and paired inserts and
// removals on small tables (long probe runs, wrap-around) against a map,
// which exercises backward-shift deletion.
func TestTableAgainstModel(t *testing.T) {
	for _, ways := range []int{1, 2} {
		const capacity = 48
		tab := New[int](capacity, ways)
		rng := rand.New(rand.NewPCG(3, uint64(ways)))
		randKey := func() Key {
			return Tuple{Src: rng.Uint32N(3), Dst: rng.Uint32N(3), Sport: uint16(rng.UintN(6)),
				Dport: uint16(rng.UintN(6)), Proto: 6}.Key()
		}
		m := model{}
		var live []int32
		for step := 0; step < 30000; step++ {
			switch {
			case len(live) > 0 && (tab.Full() || rng.IntN(3) == 0):
				n := rng.IntN(len(live))
				i := live[n]
				if *tab.At(i) != int(i)*7 {
					t.Fatalf("step %d: entry %d holds %d", step, i, *tab.At(i))
				}
				delete(m, tab.Key(i, 0))
				if ways == 2 {
					delete(m, tab.Key(i, 1))
				}
				tab.Remove(i)
				tab.Remove(i) // a second Remove is a no-op
				live = append(live[:n], live[n+1:]...)
			case ways == 1:
				k := randKey()
				if _, dup := m[k]; dup {
					continue
				}
				i := tab.Insert(k)
				*tab.At(i) = int(i) * 7
				m[k] = loc{i, 0}
				live = append(live, i)
			default:
				k0, k1 := randKey(), randKey()
				_, dup0 := m[k0]
				_, dup1 := m[k1]
				if dup0 || dup1 || k0 == k1 {
					continue
				}
				i := tab.InsertPair(k0, k1)
				*tab.At(i) = int(i) * 7
				m[k0], m[k1] = loc{i, 0}, loc{i, 1}
				live = append(live, i)
			}
			if tab.Len() != len(live) {
				t.Fatalf("ways %d step %d: Len %d, want %d", ways, step, tab.Len(), len(live))
			}
			if step%89 == 0 {
				m.check(t, tab, randKey)
			}
		}
	}
}

func TestTableFullAllRemoveFunc(t *testing.T) {
	tab := New[int64](3, 1)
	for i := 0; i < 3; i++ {
		e := tab.Insert(Tuple{Src: uint32(i), Proto: 17}.Key())
		if e < 0 {
			t.Fatalf("insert %d failed", i)
		}
		*tab.At(e) = int64(i)
	}
	if !tab.Full() || tab.Cap() != 3 || tab.Insert(Tuple{Src: 9}.Key()) != -1 {
		t.Fatal("a full table took an entry")
	}
	if n := tab.RemoveFunc(func(_ int32, v *int64) bool { return *v != 1 }); n != 2 || tab.Len() != 1 {
		t.Fatalf("RemoveFunc removed %d, %d left", n, tab.Len())
	}
	var seen []int64
	for _, v := range tab.All() {
		seen = append(seen, *v)
	}
	if len(seen) != 1 || seen[0] != 1 {
		t.Fatalf("All yields %v, want [1]", seen)
	}
	if i, _ := tab.Lookup(Tuple{Src: 0, Proto: 17}.Key()); i >= 0 {
		t.Fatal("a removed key is still indexed")
	}
	// A fresh entry is zero-valued, whatever its index held before.
	if e := tab.Insert(Tuple{Src: 5, Proto: 17}.Key()); e < 0 || *tab.At(e) != 0 {
		t.Fatalf("new entry %d holds %d", e, *tab.At(e))
	}
	defer func() {
		if recover() == nil {
			t.Fatal("InsertPair on a one-key table did not panic")
		}
	}()
	tab.InsertPair(Tuple{Src: 6}.Key(), Tuple{Src: 7}.Key())
}

// flow is a value the size of a real element's per-flow state.
type flow struct {
	expiry      int64
	pkts, bytes uint64
	out         [2]uint16
}

// TestTableAllocs proves lookups, inserts and removals allocate nothing.
func TestTableAllocs(t *testing.T) {
	tab := New[flow](1024, 2)
	keys := make([]Key, 2048)
	for i := range keys {
		keys[i] = Tuple{Src: uint32(i), Dst: 1, Sport: uint16(i), Dport: 80, Proto: 6}.Key()
	}
	run := func() {
		for i := 0; i < len(keys); i += 2 {
			e := tab.InsertPair(keys[i], keys[i+1])
			tab.At(e).pkts++
		}
		for _, k := range keys {
			if e, _ := tab.Lookup(k); e < 0 {
				t.Fatal("key lost")
			}
		}
		tab.RemoveFunc(func(int32, *flow) bool { return true })
	}
	if a := testing.AllocsPerRun(20, run); a != 0 {
		t.Fatalf("%v allocations per run", a)
	}
}

// BenchmarkLookup finds established entries of a table of 65536 pairs
// (131072 keys: more than the CPU caches hold), in a scattered order.
func BenchmarkLookup(b *testing.B) {
	const n = 1 << 16
	tab := New[flow](n, 2)
	keys := make([]Key, 2*n)
	for i := range keys {
		keys[i] = Tuple{Src: 0x0a000000 + uint32(i), Dst: 0x0a010101, Sport: uint16(i), Dport: 443, Proto: 6}.Key()
	}
	for i := 0; i < len(keys); i += 2 {
		tab.InsertPair(keys[i], keys[i+1])
	}
	rand.New(rand.NewPCG(1, 1)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if e, _ := tab.Lookup(keys[i&(2*n-1)]); e < 0 {
			b.Fatal("key lost")
		}
	}
}

// BenchmarkInsertRemove inserts a new pair into a half-full table of
// 65536 and removes the oldest, so the table stays half full.
func BenchmarkInsertRemove(b *testing.B) {
	const n = 1 << 16
	tab := New[flow](n, 2)
	ring := make([]int32, n/2)
	key := func(i int) Key { return Tuple{Src: uint32(i), Dst: 0x0a010101, Sport: uint16(i), Proto: 17}.Key() }
	for i := range ring {
		ring[i] = tab.InsertPair(key(2*i), key(2*i+1))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		slot := i % len(ring)
		tab.Remove(ring[slot])
		j := len(ring) + i
		if ring[slot] = tab.InsertPair(key(2*j), key(2*j+1)); ring[slot] < 0 {
			b.Fatal("insert failed")
		}
	}
}
