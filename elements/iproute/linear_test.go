package iproute

import (
	"testing"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func TestLinearMostSpecificWinsWhateverTheOrder(t *testing.T) {
	// Routes listed general-first must still match most-specific-first.
	cases := []struct {
		dst     string
		out     int
		nextHop string
	}{
		{"10.1.2.3", 2, "10.1.2.3"},
		{"10.1.9.9", 1, "10.1.9.9"},
		{"10.9.9.9", 0, "10.9.9.9"},
	}
	for _, class := range []string{"LinearIPLookup", "StaticIPLookup"} {
		checkRouting(t, class, "10.0.0.0/8 0, 10.1.0.0/16 1, 10.1.2.0/24 2", 3, cases)
	}
}

func BenchmarkLinearIPLookup(b *testing.B) {
	h := elemtest.New(b, "LinearIPLookup", testRoutes, 1, 4)
	for _, o := range h.Outs {
		o.Discard = true
	}
	dst := [4]byte{18, 26, 7, 1}
	var batch packet.Batch
	for b.Loop() {
		for k := 0; k < packet.MaxBatch; k++ {
			p := h.Ctx.Pool.New(64)
			p.Anno.DstIP = dst
			batch.Append(p)
		}
		h.PushBatch(0, &batch)
	}
}
