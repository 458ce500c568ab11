package iproute

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// naiveLPM is the obviously-correct reference: scan every route.
func naiveLPM(routes map[netip.Prefix]Route, a netip.Addr) (Route, bool) {
	best, found := Route{}, false
	for p, r := range routes {
		if p.Contains(a) && (!found || p.Bits() > best.Prefix.Bits()) {
			best, found = r, true
		}
	}
	return best, found
}

func randPrefix(rng *rand.Rand, minBits, maxBits int) netip.Prefix {
	var b [4]byte
	v := rng.Uint32()
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	bits := minBits + rng.IntN(maxBits-minBits+1)
	return netip.PrefixFrom(netip.AddrFrom4(b), bits).Masked()
}

// randAddrNear returns an address inside one of the prefixes half the time,
// so lookups exercise deep matches and not only the default route.
func randAddrNear(rng *rand.Rand, ps []netip.Prefix) netip.Addr {
	v := rng.Uint32()
	if len(ps) > 0 && rng.IntN(2) == 0 {
		p := ps[rng.IntN(len(ps))]
		base := addrU32(p.Addr().As4())
		v = base | v&^prefixMask(p.Bits())
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func TestTableMatchesNaiveUnderChurn(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tbl := NewTable()
	ref := map[netip.Prefix]Route{}
	var ps []netip.Prefix
	for step := 0; step < 3000; step++ {
		switch op := rng.IntN(10); {
		case op < 6 || len(ps) == 0:
			p := randPrefix(rng, 0, 32)
			r := Route{Prefix: p, Out: rng.IntN(8)}
			if rng.IntN(2) == 0 {
				r.GW = randAddrNear(rng, nil)
			}
			err := tbl.Add(r)
			if _, dup := ref[p]; dup != (err == ErrExists) {
				t.Fatalf("Add(%v): err %v, duplicate %v", r, err, dup)
			}
			if err == nil {
				ref[p] = r
				ps = append(ps, p)
			}
		case op < 8:
			i := rng.IntN(len(ps))
			p := ps[i]
			ps[i] = ps[len(ps)-1]
			ps = ps[:len(ps)-1]
			got, err := tbl.Remove(p)
			if err != nil || got != ref[p] {
				t.Fatalf("Remove(%v) = %v, %v; want %v", p, got, err, ref[p])
			}
			delete(ref, p)
		default:
			p := ps[rng.IntN(len(ps))]
			r := Route{Prefix: p, Out: rng.IntN(8)}
			old, replaced, err := tbl.Set(r)
			if err != nil || !replaced || old != ref[p] {
				t.Fatalf("Set(%v) = %v %v %v", r, old, replaced, err)
			}
			ref[p] = r
		}
		for k := 0; k < 20; k++ {
			a := randAddrNear(rng, ps)
			got, ok := tbl.Lookup(a)
			want, wok := naiveLPM(ref, a)
			if ok != wok || got != want {
				t.Fatalf("step %d: Lookup(%v) = %v %v, want %v %v", step, a, got, ok, want, wok)
			}
		}
	}
	if tbl.Len() != len(ref) || len(tbl.Routes()) != len(ref) {
		t.Fatalf("Len %d, Routes %d, want %d", tbl.Len(), len(tbl.Routes()), len(ref))
	}
}

func TestTableRemoveFreesNodes(t *testing.T) {
	tbl := NewTable()
	base := len(tbl.nodes)
	for i := 0; i < 100; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 3, 4}), 32)
		if err := tbl.Add(Route{Prefix: p, Out: 1}); err != nil {
			t.Fatal(err)
		}
	}
	grown := len(tbl.nodes)
	for i := 0; i < 100; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 3, 4}), 32)
		if _, err := tbl.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range tbl.root {
		if v != 0 {
			t.Fatalf("root slot %d = %#x after removing every route", i, v)
		}
	}
	if free := len(tbl.freeNodes) * fanout; free != grown-base {
		t.Fatalf("%d node slots free, want all %d", free, grown-base)
	}
	// A re-add reuses the freed nodes instead of growing.
	_ = tbl.Add(Route{Prefix: netip.MustParsePrefix("10.0.3.4/32"), Out: 0})
	if len(tbl.nodes) != grown {
		t.Fatalf("nodes grew to %d, want reuse of %d", len(tbl.nodes), grown)
	}
}

func TestTableRejects(t *testing.T) {
	tbl := NewTable()
	for _, r := range []Route{
		{Prefix: netip.MustParsePrefix("::/0"), Out: 0},
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Out: -1},
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), GW: netip.MustParseAddr("::1"), Out: 0},
	} {
		if err := tbl.Add(r); err == nil {
			t.Errorf("Add(%v) accepted", r)
		}
	}
	if _, err := tbl.Remove(netip.MustParsePrefix("1.0.0.0/8")); err != ErrNotFound {
		t.Errorf("Remove of missing route: %v", err)
	}
}

func randomTable(n int, seed uint64) (*Table, []netip.Prefix) {
	rng := rand.New(rand.NewPCG(seed, 7))
	tbl := NewTable()
	ps := make([]netip.Prefix, 0, n)
	for len(ps) < n {
		p := randPrefix(rng, 8, 32)
		if tbl.Add(Route{Prefix: p, Out: len(ps) % 4}) == nil {
			ps = append(ps, p)
		}
	}
	return tbl, ps
}

func TestTable100kBuildsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("large table")
	}
	// Best of three: the machine is shared, and one slow run under load
	// says nothing about the algorithm.
	var tbl *Table
	var ps []netip.Prefix
	best := time.Hour
	for try := 0; try < 3 && best > time.Second; try++ {
		start := time.Now()
		tbl, ps = randomTable(100_000, 3)
		best = min(best, time.Since(start))
	}
	if best > time.Second {
		t.Errorf("building 100k routes took %v, want < 1s", best)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	ref := map[netip.Prefix]Route{}
	for _, r := range tbl.Routes() {
		ref[r.Prefix] = r
	}
	// Spot-check against the reference on a sample (the naive scan is slow).
	for k := 0; k < 200; k++ {
		a := randAddrNear(rng, ps)
		got, ok := tbl.Lookup(a)
		want, wok := naiveLPM(ref, a)
		if ok != wok || got != want {
			t.Fatalf("Lookup(%v) = %v %v, want %v %v", a, got, ok, want, wok)
		}
	}
}

func TestTableLookupAllocatesNothing(t *testing.T) {
	tbl, ps := randomTable(1000, 4)
	a := ps[17].Addr()
	if n := testing.AllocsPerRun(1000, func() { tbl.Lookup(a) }); n != 0 {
		t.Fatalf("Lookup allocates %v per call", n)
	}
}

func BenchmarkTableBuild100k(b *testing.B) {
	for b.Loop() {
		randomTable(100_000, 5)
	}
}

func BenchmarkTableFind100k(b *testing.B) {
	tbl, ps := randomTable(100_000, 6)
	rng := rand.New(rand.NewPCG(1, 1))
	addrs := make([]uint32, 4096)
	for i := range addrs {
		addrs[i] = addrU32(randAddrNear(rng, ps).As4())
	}
	b.ResetTimer()
	var sink uint32
	for i := 0; b.Loop(); i++ {
		sink += tbl.find(addrs[i&4095])
	}
	_ = sink
}
