package ether

import (
	"testing"

	"flowbox/appliance/core"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

var (
	macA = [6]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
	macB = [6]byte{0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}
)

// frame is an Ethernet frame dst, src, type 0x0800 and n payload bytes.
func frame(dst, src [6]byte, n int) []byte {
	f := append(append(append([]byte(nil), dst[:]...), src[:]...), 0x08, 0x00)
	for i := 0; i < n; i++ {
		f = append(f, byte(i))
	}
	return f
}

// assertNoAllocs pushes full batches of fresh packets through h and
// requires zero allocations per batch.
func assertNoAllocs(t *testing.T, h *elemtest.Harness, tmpl []byte) {
	t.Helper()
	h.Outs[0].Discard = true
	// The runtime builds the Processor-to-push adapter once; so do we
	// (h.PushBatch would build one per call).
	push := core.AsPusher(h.Elem)
	var b packet.Batch
	run := func() {
		for i := 0; i < packet.MaxBatch; i++ {
			b.Append(h.Ctx.Pool.NewFrom(tmpl))
		}
		push.Push(h.Ctx, 0, &b)
	}
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Fatalf("%v allocations per batch, want 0", a)
	}
}
