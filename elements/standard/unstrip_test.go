package standard

import (
	"testing"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func TestUnstripNoHeadroomDrops(t *testing.T) {
	h := elemtest.New(t, "Unstrip", "200", 1, 1) // more than packet.Headroom
	h.Push(0, numbered(3, 10)...)
	if len(h.Outs[0].Pkts) != 0 || h.Read("drops") != "3" {
		t.Errorf("passed %d, drops %s", len(h.Outs[0].Pkts), h.Read("drops"))
	}
	ok := elemtest.New(t, "Unstrip", "4", 1, 1)
	short := ok.Packet([]byte{1})
	short.Pull(1)
	var b packet.Batch
	b.Append(ok.Packet([]byte{9}))
	b.Append(short)
	ok.PushBatch(0, &b)
	if len(ok.Outs[0].Pkts) != 2 {
		t.Errorf("passed %d packets with headroom", len(ok.Outs[0].Pkts))
	}
}
