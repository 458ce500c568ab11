package rings_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"flowbox/appliance/packet"
	"flowbox/appliance/rings"
	"flowbox/tests/netns/nsenv"
)

// pair opens PACKET ports on both ends of a veth pair inside a fresh
// namespace.
func pair(t *testing.T, opt rings.Options) (a, b rings.Port, ns string) {
	t.Helper()
	if why := nsenv.Available(); why != "" {
		t.Skip(why)
	}
	e := nsenv.New()
	t.Cleanup(e.Close)
	ns, err := e.AddNS("r")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Veth(ns, "va", ns, "vb"); err != nil {
		t.Fatal(err)
	}
	err = nsenv.Run(ns, func() error {
		var err error
		if a, err = rings.Open("va", rings.MethodPacket, opt); err != nil {
			return err
		}
		b, err = rings.Open("vb", rings.MethodPacket, opt)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	if rs, ok := b.(rings.RXStarter); ok {
		if err := nsenv.Run(ns, func() error { return rs.StartRX(opt) }); err != nil {
			t.Fatal(err)
		}
	}
	return a, b, ns
}

func frame(pool *packet.Pool, seq uint32, n int) *packet.Packet {
	p := pool.New(n)
	d := p.Data()
	copy(d, []byte{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5}) // local experimental ethertype
	for i := 14; i < n; i++ {
		d[i] = byte(i)
	}
	binary.BigEndian.PutUint32(d[14:], seq)
	return p
}

// recvN receives until n packets arrived or 2s passed.
func recvN(t *testing.T, pool *packet.Pool, p rings.Port, n int, out func(*packet.Packet)) int {
	got := 0
	var b packet.Batch
	deadline := time.Now().Add(2 * time.Second)
	for got < n && time.Now().Before(deadline) {
		k, err := p.RecvBatch(pool, &b, packet.MaxBatch)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < b.N; i++ {
			out(b.P[i])
		}
		pool.FreeBatch(&b)
		got += k
		if k == 0 {
			if w, ok := p.(rings.Waiter); ok {
				w.WaitRX(10)
			}
		}
	}
	return got
}

func TestPacketPortInOrder(t *testing.T) {
	pool := packet.NewPool(nil)
	a, b, _ := pair(t, rings.Options{})
	if a.Method() != rings.MethodPacket || a.Mode() != "tpacket_v2" {
		t.Fatalf("method %s mode %s", a.Method(), a.Mode())
	}
	const total = 2000
	seq := uint32(0)
	next := uint32(0)
	check := func(p *packet.Packet) {
		d := p.Data()
		if len(d) != 100 || binary.BigEndian.Uint16(d[12:]) != 0x88b5 {
			return // kernel noise
		}
		if s := binary.BigEndian.Uint32(d[14:]); s != next {
			t.Fatalf("got seq %d, want %d", s, next)
		}
		for i := 18; i < 100; i++ {
			if d[i] != byte(i) {
				t.Fatalf("seq %d: byte %d changed", next, i)
			}
		}
		next++
	}
	for seq < total {
		var bt packet.Batch
		for bt.N < 50 {
			bt.Append(frame(pool, seq, 100))
			seq++
		}
		n, err := a.SendBatch(pool, &bt)
		if err != nil || n != 50 {
			t.Fatalf("sent %d, %v", n, err)
		}
		recvN(t, pool, b, 1, check) // drain as we go, in order
	}
	for next < total && recvN(t, pool, b, int(total-next), check) > 0 {
	}
	if next != total {
		t.Fatalf("received %d of %d in order", next, total)
	}
	if s := a.Stats(); s.TX != total || s.TXDrops != 0 {
		t.Fatalf("tx stats %+v", s)
	}
	if s := b.Stats(); s.RX < total || s.KernelDrops != 0 {
		t.Fatalf("rx stats %+v", s)
	}
}

func TestPacketPortDropsMalformed(t *testing.T) {
	pool := packet.NewPool(nil)
	a, _, _ := pair(t, rings.Options{})
	var bt packet.Batch
	bt.Append(frame(pool, 1, 60))
	bt.Append(pool.New(10))   // runt
	bt.Append(pool.New(1600)) // beyond MTU 1500 + 18
	bt.Append(frame(pool, 2, 60))
	if ks, ok := a.(rings.SendKeeper); ok {
		var failed packet.Batch
		n, err := ks.SendBatchKeep(&bt, &failed)
		if err != nil || n != 2 || bt.N != 2 || failed.N != 2 {
			t.Fatalf("sent %d (%d kept, %d failed), %v", n, bt.N, failed.N, err)
		}
		if failed.P[0].Len() != 10 || failed.P[1].Len() != 1600 {
			t.Fatalf("failed packets out of order")
		}
		pool.FreeBatch(&bt)
		pool.FreeBatch(&failed)
	} else {
		t.Fatal("PACKET port does not implement SendKeeper")
	}
	s := a.Stats()
	if s.TXDrops != 2 || s.DropReasons["tx-runt"] != 1 || s.DropReasons["tx-oversized"] != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPacketPortBPFFilter(t *testing.T) {
	pool := packet.NewPool(nil)
	a, b, _ := pair(t, rings.Options{BPFFilter: "ether proto 0x88b6"})
	var bt packet.Batch
	for i := 0; i < 20; i++ {
		p := frame(pool, uint32(i), 64)
		if i%2 == 1 {
			p.Data()[13] = 0xb6
		}
		bt.Append(p)
	}
	a.SendBatch(pool, &bt)
	seen := 0
	recvN(t, pool, b, 10, func(p *packet.Packet) {
		if binary.BigEndian.Uint16(p.Data()[12:]) != 0x88b6 {
			t.Fatalf("filter let through ethertype %x", p.Data()[12:14])
		}
		seen++
	})
	if seen != 10 {
		t.Fatalf("filter passed %d of 10 frames", seen)
	}
}

// TestPacketPortZeroAlloc proves the RX and TX paths allocate nothing
// per packet on a real veth pair.
func TestPacketPortZeroAlloc(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testPacketPortZeroAlloc(t, rings.Options{}) })
	t.Run("shed", func(t *testing.T) { testPacketPortZeroAlloc(t, rings.Options{Shed: true}) })
}

func testPacketPortZeroAlloc(t *testing.T, opt rings.Options) {
	pool := packet.NewPool(nil)
	a, b, _ := pair(t, opt)
	tmpl := make([]*packet.Packet, 32)
	bt := new(packet.Batch)
	run := func() {
		for range tmpl {
			p := pool.New(64)
			copy(p.Data(), []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5})
			bt.Append(p)
		}
		a.SendBatch(pool, bt)
		got := 0
		for spin := 0; got < 32 && spin < 100000; spin++ {
			n, _ := b.RecvBatch(pool, bt, packet.MaxBatch)
			got += n
			pool.FreeBatch(bt)
		}
		if got != 32 {
			t.Fatalf("received %d of 32", got)
		}
	}
	run() // warm the pool
	if allocs := testing.AllocsPerRun(200, run); allocs != 0 {
		t.Fatalf("%.1f allocations per 32-packet round trip, want 0", allocs)
	}
}

