package ip

import (
	"math/rand/v2"
	"testing"
)

// headerSumOK (byte-order-free sum) must agree with the big-endian sum on
// valid, corrupted and random headers of every length.
func TestHeaderSumOKAgreesWithWordSum(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 100000; i++ {
		h := make([]byte, 20+4*r.IntN(11))
		for j := range h {
			h[j] = byte(r.Uint32())
		}
		if r.IntN(2) == 0 { // make it valid, sometimes then corrupt it
			h[10], h[11] = 0, 0
			c := headerChecksum(h)
			h[10], h[11] = byte(c>>8), byte(c)
			if r.IntN(3) == 0 {
				h[r.IntN(len(h))] ^= byte(1 + r.IntN(255))
			}
		}
		if got, want := headerSumOK(h), foldSum(wordSum(h)) == 0xffff; got != want {
			t.Fatalf("% x: headerSumOK %v, big-endian sum says %v", h, got, want)
		}
	}
}
