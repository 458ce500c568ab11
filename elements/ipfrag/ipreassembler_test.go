package ipfrag

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
	"flowbox/elements/elemtest"
)

// fragment builds one fragment of a datagram by hand: payload bytes
// [lo,hi) of d (header length 20) with the MF flag as given.
func fragment(d []byte, lo, hi int, more bool) []byte {
	f := make([]byte, 20+hi-lo)
	copy(f, d[:20])
	f[0] = 0x45
	copy(f[20:], d[20+lo:20+hi])
	proto.Put16(f, proto.IPOffLen, uint16(len(f)))
	flags := uint16(lo / 8)
	if more {
		flags |= proto.IPFlagMF
	}
	proto.Put16(f, proto.IPOffFrag, flags)
	proto.SetIPv4Checksum(f)
	return f
}

func pushIP(h *elemtest.Harness, ips ...[]byte) {
	var ps []*packet.Packet
	for _, ip := range ips {
		ps = append(ps, ipPacket(h, nil, ip))
	}
	h.PushPackets(0, ps...)
}

func TestReassemblesAnyOrder(t *testing.T) {
	d := datagram(42, testOpts, 3000, 0)
	frags := fragmentVia(t, d, "576")
	orders := map[string]func([][]byte){
		"as emitted": func([][]byte) {},
		"reversed": func(f [][]byte) {
			for i, j := 0, len(f)-1; i < j; i, j = i+1, j-1 {
				f[i], f[j] = f[j], f[i]
			}
		},
		"shuffled": func(f [][]byte) {
			rand.New(rand.NewPCG(1, 1)).Shuffle(len(f), func(i, j int) { f[i], f[j] = f[j], f[i] })
		},
	}
	for name, reorder := range orders {
		t.Run(name, func(t *testing.T) {
			fs := append([][]byte(nil), frags...)
			reorder(fs)
			h := elemtest.New(t, "IPReassembler", "", 1, 1)
			pushIP(h, fs...)
			out := h.Outs[0].Data()
			if len(out) != 1 || !bytes.Equal(out[0], d) {
				t.Fatalf("got %d packets; first differs from original: %v", len(out), len(out) == 1)
			}
			if h.Read("sets") != "0" || h.Read("mem_size") != "0" || h.Read("reassembled") != "1" {
				t.Fatalf("state left: sets %s mem %s", h.Read("sets"), h.Read("mem_size"))
			}
		})
	}
}

func TestReassemblerPassesNonFragmentsInOrder(t *testing.T) {
	d := datagram(1, nil, 100, 0)
	big := datagram(2, nil, 40, 0)
	h := elemtest.New(t, "IPReassembler", "", 1, 1)
	pushIP(h, d, fragment(big, 0, 16, true), d, fragment(big, 16, 40, false), d)
	out := h.Outs[0].Data()
	want := [][]byte{d, d, big, d}
	if len(out) != len(want) {
		t.Fatalf("%d packets, want %d", len(out), len(want))
	}
	for i := range want {
		if !bytes.Equal(out[i], want[i]) {
			t.Errorf("packet %d differs", i)
		}
	}
	checkHeader(t, out[2])
	if p := h.Outs[0].Pkts[2]; p.TransportOffset() != 20 || p.NetworkOffset() != 0 {
		t.Errorf("annotations: net %d trans %d", p.NetworkOffset(), p.TransportOffset())
	}
}

func TestReassemblerDuplicatesAndOverlaps(t *testing.T) {
	d := datagram(9, nil, 48, 0)
	// Same offsets, different data: the first arrival must win.
	evil := append([]byte(nil), d...)
	for i := 20; i < len(evil); i++ {
		evil[i] ^= 0xff
	}
	cases := []struct {
		name       string
		frags      [][]byte
		dups       string
		wantPacket []byte
	}{
		{"exact duplicate", [][]byte{fragment(d, 0, 16, true), fragment(d, 0, 16, true), fragment(d, 16, 48, false)}, "1", d},
		{"contained duplicate", [][]byte{fragment(d, 0, 32, true), fragment(evil, 8, 24, true), fragment(d, 32, 48, false)}, "1", d},
		{"partial overlap keeps first data", [][]byte{fragment(d, 0, 24, true), fragment(evil, 16, 40, true), fragment(d, 40, 48, false)},
			"0", append(append(append([]byte(nil), d[:44]...), evil[44:60]...), d[60:]...)},
		{"duplicate last", [][]byte{fragment(d, 32, 48, false), fragment(d, 32, 48, false), fragment(d, 0, 32, true)}, "1", d},
	}
	for _, c := range cases {
		h := elemtest.New(t, "IPReassembler", "", 1, 1)
		pushIP(h, c.frags...)
		out := h.Outs[0].Data()
		if len(out) != 1 || h.Read("duplicates") != c.dups {
			t.Fatalf("%s: %d packets, duplicates %s", c.name, len(out), h.Read("duplicates"))
		}
		checkHeader(t, out[0])
		if !bytes.Equal(out[0][20:], c.wantPacket[20:]) {
			t.Errorf("%s: payload\n% x\nwant\n% x", c.name, out[0][20:], c.wantPacket[20:])
		}
	}
}

