package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestPaintTee(t *testing.T) {
	hasDoc(t, "PaintTee")
	h := elemtest.New(t, "PaintTee", "2", 1, 2)
	for i, c := range []uint8{2, 1, 2, 0} {
		p := h.Packet([]byte{byte(i)})
		p.Anno.Paint = c
		h.PushPackets(0, p)
	}
	if got := firstBytes(h.Outs[0].Pkts); !sameInts(got, []int{0, 1, 2, 3}) {
		t.Errorf("output 0 %v", got)
	}
	if got := firstBytes(h.Outs[1].Pkts); !sameInts(got, []int{0, 2}) {
		t.Errorf("output 1 %v", got)
	}
	// Pull context: the pull adapter uses scratch 0, copies still go out 1.
	hp, err := elemtest.Build(t, "PaintTee", "5", elemtest.Options{Inputs: 1, Outputs: 2, PullInputs: true, PullOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []uint8{5, 4, 5} {
		p := hp.Packet([]byte{byte(i)})
		p.Anno.Paint = c
		hp.Srcs[0].Queue = append(hp.Srcs[0].Queue, p)
	}
	if got := firstBytes(hp.Pull(0, 10)); !sameInts(got, []int{0, 1, 2}) {
		t.Errorf("pulled %v", got)
	}
	if got := firstBytes(hp.Outs[1].Pkts); !sameInts(got, []int{0, 2}) {
		t.Errorf("pull context output 1 %v", got)
	}
}
