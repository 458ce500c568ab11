package ip

import (
	"strings"
	"testing"

	"flowbox/appliance/packet"
	"flowbox/elements/elemtest"
)

func TestCheckIPHeader(t *testing.T) {
	good := udpPacket(t, "10.0.0.1", "10.0.0.2", 64, 64)
	ether := append(make([]byte, 14), good...)
	padded := append(append([]byte(nil), good[:40]...), make([]byte, 20)...)
	padded = corrupt(padded, func(c []byte) { c[2], c[3] = 0, 40; fixSum(c) })
	cases := []struct {
		name, config string
		in           []byte
		wantOut      int    // output port, -1 dropped
		reason       string // drop_details line expected to count 1
		wantLen      int
		netOff       int
	}{
		{name: "good", in: good, wantOut: 0, wantLen: 64},
		{name: "offset 14", config: "14", in: ether, wantOut: 0, wantLen: 78, netOff: 14},
		{name: "padding trimmed", in: padded, wantOut: 0, wantLen: 40},
		{name: "tiny", in: good[:19], wantOut: 1, reason: "tiny packet"},
		{name: "offset beyond data", config: "OFFSET 60", in: good, wantOut: 1, reason: "tiny packet"},
		{name: "version 6", in: corrupt(good, func(c []byte) { c[0] = 0x65; fixSum(c) }), wantOut: 1, reason: "bad IP version"},
		{name: "ihl 4", in: corrupt(good, func(c []byte) { c[0] = 0x44; fixSum(c) }), wantOut: 1, reason: "bad IP header length"},
		{name: "ihl past data", in: corrupt(good[:24], func(c []byte) { c[0] = 0x47 }), wantOut: 1, reason: "bad IP header length"},
		{name: "total > data", in: corrupt(good, func(c []byte) { c[3] = 65; fixSum(c) }), wantOut: 1, reason: "bad IP length"},
		{name: "total < ihl", in: corrupt(good, func(c []byte) { c[2], c[3] = 0, 19; fixSum(c) }), wantOut: 1, reason: "bad IP length"},
		{name: "bad checksum", in: corrupt(good, func(c []byte) { c[10] ^= 0xff }), wantOut: 1, reason: "bad IP checksum"},
		{name: "checksum off", config: "CHECKSUM false", in: corrupt(good, func(c []byte) { c[10] ^= 0xff }), wantOut: 0, wantLen: 64},
		{name: "bad src dropped without output 1", config: "BADSRC 10.0.0.1", in: good, wantOut: -1, reason: "bad source address"},
		{name: "interface broadcast src", config: "INTERFACES 10.0.0.9/24",
			in: udpPacket(t, "10.0.0.255", "10.0.0.7", 64, 64), wantOut: 1, reason: "bad source address"},
		{name: "zero src with interfaces", config: "INTERFACES 10.0.0.9/24",
			in: udpPacket(t, "0.0.0.0", "10.0.0.7", 64, 64), wantOut: 1, reason: "bad source address"},
		{name: "bad src to good dst", config: "INTERFACES 10.0.0.9/24",
			in: udpPacket(t, "0.0.0.0", "10.0.0.9", 64, 64), wantOut: 0, wantLen: 64},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nout := 2
			if tc.wantOut == -1 {
				nout = 1
			}
			h := elemtest.New(t, "CheckIPHeader", tc.config, 1, nout)
			h.Push(0, tc.in)
			for port, c := range h.Outs {
				want := 0
				if port == tc.wantOut {
					want = 1
				}
				if c.Count != want {
					t.Fatalf("output %d got %d packets, want %d", port, c.Count, want)
				}
			}
			details := h.Read("drop_details")
			if tc.wantOut == 0 {
				assertGood(t, h.Outs[0].Pkts[0], tc.wantLen, tc.netOff)
				if h.Read("drops") != "0" {
					t.Fatalf("drops = %s, want 0", h.Read("drops"))
				}
				return
			}
			if h.Read("drops") != "1" || !strings.Contains(details, "1 packets due to: "+tc.reason) {
				t.Fatalf("drops=%s details:\n%s\nwant one %q", h.Read("drops"), details, tc.reason)
			}
			if strings.Count(details, " 1 packets") != 1 {
				t.Fatalf("more than one reason counted:\n%s", details)
			}
		})
	}
}

