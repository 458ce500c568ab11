package ip

import (
	"testing"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

// marked pushes frames through MarkIPHeader-equivalent annotation: the
// packets get their network annotation at offset 0 like CheckIPHeader does.
func marked(h *elemtest.Harness, frames ...[]byte) []*packet.Packet {
	var ps []*packet.Packet
	for _, f := range frames {
		p := h.Packet(f)
		p.SetNetworkAt(0)
		ps = append(ps, p)
	}
	return ps
}

func TestDecIPTTL(t *testing.T) {
	cases := []struct {
		name, config string
		in           []byte
		annotate     bool
		wantOut      int // -1: dropped
		wantTTL      byte
	}{
		{name: "ttl 64", in: udpPacket(t, "10.0.0.1", "10.0.0.2", 64, 64), annotate: true, wantTTL: 63},
		{name: "ttl 2", in: udpPacket(t, "10.0.0.1", "10.0.0.2", 2, 64), annotate: true, wantTTL: 1},
		{name: "ttl 255", in: udpPacket(t, "10.0.0.1", "10.0.0.2", 255, 100), annotate: true, wantTTL: 254},
		{name: "ttl 1 expires", in: udpPacket(t, "10.0.0.1", "10.0.0.2", 1, 64), annotate: true, wantOut: 1, wantTTL: 1},
		{name: "ttl 0 expires", in: udpPacket(t, "10.0.0.1", "10.0.0.2", 0, 64), annotate: true, wantOut: 1, wantTTL: 0},
		{name: "multicast decremented", in: udpPacket(t, "10.0.0.1", "224.0.0.5", 9, 64), annotate: true, wantTTL: 8},
		{name: "multicast untouched", config: "MULTICAST false", in: udpPacket(t, "10.0.0.1", "224.0.0.5", 9, 64), annotate: true, wantTTL: 9},
		{name: "inactive", config: "ACTIVE false", in: udpPacket(t, "10.0.0.1", "10.0.0.2", 1, 64), annotate: true, wantTTL: 1},
		{name: "no annotation", in: udpPacket(t, "10.0.0.1", "10.0.0.2", 64, 64), wantOut: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "DecIPTTL", tc.config, 1, 2)
			p := h.Packet(tc.in)
			if tc.annotate {
				p.SetNetworkAt(0)
			}
			h.PushPackets(0, p)
			if tc.wantOut < 0 {
				if h.Outs[0].Count+h.Outs[1].Count != 0 || h.Elem.Core().Drops != 1 {
					t.Fatalf("malformed packet not dropped")
				}
				return
			}
			if h.Outs[tc.wantOut].Count != 1 || h.Outs[1-tc.wantOut].Count != 0 {
				t.Fatalf("outputs %d/%d, want the packet on %d", h.Outs[0].Count, h.Outs[1].Count, tc.wantOut)
			}
			out := h.Outs[tc.wantOut].Pkts[0].Data()
			if out[8] != tc.wantTTL {
				t.Fatalf("TTL %d, want %d", out[8], tc.wantTTL)
			}
			if !ipSumValid(out) {
				t.Fatalf("checksum invalid after decrement: % x", out[:20])
			}
			if wantDrops := map[bool]string{true: "1", false: "0"}[tc.wantOut == 1]; h.Read("drops") != wantDrops {
				t.Fatalf("drops = %s, want %s", h.Read("drops"), wantDrops)
			}
		})
	}
}

// TestDecIPTTLEveryTTL walks every TTL and many header values: the
// incremental update must always agree with a full recomputation.
func TestDecIPTTLEveryTTL(t *testing.T) {
	h := elemtest.New(t, "DecIPTTL", "", 1, 2)
	base := udpPacket(t, "10.1.2.3", "192.168.77.1", 64, 64)
	for ttl := 2; ttl < 256; ttl++ {
		for _, id := range []uint16{0, 1, 0x7fff, 0xfffe, 0xffff} {
			in := corrupt(base, func(c []byte) { c[8], c[4], c[5] = byte(ttl), byte(id>>8), byte(id); fixSum(c) })
			h.PushPackets(0, marked(h, in)...)
		}
	}
	for _, p := range h.Outs[0].Pkts {
		if !ipSumValid(p.Data()) {
			t.Fatalf("TTL %d: checksum invalid", p.Data()[8])
		}
	}
	if h.Outs[0].Count != 254*5 {
		t.Fatalf("forwarded %d, want %d", h.Outs[0].Count, 254*5)
	}
}

// TestDecIPTTLClone checks copy-on-write: a clone's bytes are not changed.
func TestDecIPTTLClone(t *testing.T) {
	h := elemtest.New(t, "DecIPTTL", "", 1, 1)
	orig := marked(h, udpPacket(t, "10.0.0.1", "10.0.0.2", 64, 64))[0]
	clone := h.Ctx.Pool.Clone(orig)
	h.PushPackets(0, clone)
	if orig.Data()[8] != 64 || h.Outs[0].Pkts[0].Data()[8] != 63 {
		t.Fatalf("original TTL %d, output TTL %d; want 64 and 63", orig.Data()[8], h.Outs[0].Pkts[0].Data()[8])
	}
}

func TestDecIPTTLAllocs(t *testing.T) {
	h := elemtest.New(t, "DecIPTTL", "", 1, 2)
	for _, c := range h.Outs {
		c.Discard = true
	}
	tmpl := udpPacket(t, "10.0.0.1", "10.0.0.2", 64, 64)
	var b packet.Batch
	run := func() {
		for i := 0; i < packet.MaxBatch; i++ {
			p := h.Ctx.Pool.NewFrom(tmpl)
			p.SetNetworkAt(0)
			b.Append(p)
		}
		h.PushBatch(0, &b)
	}
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Fatalf("%v allocations per batch, want 0", a)
	}
}

func BenchmarkDecIPTTL(b *testing.B) {
	h := elemtest.New(b, "DecIPTTL", "", 1, 1)
	d := h.Elem.(*DecIPTTL)
	var batch packet.Batch
	for i := 0; i < packet.MaxBatch; i++ {
		p := h.Packet(udpPacket(b, "10.0.0.1", "10.0.0.2", 255, 64))
		p.SetNetworkAt(0)
		batch.Append(p)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += packet.MaxBatch {
		for _, p := range batch.Packets() {
			p.Data()[8] = 255 // keep the packets alive across rounds
		}
		d.Process(h.Ctx, &batch)
	}
}
