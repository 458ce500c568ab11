package standard

import (
	"testing"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func TestStripUnstrip(t *testing.T) {
	hasDoc(t, "Strip")
	hasDoc(t, "Unstrip")
	frame := udp64()
	tests := []struct {
		name    string
		class   string
		config  string
		wantLen int
		want0   byte
	}{
		{"strip ethernet", "Strip", "14", 50, 0x45},
		{"strip zero", "Strip", "0", 64, 0},
		{"strip past end empties", "Strip", "100", 0, 0},
		{"unstrip into headroom", "Unstrip", "2", 66, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, tc.class, tc.config, 1, 1)
			h.Push(0, frame)
			p := h.Outs[0].Pkts[0]
			if p.Len() != tc.wantLen || (p.Len() > 0 && p.Data()[0] != tc.want0 && tc.class == "Strip") {
				t.Errorf("len %d first byte %#x", p.Len(), p.Data())
			}
		})
	}
	mustFail(t, "Strip", "", 1, 1, "LEN")
	mustFail(t, "Unstrip", "-1", 1, 1, "LEN")
}

func TestStripThenUnstripRestores(t *testing.T) {
	frame := udp64()
	strip := elemtest.New(t, "Strip", "14", 1, 1)
	unstrip := elemtest.New(t, "Unstrip", "14", 1, 1)
	strip.Push(0, frame)
	p := strip.Outs[0].Pkts[0]
	p.SetNetworkAt(0)
	unstrip.PushPackets(0, p)
	q := unstrip.Outs[0].Pkts[0]
	if string(q.Data()) != string(frame) || q.NetworkOffset() != 14 {
		t.Errorf("restored %x net offset %d", q.Data(), q.NetworkOffset())
	}
}

func BenchmarkStrip(b *testing.B) {
	h := elemtest.New(b, "Strip", "0", 1, 1)
	var batch packet.Batch
	for i := 0; i < 32; i++ {
		batch.Append(h.Ctx.Pool.New(64))
	}
	s := h.Elem.(*Strip)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.Process(h.Ctx, &batch)
	}
}
