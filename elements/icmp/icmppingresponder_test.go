package icmp

import (
	"bytes"
	"testing"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func TestICMPPingResponder(t *testing.T) {
	echo := icmpPacket(t, "10.0.0.1", "10.0.0.2", 8, 0, 32)
	cases := []struct {
		name    string
		in      []byte
		noAnno  bool
		replied bool
	}{
		{name: "echo", in: echo, replied: true},
		{name: "echo, no payload", in: icmpPacket(t, "10.0.0.1", "10.0.0.2", 8, 0, 0), replied: true},
		{name: "echo reply", in: icmpPacket(t, "10.0.0.1", "10.0.0.2", 0, 0, 32)},
		{name: "unreachable", in: icmpPacket(t, "10.0.0.1", "10.0.0.2", 3, 1, 28)},
		{name: "udp", in: udpPacket(t, "10.0.0.1", "10.0.0.2", 64)},
		{name: "fragment", in: corrupt(echo, func(c []byte) { c[6] = 0x20 })},
		{name: "truncated", in: echo[:24]},
		{name: "no annotation", in: echo, noAnno: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "ICMPPingResponder", "", 1, 2)
			p := h.Packet(tc.in)
			if !tc.noAnno {
				p.SetNetworkAt(0)
			}
			h.PushPackets(0, p)
			if !tc.replied {
				if h.Outs[0].Count != 0 || h.Outs[1].Count != 1 || !bytes.Equal(h.Outs[1].Pkts[0].Data(), tc.in) {
					t.Fatal("non-echo not passed unchanged to output 1")
				}
				return
			}
			if h.Outs[0].Count != 1 {
				t.Fatal("no reply")
			}
			q := h.Outs[0].Pkts[0]
			d := q.Data()
			if !bytes.Equal(d[12:16], tc.in[16:20]) || !bytes.Equal(d[16:20], tc.in[12:16]) || d[8] != 255 {
				t.Fatal("addresses not swapped or TTL not 255")
			}
			if d[20] != 0 || !bytes.Equal(d[24:], tc.in[24:]) {
				t.Fatal("not an echo reply with the request's id, seq and data")
			}
			if refSum(d[:20]) != 0xffff || refSum(d[20:]) != 0xffff {
				t.Fatal("checksum invalid")
			}
			if q.Anno.DstIP != [4]byte(d[16:20]) || h.Read("count") != "1" {
				t.Fatal("DstIP annotation or count wrong")
			}
		})
	}
}

func TestICMPPingResponderDropsWithoutOutput1(t *testing.T) {
	h := elemtest.New(t, "ICMPPingResponder", "", 1, 1)
	p := h.Packet(udpPacket(t, "10.0.0.1", "10.0.0.2", 64))
	p.SetNetworkAt(0)
	q := h.Packet(icmpPacket(t, "10.0.0.1", "10.0.0.2", 8, 0, 8))
	q.SetNetworkAt(0)
	h.PushPackets(0, p, q)
	if h.Outs[0].Count != 1 || h.Read("drops") != "1" || h.Elem.Core().Drops != 1 {
		t.Fatal("non-echo not dropped")
	}
}

// pushEchoes pushes a batch of 64 annotated copies of frames, in turn.
func pushEchoes(h *elemtest.Harness, b *packet.Batch, frames [][]byte) {
	for i := 0; i < packet.MaxBatch; i++ {
		p := h.Ctx.Pool.NewFrom(frames[i%len(frames)])
		p.SetNetworkAt(0)
		b.Append(p)
	}
	h.PushBatch(0, b)
}

func TestICMPPingResponderAllocs(t *testing.T) {
	h := elemtest.New(t, "ICMPPingResponder", "", 1, 2)
	h.Outs[0].Discard = true
	frames := [][]byte{icmpPacket(t, "10.0.0.1", "10.0.0.2", 8, 0, 32)}
	var b packet.Batch
	run := func() { pushEchoes(h, &b, frames) }
	run()
	if a := testing.AllocsPerRun(50, run); a != 0 {
		t.Fatalf("%v allocations per batch", a)
	}
}

// BenchmarkICMPPingResponder answers batches of 64 packets, every other
// one an echo request (the rest go to output 1); ns/op is per packet and
// includes copying each frame into a fresh pool packet.
func BenchmarkICMPPingResponder(b *testing.B) {
	h := elemtest.New(b, "ICMPPingResponder", "", 1, 2)
	h.Outs[0].Discard = true
	h.Outs[1].Discard = true
	frames := [][]byte{icmpPacket(b, "10.0.0.1", "10.0.0.2", 8, 0, 32), udpPacket(b, "10.0.0.1", "10.0.0.2", 60)}
	var bt packet.Batch
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += packet.MaxBatch {
		pushEchoes(h, &bt, frames)
	}
}
