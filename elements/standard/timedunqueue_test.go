package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestTimedUnqueue(t *testing.T) {
	hasDoc(t, "TimedUnqueue")
	const ms = int64(1e6)
	h := elemtest.New(t, "TimedUnqueue", "10ms, 2", 1, 1)
	fill(h, 0, 5)
	base := int64(1e12)
	// The first fire fixes the phase; then up to 2 per 10 ms.
	at := []int64{0, 10 * ms, 15 * ms, 20 * ms, 30 * ms, 40 * ms}
	moved := []int{0, 2, 0, 2, 1, 0}
	total := 0
	for i := range at {
		h.FireTimers(base + at[i])
		total += moved[i]
		if got := len(h.Outs[0].Pkts); got != total {
			t.Fatalf("after fire at +%dms pushed %d, want %d", at[i]/ms, got, total)
		}
	}
	mustFail(t, "TimedUnqueue", "", 1, 1, "INTERVAL")
}