func TestReassemblerMalformed(t *testing.T) {
	d := datagram(3, nil, 128, 0)
	odd := fragment(d, 0, 12, true) // non-final, not a multiple of 8
	empty := fragment(d, 8, 8, true)
	huge := fragment(d, 0, 16, true)
	proto.Put16(huge, proto.IPOffFrag, proto.IPFlagMF|0x1fff) // 65528 + 16 > 65535
	garbage := []byte{0x45, 0, 0, 5}
	cases := []struct {
		name  string
		frags [][]byte
		bad   string
		out1  int
	}{
		{"odd length", [][]byte{odd}, "1", 1},
		{"empty", [][]byte{empty}, "1", 1},
		{"past 64K", [][]byte{huge}, "1", 1},
		{"garbage", [][]byte{garbage}, "1", 1},
		// Two different final lengths: the set and the liar are dropped.
		{"conflicting end", [][]byte{fragment(d, 0, 16, true), fragment(d, 48, 64, false), fragment(d, 16, 32, false)}, "1", 3},
		{"data past end", [][]byte{fragment(d, 48, 64, false), fragment(d, 56, 72, true)}, "1", 2},
	}
	for _, c := range cases {
		h := elemtest.New(t, "IPReassembler", "", 1, 2)
		pushIP(h, c.frags...)
		if len(h.Outs[0].Pkts) != 0 || len(h.Outs[1].Pkts) != c.out1 || h.Read("malformed") != c.bad {
			t.Errorf("%s: out0 %d out1 %d malformed %s; want 0 %d %s", c.name,
				len(h.Outs[0].Pkts), len(h.Outs[1].Pkts), h.Read("malformed"), c.out1, c.bad)
		}
		if h.Read("mem_size") != "0" {
			t.Errorf("%s: mem_size %s after discarding", c.name, h.Read("mem_size"))
		}
	}
}

func TestReassemblerExpiresAfter30s(t *testing.T) {
	const t0 = int64(1_000_000_000_000)
	d := datagram(5, nil, 64, 0)
	h := elemtest.New(t, "IPReassembler", "", 1, 2)
	h.Ctx.Now = t0
	pushIP(h, fragment(d, 0, 16, true))
	h.Ctx.Now = t0 + int64(10*time.Second)
	pushIP(h, fragment(datagram(6, nil, 64, 0), 0, 16, true))
	h.FireTimers(t0 + int64(29*time.Second))
	if len(h.Outs[1].Pkts) != 0 || h.Read("sets") != "2" {
		t.Fatalf("expired early")
	}
	h.FireTimers(t0 + int64(30*time.Second))
	if len(h.Outs[1].Pkts) != 1 || h.Read("expired") != "1" || h.Read("sets") != "1" {
		t.Fatalf("at 30s: out1 %d expired %s sets %s", len(h.Outs[1].Pkts), h.Read("expired"), h.Read("sets"))
	}
	h.FireTimers(t0 + int64(40*time.Second))
	if len(h.Outs[1].Pkts) != 2 || h.Read("sets") != "0" || h.Read("mem_size") != "0" {
		t.Fatalf("second set did not expire at 40s")
	}
}

func TestReassemblerEvictsOldestFirst(t *testing.T) {
	h := elemtest.New(t, "IPReassembler", "HIMEM 4000", 1, 2)
	// Each partial set holds one 1020-byte fragment: the fourth pushes
	// memory to 4080 > 4000, so the oldest (id 0) goes.
	for id := uint16(0); id < 4; id++ {
		pushIP(h, fragment(datagram(id, nil, 2000, 0), 0, 1000, true))
	}
	if h.Read("evicted") != "1" || h.Read("sets") != "3" || len(h.Outs[1].Pkts) != 1 {
		t.Fatalf("evicted %s sets %s out1 %d", h.Read("evicted"), h.Read("sets"), len(h.Outs[1].Pkts))
	}
	if id := proto.U16(h.Outs[1].Pkts[0].Network(), proto.IPOffID); id != 0 {
		t.Fatalf("evicted set %d, want the oldest (0)", id)
	}
	// The survivors still complete.
	pushIP(h, fragment(datagram(3, nil, 2000, 0), 1000, 2000, false))
	if h.Read("reassembled") != "1" {
		t.Fatalf("survivor did not reassemble")
	}
}

