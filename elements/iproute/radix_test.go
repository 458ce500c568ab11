package iproute

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func TestRadixIPLookupMatchesLinear(t *testing.T) {
	// The same random table in both elements routes every packet the same way.
	rng := rand.New(rand.NewPCG(11, 12))
	var routes []string
	seen := map[netip.Prefix]bool{}
	for len(routes) < 300 {
		p := randPrefix(rng, 0, 32)
		if seen[p] {
			continue
		}
		seen[p] = true
		routes = append(routes, p.String()+" "+string(rune('0'+rng.IntN(4))))
	}
	cfg := strings.Join(routes, ", ")
	radix := elemtest.New(t, "RadixIPLookup", cfg, 1, 4)
	linear := elemtest.New(t, "LinearIPLookup", cfg, 1, 4)
	var ps []netip.Prefix
	for p := range seen {
		ps = append(ps, p)
	}
	for i := 0; i < 2000; i++ {
		a := randAddrNear(rng, ps).String()
		if r, l := radix.Read("lookup", a), linear.Read("lookup", a); r != l {
			t.Fatalf("lookup %s: radix %q, linear %q", a, r, l)
		}
	}
}

func BenchmarkRadixIPLookup100k(b *testing.B) {
	tbl, ps := randomTable(100_000, 8)
	h := elemtest.New(b, "RadixIPLookup", "", 1, 4)
	e := h.Elem.(*RadixIPLookup)
	e.t, e.eng = tbl, tbl
	for _, o := range h.Outs {
		o.Discard = true
	}
	rng := rand.New(rand.NewPCG(2, 2))
	dsts := make([][4]byte, 4096)
	for i := range dsts {
		dsts[i] = randAddrNear(rng, ps).As4()
	}
	var batch packet.Batch
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for k := 0; k < packet.MaxBatch; k++ {
			p := h.Ctx.Pool.New(64)
			p.Anno.DstIP = dsts[(i*packet.MaxBatch+k)&4095]
			batch.Append(p)
		}
		h.PushBatch(0, &batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*packet.MaxBatch), "ns/pkt")
}
