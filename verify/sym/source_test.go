package sym

import "testing"

func TestFramePacket(t *testing.T) {
	// Ethernet + IPv4 (IHL 5) UDP 10.0.0.1:1234 -> 192.0.2.10:80, no payload
	frame := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0,
		0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 192, 0, 2, 10,
		0x04, 0xd2, 0, 80, 0, 8, 0, 0}
	s := FramePacket(NewVars(), frame, "")
	if s.Hdr[L2] != s.Head || s.Hdr[L3] != s.Head+14 || s.S.Approx {
		t.Fatalf("layout: head %d hdr %v approx %v", s.Head, s.Hdr, s.S.Approx)
	}
	for _, c := range []struct {
		off, n int32
		want   uint32
	}{{s.Hdr[L3] + IPSrc, 4, 0x0a000001}, {s.Hdr[L3] + IPDst, 4, 0xc000020a}, {s.Hdr[L4] + 2, 2, 80}, {s.Hdr[L2] + 12, 2, 0x0800}} {
		e, err := s.Load(c.off, c.n)
		if v, ok := e.IsConst(); err != nil || !ok || v != c.want {
			t.Errorf("field at %d: %v %v, want %#x", c.off-s.Head, e, err, c.want)
		}
	}
	// past the 42 bytes: unconstrained
	if e, _ := s.Load(s.Hdr[L4]+8, 4); func() bool { _, ok := e.IsConst(); return ok }() {
		t.Errorf("ack lies past the frame: %v", e)
	}
	// IP options do not fit the layout: approximate
	opt := append([]byte(nil), frame...)
	opt[14] = 0x46
	if !FramePacket(NewVars(), opt, "").S.Approx {
		t.Error("IHL 6 must be approximate")
	}
	// Generalize keeps the shape, not the values
	g := Generalize(NewVars(), s.Snapshot(), "")
	if g.Snapshot().Shape() != s.Snapshot().Shape() {
		t.Error("shape changed")
	}
	if e, _ := g.Load(g.Hdr[L3]+IPSrc, 4); func() bool { _, ok := e.IsConst(); return ok }() {
		t.Error("Generalize keeps values")
	}
}
