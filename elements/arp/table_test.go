package arp

import (
	"math/rand"
	"testing"
)

// TestARPTableAgainstMap drives the open-addressing table and a Go map
// with the same random inserts and removes, on a deliberately small table
// so probe runs wrap around and collide.
func TestARPTableAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	tab := newARPTable(24)
	ref := map[uint32]bool{}
	for step := 0; step < 20000; step++ {
		ip := uint32(rng.Intn(64)) * 0x01000001 // few keys, clustered hashes
		if rng.Intn(3) == 0 {
			tab.remove(ip)
			delete(ref, ip)
		} else if e := tab.insert(ip); e != nil {
			ref[ip] = true
		} else if len(ref) < 24 {
			t.Fatalf("step %d: insert refused with %d entries", step, len(ref))
		}
		if tab.n != len(ref) {
			t.Fatalf("step %d: table has %d entries, map %d", step, tab.n, len(ref))
		}
		for k := range ref {
			if e := tab.find(k); e == nil || e.ip != k {
				t.Fatalf("step %d: %#x lost", step, k)
			}
		}
	}
}
