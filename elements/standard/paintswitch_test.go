package standard

import (
	"testing"

	"flowbox/elements/elemtest"
)

func TestPaintSwitch(t *testing.T) {
	hasDoc(t, "PaintSwitch")
	h := elemtest.New(t, "PaintSwitch", "", 1, 3)
	paints := []uint8{0, 2, 1, 9, 255, 2}
	for i, c := range paints {
		p := h.Packet([]byte{byte(i)})
		p.Anno.Paint = c
		h.PushPackets(0, p)
	}
	want := [][]int{{0, 4}, {2, 4}, {1, 4, 5}}
	for i := range want {
		if got := firstBytes(h.Outs[i].Pkts); !sameInts(got, want[i]) {
			t.Errorf("output %d got %v, want %v", i, got, want[i])
		}
	}
	if h.Read("drops") != "1" {
		t.Errorf("drops %s, want 1 (paint 9)", h.Read("drops"))
	}
	if h.Outs[0].Pkts[1].Shared() != true {
		t.Error("paint 255 copies should be clones")
	}
}
