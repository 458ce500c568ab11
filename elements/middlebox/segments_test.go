package middlebox

import (
	"bytes"
	"testing"

	"github.com/google/gopacket/layers"
)

func payloadOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13 + 1)
	}
	return b
}

func TestSegSplit(t *testing.T) {
	mk := func(n int, f func(*tcpSpec)) []byte {
		s := defSpec()
		s.ackf, s.psh, s.payload = true, true, payloadOf(n)
		s.opts = []layers.TCPOption{tsOpt(), {OptionType: 1}, {OptionType: 1}}
		if f != nil {
			f(&s)
		}
		return s.build(t)
	}
	cases := []struct {
		name, config string
		in           []byte
		sizes        []int
	}{
		{"even split", "100", mk(300, nil), []int{100, 100, 100}},
		{"remainder", "100", mk(250, nil), []int{100, 100, 50}},
		{"small passes", "100", mk(100, nil), []int{100}},
		{"fin on last", "64", mk(100, func(s *tcpSpec) { s.fin = true }), []int{64, 36}},
		{"syn passes", "10", mk(50, func(s *tcpSpec) { s.syn, s.ackf = true, false }), []int{50}},
		{"size 1", "1", mk(3, nil), []int{1, 1, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, out := run(t, "SegSplit", tc.config, 1, 0, tc.in)
			if len(out) != len(tc.sizes) {
				t.Fatalf("%d segments, want %d", len(out), len(tc.sizes))
			}
			ip0, orig := decode(t, tc.in)
			var joined []byte
			for i, b := range out {
				ip, tcp := decode(t, b)
				if len(tcp.Payload) != tc.sizes[i] || tcp.Seq != orig.Seq+uint32(len(joined)) ||
					ip.Id != ip0.Id+uint16(i) || !bytes.Equal(opt(tcp, 8), opt(orig, 8)) || tcp.Ack != orig.Ack {
					t.Fatalf("segment %d: len %d seq %d id %d", i, len(tcp.Payload), tcp.Seq, ip.Id)
				}
				last := i == len(out)-1
				if tcp.PSH != (orig.PSH && last) || tcp.FIN != (orig.FIN && last) {
					t.Fatalf("segment %d: PSH %v FIN %v", i, tcp.PSH, tcp.FIN)
				}
				joined = append(joined, tcp.Payload...)
			}
			if !bytes.Equal(joined, orig.Payload) {
				t.Fatal("payload not preserved")
			}
		})
	}
}

func TestCoalesce(t *testing.T) {
	seg := func(seq uint32, n int, f func(*tcpSpec)) []byte {
		s := defSpec()
		s.ackf, s.seq, s.payload = true, seq, payloadOf(n)[:n]
		if f != nil {
			f(&s)
		}
		return s.build(t)
	}
	other := func(s *tcpSpec) { s.sport = 999 }
	cases := []struct {
		name   string
		in     [][]byte
		sizes  []int // payload sizes out
		seqs   []uint32
		timers bool // output only after the timer
	}{
		{"three merge", [][]byte{seg(1000, 100, nil), seg(1100, 100, nil), seg(1200, 50, nil)}, []int{250}, []uint32{1000}, true},
		{"gap", [][]byte{seg(1000, 100, nil), seg(1200, 100, nil)}, []int{100, 100}, []uint32{1000, 1200}, true},
		{"other flow", [][]byte{seg(1000, 100, nil), seg(1100, 100, other)}, []int{100, 100}, []uint32{1000, 1100}, true},
		{"psh ends", [][]byte{seg(1000, 100, nil), seg(1100, 100, func(s *tcpSpec) { s.psh = true }), seg(1200, 10, nil)},
			[]int{200, 10}, []uint32{1000, 1200}, true},
		{"size bound", [][]byte{seg(1000, 200, nil), seg(1200, 200, nil), seg(1400, 200, nil)}, []int{400, 200}, []uint32{1000, 1400}, true},
		{"fin passes in order", [][]byte{seg(1000, 100, nil), seg(1100, 0, func(s *tcpSpec) { s.fin = true })},
			[]int{100, 0}, []uint32{1000, 1100}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "Coalesce", "400, TIMEOUT 1ms")
			h.PushPackets(0, annotated(h, tc.in...)...)
			if tc.timers {
				h.FireTimers(1 << 62)
			}
			out := h.Outs[0].Data()
			if len(out) != len(tc.sizes) {
				t.Fatalf("%d packets, want %d", len(out), len(tc.sizes))
			}
			for i, b := range out {
				if !sumsValid(b) {
					t.Fatalf("packet %d: bad checksum", i)
				}
				_, tcp := decode(t, b)
				if len(tcp.Payload) != tc.sizes[i] || tcp.Seq != tc.seqs[i] {
					t.Fatalf("packet %d: %d bytes seq %d, want %d %d", i, len(tcp.Payload), tcp.Seq, tc.sizes[i], tc.seqs[i])
				}
			}
		})
	}
}

