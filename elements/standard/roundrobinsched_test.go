package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestRoundRobinSched(t *testing.T) {
	hasDoc(t, "RoundRobinSched")
	tests := []struct {
		name   string
		queued []int // packets per input
		pulls  []int // max per pull
		want   [][]int
	}{
		{"single packets rotate", []int{2, 2, 2}, []int{1, 1, 1, 1}, [][]int{{0}, {0}, {0}, {1}}},
		{"skips empty inputs", []int{2, 0, 2}, []int{1, 1, 1}, [][]int{{0}, {0}, {1}}},
		{"fills from next inputs", []int{1, 3, 0}, []int{3, 3}, [][]int{{0, 0, 1}, {2}}},
		{"all empty", []int{0, 0}, []int{5}, [][]int{{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "RoundRobinSched", "", len(tc.queued), 1)
			for i, n := range tc.queued {
				fill(h, i, n)
			}
			for i, max := range tc.pulls {
				if got := firstBytes(h.Pull(0, max)); !sameInts(got, tc.want[i]) {
					t.Errorf("pull %d got %v, want %v", i, got, tc.want[i])
				}
			}
		})
	}
}