func TestRegistryRefcount(t *testing.T) {
	if why := nsenv.Available(); why != "" {
		t.Skip(why)
	}
	e := nsenv.New()
	defer e.Close()
	ns, err := e.AddNS("g")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Veth(ns, "va", ns, "vb"); err != nil {
		t.Fatal(err)
	}
	var p1, p2 rings.Port
	var r1, r2 func()
	err = nsenv.Run(ns, func() error {
		var err error
		if p1, r1, err = rings.Acquire("va", rings.MethodPacket, rings.Options{}); err != nil {
			return err
		}
		p2, r2, err = rings.Acquire("va", rings.MethodPacket, rings.Options{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if p1 != p2 || rings.Held("va", rings.MethodPacket, 0) != 2 {
		t.Fatalf("not shared: %v", rings.Held("va", rings.MethodPacket, 0))
	}
	r1()
	r1() // idempotent
	if rings.Held("va", rings.MethodPacket, 0) != 1 {
		t.Fatal("release did not drop one reference")
	}
	var b packet.Batch
	if _, err := p2.RecvBatch(packet.NewPool(nil), &b, 1); err != nil {
		t.Fatalf("port closed while still held: %v", err)
	}
	r2()
	if _, err := p2.RecvBatch(packet.NewPool(nil), &b, 1); !errors.Is(err, errClosed()) {
		t.Fatalf("port still open after the last release: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := rings.Open("fbxnosuchdev0", rings.MethodPacket, rings.Options{})
	if err == nil || !strings.Contains(err.Error(), "fbxnosuchdev0") || !strings.Contains(err.Error(), "ip link") {
		t.Fatalf("missing interface error: %v", err)
	}
	err = rings.Check("lo", rings.MethodAuto, rings.Options{XDPMode: "turbo"})
	if err == nil || !strings.Contains(err.Error(), "lo: unsupported XDP mode") {
		t.Fatalf("bad XDP mode error: %v", err)
	}
	if _, err := rings.ParseMethod("DPDK"); err == nil {
		t.Fatal("ParseMethod accepted DPDK")
	}
}
