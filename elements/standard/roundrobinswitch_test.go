package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestRoundRobinSwitch(t *testing.T) {
	hasDoc(t, "RoundRobinSwitch")
	h := elemtest.New(t, "RoundRobinSwitch", "", 1, 3)
	h.Push(0, numbered(4, 10)...)
	h.Push(0, numbered(8, 10)[4:]...) // rotation continues across batches
	want := [][]int{{0, 3, 6}, {1, 4, 7}, {2, 5}}
	for i := range want {
		if got := firstBytes(h.Outs[i].Pkts); !sameInts(got, want[i]) {
			t.Errorf("output %d got %v, want %v", i, got, want[i])
		}
	}
	big := elemtest.New(t, "RoundRobinSwitch", "", 1, 1)
	big.Push(0, numbered(130, 4)...)
	if len(big.Outs[0].Pkts) != 130 {
		t.Errorf("single output got %d of 130", len(big.Outs[0].Pkts))
	}
}
