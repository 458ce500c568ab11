package standard

import (
	"testing"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func TestIdle(t *testing.T) {
	hasDoc(t, "Idle")
	h := elemtest.New(t, "Idle", "", 2, 2)
	h.Push(1, numbered(5, 10)...)
	if h.Read("drops") != "5" {
		t.Errorf("drops %s, want 5", h.Read("drops"))
	}
	var b packet.Batch
	h.Elem.(*Idle).Pull(h.Ctx, 0, &b, 10)
	if b.N != 0 || len(h.Outs[0].Pkts)+len(h.Outs[1].Pkts) != 0 {
		t.Error("Idle produced packets")
	}
}