func TestReassemblerMtuAnnoAndPull(t *testing.T) {
	d := datagram(8, nil, 1200, 0)
	frags := fragmentVia(t, d, "576")
	h, err := elemtest.Build(t, "IPReassembler", "MAX_MTU_ANNO 2", elemtest.Options{Inputs: 1, Outputs: 1, PullInputs: true, PullOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frags {
		h.Srcs[0].Queue = append(h.Srcs[0].Queue, ipPacket(h, nil, f))
	}
	got := h.Pull(0, packet.MaxBatch)
	if len(got) != 1 || !bytes.Equal(got[0].Data(), d) {
		t.Fatalf("pull gave %d packets", len(got))
	}
	if got[0].Anno.User[2] != 572 {
		t.Errorf("MTU annotation %d, want 572", got[0].Anno.User[2])
	}
	for _, bad := range []string{"HIMEM 10", "MAX_MTU_ANNO 4", "MAX_MTU_ANNO -2"} {
		if _, err := elemtest.Build(t, "IPReassembler", bad, elemtest.Options{Inputs: 1, Outputs: 1}); err == nil {
			t.Errorf("config %q accepted", bad)
		}
	}
}

func TestReassemblerAllocatesNothing(t *testing.T) {
	h := elemtest.New(t, "IPReassembler", "", 1, 1)
	h.Outs[0].Discard = true
	var frags [][]byte
	for id := uint16(0); id < 8; id++ {
		d := datagram(id, nil, 600, 0)
		frags = append(frags, fragment(d, 0, 304, true), fragment(d, 304, 600, false))
	}
	var b packet.Batch
	// One adapter for the whole run, as the runtime wires it (the
	// harness's PushBatch builds a new one per call).
	push := core.AsPusher(h.Elem)
	run := func() {
		for _, f := range frags {
			b.Append(ipPacket(h, nil, f))
		}
		push.Push(h.Ctx, 0, &b)
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Fatalf("%v allocations per batch", n)
	}
	// run is called once by hand, once as AllocsPerRun's warm-up, then 100 times.
	if h.Outs[0].Count != 8*102 {
		t.Fatalf("reassembled %d datagrams, want %d", h.Outs[0].Count, 8*102)
	}
}

func BenchmarkIPReassembler(b *testing.B) {
	h := elemtest.New(b, "IPReassembler", "", 1, 1)
	h.Outs[0].Discard = true
	var frags [][]byte
	for id := uint16(0); id < 16; id++ {
		d := datagram(id, nil, 1400, 0)
		frags = append(frags, fragment(d, 0, 704, true), fragment(d, 704, 1400, false))
	}
	var batch packet.Batch
	for b.Loop() {
		for _, f := range frags {
			batch.Append(ipPacket(h, nil, f))
		}
		h.PushBatch(0, &batch)
	}
}

// FuzzReassembler feeds random fragments of a few datagrams and checks the
// invariants: no panic, memory within HIMEM and matching what is held,
// every emitted datagram well formed.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{0, 0, 2, 1, 0, 3, 1, 0, 2, 0, 0, 3})
	f.Add([]byte{1, 5, 10, 0, 1, 0, 10, 1, 1, 5, 10, 0})
	f.Add(bytes.Repeat([]byte{2, 1, 1, 1}, 30))
	f.Fuzz(func(t *testing.T, data []byte) {
		h := elemtest.New(t, "IPReassembler", "HIMEM 3000", 1, 2)
		src := make([]byte, 20+2048)
		for i := range src {
			src[i] = byte(i)
		}
		for len(data) >= 4 {
			id, off, n, flags := data[0]%4, int(data[1]%64)*8, int(data[2])*8, data[3]
			data = data[4:]
			ip := make([]byte, 20+n)
			ip[0] = 0x45
			if flags&0x80 != 0 { // occasionally a broken header
				ip[0] = flags
			}
			proto.Put16(ip, proto.IPOffLen, uint16(len(ip)-int(flags&0x40)/8))
			proto.Put16(ip, proto.IPOffID, uint16(id))
			fr := uint16(off / 8)
			if flags&1 != 0 {
				fr |= proto.IPFlagMF
			}
			if flags&2 != 0 {
				n -= int(flags>>2) & 7 // odd lengths
			}
			binary.BigEndian.PutUint16(ip[6:], fr)
			copy(ip[20:], src[off%2048:])
			if ip[0] == 0x45 {
				proto.SetIPv4Checksum(ip)
			}
			h.Ctx.Now += int64(time.Duration(flags&0x30) * time.Second)
			h.FireTimers(h.Ctx.Now)
			pushIP(h, ip[:20+max(n, 0)])
			r := h.Elem.(*IPReassembler)
			held := 0
			for s := r.oldest; s != nil; s = s.newer {
				for _, p := range s.frags {
					held += p.Len()
				}
			}
			if r.mem > r.himem || r.mem != held {
				t.Fatalf("mem %d, held %d, himem %d", r.mem, held, r.himem)
			}
		}
		for _, p := range h.Outs[0].Pkts {
			ip := p.Network()
			// Non-fragments pass through as generated (checksummed, maybe
			// with trailing bytes); datagrams are rebuilt exactly.
			if proto.Checksum(ip[:proto.IPv4HeaderLen(ip)]) != 0 || int(proto.U16(ip, 2)) > len(ip) || proto.IsFragment(ip) {
				t.Fatalf("bad datagram out: % x", ip[:20])
			}
		}
	})
}
