package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestNull(t *testing.T) {
	hasDoc(t, "Null")
	h := elemtest.New(t, "Null", "", 1, 1)
	h.Push(0, numbered(3, 10)...)
	if got := firstBytes(h.Outs[0].Pkts); !sameInts(got, []int{0, 1, 2}) {
		t.Errorf("push passed %v", got)
	}
	hp, _ := elemtest.Build(t, "Null", "", elemtest.Options{Inputs: 1, Outputs: 1, PullInputs: true, PullOutputs: true})
	for _, f := range numbered(3, 10) {
		hp.Srcs[0].Queue = append(hp.Srcs[0].Queue, hp.Packet(f))
	}
	if got := firstBytes(hp.Pull(0, 2)); !sameInts(got, []int{0, 1}) {
		t.Errorf("pull gave %v", got)
	}
}
