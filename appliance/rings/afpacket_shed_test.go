package rings_test

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"flowbox/appliance/packet"
	"flowbox/appliance/rings"
	"flowbox/tests/netns/nsenv"
)

// TestPacketPortShed checks XDP load shedding on a PACKET port: while the
// RX ring is backed up (3/4 full) the device's XDP program drops frames
// before the kernel's receive path (counted in Stats.Shed, not in the
// ring's KernelDrops); once the reader has drained the ring below 1/4,
// frames flow again, in order; Close removes the program.
func TestPacketPortShed(t *testing.T) {
	pool := packet.NewPool(nil)
	const ringFrames = 256
	a, b, ns := pair(t, rings.Options{Shed: true, RingFrames: ringFrames})
	if got := b.Mode(); !strings.HasPrefix(got, "tpacket_v2+shed-xdp-") {
		t.Fatalf("mode %q, want tpacket_v2+shed-xdp-*", got)
	}
	if out, _ := nsenv.NS(ns, "ip", "link", "show", "dev", "vb"); !strings.Contains(out, "prog/xdp") {
		t.Fatalf("no XDP program on vb:\n%s", out)
	}
	seq := uint32(0)
	send := func(n int) {
		t.Helper()
		for n > 0 {
			var bt packet.Batch
			for bt.N < 32 && n > 0 {
				bt.Append(frame(pool, seq, 100))
				seq++
				n--
			}
			if _, err := a.SendBatch(pool, &bt); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Our frames only: the kernel may add its own (IPv6 router solicitations).
	ours := func(p *packet.Packet) (uint32, bool) {
		d := p.Data()
		if len(d) != 100 || binary.BigEndian.Uint16(d[12:]) != 0x88b5 {
			return 0, false
		}
		return binary.BigEndian.Uint32(d[14:]), true
	}

	// Fill the ring without reading: the kernel drops the overflow itself
	// (nobody told the program to shed yet).
	send(2 * ringFrames)
	waitFor(t, func() bool { return b.Stats().KernelDrops > 0 })
	if s := b.Stats(); s.Shed != 0 {
		t.Fatalf("shed %d frames before the reader saw a full ring", s.Shed)
	}
	// One small read sees the ring still more than 3/4 full: shedding on.
	var bt packet.Batch
	if _, err := b.RecvBatch(pool, &bt, 8); err != nil {
		t.Fatal(err)
	}
	pool.FreeBatch(&bt)
	kd := b.Stats().KernelDrops
	send(500)
	waitFor(t, func() bool { return b.Stats().Shed >= 500 })
	if s := b.Stats(); s.KernelDrops != kd {
		t.Fatalf("kernel ring drops went from %d to %d while shedding: frames reached the ring path", kd, s.KernelDrops)
	}

	// Drain: shedding goes off below 1/4, then new frames arrive in order.
	for {
		n, err := b.RecvBatch(pool, &bt, packet.MaxBatch)
		if err != nil {
			t.Fatal(err)
		}
		pool.FreeBatch(&bt)
		if n == 0 {
			break
		}
	}
	shed := b.Stats().Shed
	first := seq
	send(100)
	want := first
	recvN(t, pool, b, 100, func(p *packet.Packet) {
		if s, ok := ours(p); ok {
			if s != want {
				t.Fatalf("after draining got seq %d, want %d", s, want)
			}
			want++
		}
	})
	if want != first+100 {
		t.Fatalf("after draining received %d of 100", want-first)
	}
	if s := b.Stats(); s.Shed != shed {
		t.Fatalf("shed %d more frames with an empty ring", s.Shed-shed)
	}

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if out, _ := nsenv.NS(ns, "ip", "link", "show", "dev", "vb"); strings.Contains(out, "prog/xdp") {
		t.Fatalf("XDP program left on vb after Close:\n%s", out)
	}
}

// waitFor polls cond for up to 2 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