// A held segment waits for its timer; the timer releases it.
func TestCoalesceTimer(t *testing.T) {
	h := newHarness(t, "Coalesce", "1000, TIMEOUT 5ms")
	s := defSpec()
	s.ackf, s.payload = true, []byte("abc")
	h.Ctx.Now = 1e9
	h.PushPackets(0, annotated(h, s.build(t))...)
	if h.Outs[0].Count != 0 {
		t.Fatal("not held")
	}
	h.FireTimers(1e9 + 4e6)
	if h.Outs[0].Count != 0 {
		t.Fatal("released early")
	}
	h.FireTimers(1e9 + 5e6)
	if h.Outs[0].Count != 1 || h.Read("expired") != "1" {
		t.Fatalf("not released by the timer: %d", h.Outs[0].Count)
	}
}

func TestPayloadRewrite(t *testing.T) {
	h := elemtest2(t, "PayloadRewrite", `"PORT 10,0,0,1,", "PORT 192,168,100,200,", PORT 21`, 2)
	c2s := func(seq uint32, p string) []byte {
		s := defSpec()
		s.dport, s.ackf, s.psh, s.seq, s.ack, s.payload = 21, true, true, seq, 7000, []byte(p)
		return s.build(t)
	}
	s2c := func(ack uint32, sack ...uint32) []byte {
		s := defSpec()
		s.src, s.dst, s.sport, s.dport = "10.0.0.2", "10.0.0.1", 21, 1234
		s.ackf, s.seq, s.ack = true, 7000, ack
		if len(sack) > 0 {
			s.opts = []layers.TCPOption{{OptionType: 1}, {OptionType: 1}, sackOpt(sack...)}
		}
		return s.build(t)
	}
	cmd := "PORT 10,0,0,1,4,1\r\n" // 19 bytes -> 26 bytes
	h.PushPackets(0, annotated(h, c2s(1000, "USER x\r\n"), c2s(1008, cmd), c2s(1027, "LIST\r\n"), c2s(1008, cmd))...)
	h.PushPackets(1, annotated(h, s2c(1008), s2c(1034), s2c(1040, 1034, 1040))...)
	want0 := []struct {
		seq uint32
		p   string
	}{{1000, "USER x\r\n"}, {1008, "PORT 192,168,100,200,4,1\r\n"}, {1034, "LIST\r\n"}, {1008, "PORT 192,168,100,200,4,1\r\n"}}
	for i, b := range h.Outs[0].Data() {
		if !sumsValid(b) {
			t.Fatalf("forward %d: bad checksum", i)
		}
		_, tcp := decode(t, b)
		if tcp.Seq != want0[i].seq || string(tcp.Payload) != want0[i].p {
			t.Fatalf("forward %d: seq %d %q, want %d %q", i, tcp.Seq, tcp.Payload, want0[i].seq, want0[i].p)
		}
	}
	wantAck := []uint32{1008, 1027, 1033}
	for i, b := range h.Outs[1].Data() {
		if !sumsValid(b) {
			t.Fatalf("reverse %d: bad checksum", i)
		}
		_, tcp := decode(t, b)
		if tcp.Ack != wantAck[i] {
			t.Fatalf("reverse %d: ack %d, want %d", i, tcp.Ack, wantAck[i])
		}
		if i == 2 {
			if s := opt(tcp, layers.TCPOptionKindSACK); s[3] != byte(1027&0xff) || s[7] != byte(1033&0xff) {
				t.Fatalf("SACK not shifted back: % x", s)
			}
		}
	}
	if h.Read("replaced") != "2" || h.Read("flows") != "1" {
		t.Fatalf("replaced %s flows %s", h.Read("replaced"), h.Read("flows"))
	}
	// another port is not touched
	s := defSpec()
	s.ackf, s.payload = true, []byte(cmd)
	in := s.build(t)
	h.PushPackets(0, annotated(h, in)...)
	if got := h.Outs[0].Data()[4]; !bytes.Equal(got, in) {
		t.Fatal("port 80 segment rewritten")
	}
	// shrinking
	_, out := run(t, "PayloadRewrite", `"abcdef", "x"`, 2, 0, s.build(t), func() []byte { s.payload = []byte("--abcdef--abcdef"); return s.build(t) }())
	if _, tcp := decode(t, out[1]); string(tcp.Payload) != "--x--x" {
		t.Fatalf("shrunk to %q", tcp.Payload)
	}
}
