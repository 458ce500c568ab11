package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestPrioSched(t *testing.T) {
	hasDoc(t, "PrioSched")
	h := elemtest.New(t, "PrioSched", "", 3, 1)
	fill(h, 0, 2)
	fill(h, 1, 1)
	fill(h, 2, 4)
	for i, want := range [][]int{{0}, {1}, {0, 0, 1}, {2, 3}, {}} {
		max := []int{1, 1, 3, 5, 5}[i]
		if got := firstBytes(h.Pull(0, max)); !sameInts(got, want) {
			t.Errorf("pull %d got %v, want %v", i, got, want)
		}
	}
}