func assertGood(t *testing.T, p *packet.Packet, wantLen, netOff int) {
	t.Helper()
	if p.Len() != wantLen {
		t.Fatalf("len %d, want %d", p.Len(), wantLen)
	}
	if p.NetworkOffset() != netOff || p.TransportOffset() != netOff+20 {
		t.Fatalf("net/trans offsets %d/%d, want %d/%d", p.NetworkOffset(), p.TransportOffset(), netOff, netOff+20)
	}
	if got, want := p.Anno.DstIP, [4]byte(p.Network()[16:20]); got != want {
		t.Fatalf("DstIP anno %v, want %v", got, want)
	}
}

func TestCheckIPHeaderPull(t *testing.T) {
	h, err := elemtest.Build(t, "CheckIPHeader", "", elemtest.Options{Inputs: 1, Outputs: 2, PullInputs: true, PullOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	good := udpPacket(t, "10.0.0.1", "10.0.0.2", 64, 64)
	bad := corrupt(good, func(c []byte) { c[10]++ })
	h.Srcs[0].Queue = append(h.Srcs[0].Queue, h.Packet(good), h.Packet(bad), h.Packet(good))
	got := h.Pull(0, 10)
	if len(got) != 2 || h.Outs[1].Count != 1 {
		t.Fatalf("pulled %d good, pushed %d bad; want 2 and 1", len(got), h.Outs[1].Count)
	}
}

func TestCheckIPHeaderConfigErrors(t *testing.T) {
	for _, cfg := range []string{"-1", "INTERFACES 1.2.3", "BADSRC foo", "CHECKSUM maybe", "FOO 1"} {
		if _, err := elemtest.Build(t, "CheckIPHeader", cfg, elemtest.Options{Inputs: 1, Outputs: 1}); err == nil {
			t.Errorf("config %q accepted", cfg)
		}
	}
}

// pushLoop returns a function that pushes one clone of tmpl through h and
// frees what comes out, for allocation tests and benchmarks.
func pushLoop(h *elemtest.Harness, tmpl []byte, n int) func() {
	for _, c := range h.Outs {
		c.Discard = true
	}
	pool := h.Ctx.Pool
	var b packet.Batch
	return func() {
		for i := 0; i < n; i++ {
			p := pool.New(len(tmpl))
			copy(p.Data(), tmpl)
			b.Append(p)
		}
		h.PushBatch(0, &b)
	}
}

func TestCheckIPHeaderAllocs(t *testing.T) {
	h := elemtest.New(t, "CheckIPHeader", "", 1, 2)
	run := pushLoop(h, udpPacket(t, "10.0.0.1", "10.0.0.2", 64, 64), packet.MaxBatch)
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Fatalf("%v allocations per batch, want 0", a)
	}
}

func BenchmarkCheckIPHeader(b *testing.B) {
	h := elemtest.New(b, "CheckIPHeader", "", 1, 1)
	h.Outs[0].Discard = true
	tmpl := h.Packet(udpPacket(b, "10.0.0.1", "10.0.0.2", 64, 64))
	var batch packet.Batch
	c := h.Elem.(*CheckIPHeader)
	b.ReportAllocs()
	b.ResetTimer()
	// Check a full batch of clones per round: the element's per-packet work
	// is what is measured, not the pool.
	h.Ctx.Pool.CloneN(tmpl, &batch, packet.MaxBatch)
	for i := 0; i < b.N; i += packet.MaxBatch {
		c.filter(h.Ctx, &batch, 0)
		if batch.N != packet.MaxBatch {
			b.Fatal("packet rejected")
		}
	}
}
