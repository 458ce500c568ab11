package ids

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"flowbox/appliance/core"
	"flowbox/appliance/flowtable"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
	"flowbox/elements/elemtest"
)

const sec = int64(1e9)

func ip4(s string) uint32 {
	b := netip.MustParseAddr(s).As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// mk builds an IPv4 packet of protocol p (TCP with 4 bytes of options)
// carrying payload, with correct checksums.
func mk(p uint8, src string, sport uint16, dst string, dport uint16, payload string) []byte {
	l4 := 8
	if p == proto.ProtoTCP {
		l4 = 24
	}
	b := make([]byte, 20+l4+len(payload))
	b[0] = 0x45
	proto.Put16(b, proto.IPOffLen, uint16(len(b)))
	b[proto.IPOffTTL] = 64
	b[proto.IPOffProto] = p
	proto.Put32(b, proto.IPOffSrc, ip4(src))
	proto.Put32(b, proto.IPOffDst, ip4(dst))
	seg := b[20:]
	proto.Put16(seg, 0, sport)
	proto.Put16(seg, 2, dport)
	copy(seg[l4:], payload)
	switch p {
	case proto.ProtoTCP:
		seg[proto.TCPOffDataOff] = 6 << 4
		seg[proto.TCPOffFlags] = proto.TCPAck
		copy(seg[20:24], []byte{1, 1, 1, 0}) // NOPs, EOL
		proto.SetTransportChecksum(b, seg, p, proto.TCPOffSum)
	case proto.ProtoUDP:
		proto.Put16(seg, proto.UDPOffLen, uint16(len(seg)))
		proto.SetTransportChecksum(b, seg, p, proto.UDPOffSum)
	case proto.ProtoICMP:
		seg[0] = 8
	}
	proto.SetIPv4Checksum(b)
	return b
}

func tcpP(payload string) []byte {
	return mk(proto.ProtoTCP, "10.0.1.2", 1234, "10.0.2.2", 80, payload)
}
func udpP(payload string) []byte {
	return mk(proto.ProtoUDP, "10.0.1.2", 5353, "10.0.2.2", 53, payload)
}

// ---- FlowMeter ----

func TestFlowMeterCounts(t *testing.T) {
	h := elemtest.New(t, "FlowMeter", "TIMEOUT 10s, CAPACITY 4", 1, 1)
	m := h.Elem.(*FlowMeter)
	type step struct {
		at     int64
		frames [][]byte
		flows  int
	}
	a := udpP("aaaa")                                               // 20+8+4 = 32 bytes
	b := mk(proto.ProtoUDP, "10.0.2.2", 53, "10.0.1.2", 5353, "bb") // reverse direction: its own flow
	c := tcpP("hello")
	ic := mk(proto.ProtoICMP, "10.0.1.2", 0, "10.0.2.2", 0, "")
	steps := []step{
		{1, [][]byte{a, a, b}, 2},
		{2, [][]byte{c, ic}, 4},
		{3, [][]byte{mk(proto.ProtoUDP, "10.0.1.9", 1, "10.0.2.2", 2, "")}, 4}, // full: overflow
		{14, [][]byte{a}, 1}, // the reaper did not run: the full-table reap frees the rest
	}
	for i, s := range steps {
		h.Ctx.Now = s.at * sec
		h.Push(0, s.frames...)
		if got := len(h.Outs[0].Pkts); got != len(s.frames) {
			t.Fatalf("step %d: %d packets passed, want %d", i, got, len(s.frames))
		}
		h.Outs[0].Pkts = nil
		if i == 0 {
			if p, by, ok := m.Flow(proto.ProtoUDP, ip4("10.0.1.2"), ip4("10.0.2.2"), 5353, 53); !ok || p != 2 || by != 64 {
				t.Errorf("flow a: %d packets %d bytes (%v), want 2/64", p, by, ok)
			}
		}
		if i == 2 && m.overflows != 1 {
			t.Errorf("overflows = %d", m.overflows)
		}
		if i == 3 {
			// a expired at 11s: a new flow, the rest reaped to make room? The
			// table had a free slot only after a reap; flow a restarted.
			if p, _, ok := m.Flow(proto.ProtoUDP, ip4("10.0.1.2"), ip4("10.0.2.2"), 5353, 53); !ok || p != 1 {
				t.Errorf("flow a after expiry: %d packets (%v), want 1", p, ok)
			}
		}
		if got := m.Len(); got != s.flows && i != 3 {
			t.Errorf("step %d: %d flows, want %d", i, got, s.flows)
		}
	}
	top := h.Read("top", "2")
	if lines := strings.Count(top, "\n"); lines != 1 || !strings.HasPrefix(top, "udp 10.0.1.2:5353 > 10.0.2.2:53 packets 1 bytes 32") {
		t.Errorf("top 2:\n%s", top)
	}
	h.FireTimers(14 * sec) // reaper: everything but a is expired
	if m.Len() != 1 {
		t.Errorf("after reaping: %d flows", m.Len())
	}
	if err := h.Write("clear", ""); err != nil || m.Len() != 0 {
		t.Errorf("clear: %v, %d flows left", err, m.Len())
	}
}

func TestFlowMeterTopAndNonIP(t *testing.T) {
	h := elemtest.New(t, "FlowMeter", "", 1, 1)
	h.Ctx.Now = sec
	h.Push(0, udpP("x"), tcpP(strings.Repeat("y", 500)), udpP("x"), udpP("x"), []byte{0x60, 0, 0}, nil)
	top := h.Read("top", "packets")
	if !strings.HasPrefix(top, "udp 10.0.1.2:5353 > 10.0.2.2:53 packets 3") {
		t.Errorf("top packets:\n%s", top)
	}
	top = h.Read("top", "1 bytes")
	if !strings.HasPrefix(top, "tcp 10.0.1.2:1234 > 10.0.2.2:80 packets 1 bytes 544") || strings.Count(top, "\n") != 1 {
		t.Errorf("top 1 bytes:\n%s", top)
	}
	if n := h.Read("non_ip"); n != "2" {
		t.Errorf("non_ip = %s", n)
	}
	if x, _ := h.Handler("top"); x.Read != nil {
		if _, err := x.Read("zero"); err == nil {
			t.Error("top accepted a bad argument")
		}
	}
	if h.Read("count") != "2" || h.Read("created") != "2" {
		t.Errorf("count %s created %s", h.Read("count"), h.Read("created"))
	}
}

// TestFlowMeterChurn checks the table against a map through many inserts
// and removals (backward-shift deletion keeps every key reachable).
func TestFlowMeterChurn(t *testing.T) {
	h := elemtest.New(t, "FlowMeter", "TIMEOUT 1s, CAPACITY 64, REAP_INTERVAL 0", 1, 1)
	m := h.Elem.(*FlowMeter)
	want := map[uint16]uint64{}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 2000; round++ {
		sport := uint16(rng.IntN(100) + 1)
		h.Ctx.Now = sec
		if rng.IntN(4) == 0 && len(want) > 0 {
			for k := range want {
				fi, _ := m.flows.Lookup(flowtable.Tuple{Src: ip4("10.0.1.2"), Dst: ip4("10.0.2.2"), Sport: k, Dport: 53, Proto: proto.ProtoUDP}.Key())
				if fi < 0 {
					t.Fatalf("flow %d lost", k)
				}
				m.flows.Remove(fi)
				delete(want, k)
				break
			}
			continue
		}
		if len(want) == 64 {
			if _, ok := want[sport]; !ok {
				continue
			}
		}
		h.Push(0, mk(proto.ProtoUDP, "10.0.1.2", sport, "10.0.2.2", 53, ""))
		h.Outs[0].Pkts = nil
		want[sport]++
	}
	for k, n := range want {
		if p, _, ok := m.Flow(proto.ProtoUDP, ip4("10.0.1.2"), ip4("10.0.2.2"), k, 53); !ok || p != n {
			t.Errorf("flow %d: %d packets (%v), want %d", k, p, ok, n)
		}
	}
	if m.Len() != len(want) {
		t.Errorf("Len %d, want %d", m.Len(), len(want))
	}
}

func TestFlowMeterConfig(t *testing.T) {
	for _, c := range []string{"0s", "1s, 0", "1s, -5", "TIMEOUT x", "1s, 10, BOGUS 1"} {
		if _, err := elemtest.Build(t, "FlowMeter", c, elemtest.Options{Inputs: 1, Outputs: 1}); err == nil {
			t.Errorf("config %q accepted", c)
		}
	}
}

// ---- PatternMatch ----

func TestPatternMatchTable(t *testing.T) {
	cases := []struct {
		name, config string
		frame        []byte
		match        bool
		counts       map[string]uint64
	}{
		{"tcp match", `PATTERN evil "EVIL"`, tcpP("xxEVILxx"), true, map[string]uint64{"evil": 1}},
		{"udp match", `PATTERN evil "EVIL"`, udpP("EVIL"), true, map[string]uint64{"evil": 1}},
		{"clean", `PATTERN evil "EVIL"`, tcpP("nothing to see"), false, map[string]uint64{"evil": 0}},
		{"case sensitive", `PATTERN evil "EVIL"`, tcpP("evil"), false, nil},
		{"nocase", `PATTERN evil "EVIL", NOCASE true`, tcpP("xEvIl"), true, map[string]uint64{"evil": 1}},
		{"nocase pattern lower", `"abc", NOCASE true`, tcpP("ABC"), true, map[string]uint64{"p1": 1}},
		{"overlapping", `PATTERN a "he", PATTERN b "she", PATTERN c "hers", PATTERN d "his"`,
			tcpP("ushers"), true, map[string]uint64{"a": 1, "b": 1, "c": 1, "d": 0}},
		{"repeated counts once per packet", `x "ab"`, udpP("ababab"), true, map[string]uint64{"x": 1}},
		{"hex", `sc \<90 90 90 90>`, udpP("\x00\x90\x90\x90\x90\x01"), true, map[string]uint64{"sc": 1}},
		{"concatenated", `t "GET "\<2f 2e 2e>`, tcpP("GET /../etc/passwd"), true, map[string]uint64{"t": 1}},
		{"header bytes are not payload", `p "\x04\xd2"`, tcpP("zz"), false, nil}, // 1234 = 0x04d2 sport
		{"tcp options skipped", `p "\x01\x01\x01"`, tcpP("zz"), false, nil},
		{"icmp not scanned", `p "EVIL"`, mk(proto.ProtoICMP, "1.1.1.1", 0, "2.2.2.2", 0, "EVIL"), false, nil},
		{"at the end", `p "END"`, udpP("the END"), true, nil},
		{"pattern longer than payload", `p "long pattern"`, udpP("long"), false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := elemtest.New(t, "PatternMatch", tc.config, 1, 2)
			h.Push(0, tc.frame)
			m, c := len(h.Outs[1].Pkts), len(h.Outs[0].Pkts)
			if tc.match && (m != 1 || c != 0) || !tc.match && (m != 0 || c != 1) {
				t.Fatalf("match=%v: output 0 got %d, output 1 got %d", tc.match, c, m)
			}
			if tc.match && !bytes.Equal(h.Outs[1].Pkts[0].Data(), tc.frame) {
				t.Error("packet changed")
			}
			for name, n := range tc.counts {
				if got := h.Read("pattern_count", name); got != itoa(n) {
					t.Errorf("pattern %s: count %s, want %d", name, got, n)
				}
			}
			want := "0"
			if tc.match {
				want = "1"
			}
			if got := h.Read("count"); got != want {
				t.Errorf("count %s, want %s", got, want)
			}
		})
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func TestPatternMatchOneOutputAndAlerts(t *testing.T) {
	h := elemtest.New(t, "PatternMatch", `PATTERN evil "EVIL", PATTERN bad "BAD", ALERTS 2, LOG true`, 1, 1)
	h.Ctx.Now = 5 * sec
	h.Push(0, tcpP("EVIL and BAD"), udpP("clean"), udpP("BAD"), tcpP("EVIL"))
	if len(h.Outs[0].Pkts) != 4 {
		t.Fatalf("alert-only mode passed %d of 4", len(h.Outs[0].Pkts))
	}
	if h.Read("count") != "3" || h.Read("scanned") != "4" {
		t.Errorf("count %s scanned %s", h.Read("count"), h.Read("scanned"))
	}
	al := h.Read("alerts")
	if lines := strings.Split(strings.TrimSpace(al), "\n"); len(lines) != 2 ||
		!strings.Contains(lines[0], "alert bad udp 10.0.1.2:5353 > 10.0.2.2:53") ||
		!strings.Contains(lines[1], "alert evil tcp 10.0.1.2:1234 > 10.0.2.2:80") {
		t.Errorf("alerts:\n%s", al)
	}
	pats := h.Read("patterns")
	if pats != "evil 2 \"EVIL\"\nbad 2 \"BAD\"\n" {
		t.Errorf("patterns:\n%s", pats)
	}
	h.FireTimers(6 * sec)
	logs := strings.Join(h.Router.Logs, "\n")
	if !strings.Contains(logs, "e: alert bad udp 10.0.1.2:5353 > 10.0.2.2:53\ne: alert evil tcp") || !strings.Contains(logs, "1 more alerts not shown") {
		t.Errorf("logs:\n%s", logs)
	}
	if err := h.Write("reset", ""); err != nil || h.Read("count") != "0" || h.Read("alerts") != "" {
		t.Error("reset did not clear")
	}
}

func TestPatternMatchConfig(t *testing.T) {
	for _, c := range []string{"", `PATTERN ""`, `PATTERN x`, `PATTERN a "x", PATTERN a "y"`, `"unterminated`,
		`"x", NOCASE maybe`, `"x", ALERTS 0`, `PATTERN a\b "x"`} {
		if _, err := elemtest.Build(t, "PatternMatch", c, elemtest.Options{Inputs: 1, Outputs: 2}); err == nil {
			t.Errorf("config %q accepted", c)
		}
	}
	for _, c := range []string{"FlowMeter", "PatternMatch"} {
		d := core.Lookup(c).Doc
		if d.Synopsis == "" || d.Summary == "" || d.Description == "" || d.Ports == "" || len(d.Args) == 0 || len(d.Handlers) == 0 || d.Example == "" {
			t.Errorf("%s: incomplete doc", c)
		}
	}
}

// TestAhoCorasickAgainstNaive compares the automaton with bytes.Contains
// on random patterns and texts over a small alphabet (many overlaps).
func TestAhoCorasickAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	word := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abAB"[rng.IntN(4)]
		}
		return b
	}
	for round := 0; round < 300; round++ {
		nocase := round%2 == 1
		var pats [][]byte
		for i := rng.IntN(8) + 1; i > 0; i-- {
			pats = append(pats, word(rng.IntN(5)+1))
		}
		m, err := compile(pats, nocase)
		if err != nil {
			t.Fatal(err)
		}
		text := word(rng.IntN(40))
		got := make([]bool, len(pats))
		s := int32(0)
		for _, c := range text {
			s = m.delta[int(s)<<8|int(c)]
			for _, pi := range m.outs[m.outStart[s]:m.outStart[s+1]] {
				got[pi] = true
			}
		}
		for i, p := range pats {
			tx, pp := text, p
			if nocase {
				tx, pp = bytes.ToLower(tx), bytes.ToLower(pp)
			}
			if want := bytes.Contains(tx, pp); got[i] != want {
				t.Fatalf("text %q pattern %q nocase %v: got %v want %v", text, p, nocase, got[i], want)
			}
		}
	}
}

// ---- allocations and fuzzing ----

type sink struct{ n int }

func (s *sink) Push(_ *core.Ctx, _ int, b *packet.Batch) { s.n += b.N; b.Reset() }

func TestZeroAllocs(t *testing.T) {
	for _, c := range []struct{ class, config string }{
		{"FlowMeter", "TIMEOUT 10s, CAPACITY 1024"},
		{"PatternMatch", `PATTERN evil "EVIL", PATTERN sc \<90 90 90>, NOCASE true`},
	} {
		h := elemtest.New(t, c.class, c.config, 1, 2)
		if h.Elem.Core().NOutputs() > 0 {
			for o := 0; o < h.Elem.Core().NOutputs(); o++ {
				h.Elem.Core().Output(o).Connect(&sink{}, 0)
			}
		}
		pkts := []*packet.Packet{h.Packet(tcpP("GET /index.html EVIL")), h.Packet(udpP("clean payload")),
			h.Packet(mk(proto.ProtoUDP, "10.0.9.9", 9, "10.0.2.2", 9, "x"))}
		h.Ctx.Now = sec
		var b packet.Batch
		run := func() {
			for _, p := range pkts {
				b.Append(p)
			}
			h.PushBatch(0, &b)
		}
		run()
		if a := testing.AllocsPerRun(200, run); a != 0 {
			t.Errorf("%s: %v allocations per batch", c.class, a)
		}
	}
}

func FuzzFlowMeter(f *testing.F) {
	f.Add(tcpP("x"))
	f.Add(udpP(""))
	f.Add(mk(proto.ProtoICMP, "1.1.1.1", 0, "2.2.2.2", 0, ""))
	f.Add([]byte{0x45, 0, 0, 21, 0, 0, 0, 0, 64, 6, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		h := elemtest.New(t, "FlowMeter", "1s, 2", 1, 1)
		h.Push(0, data, data, tcpP("a"), udpP("b"))
		h.Read("top")
		h.Read("flows")
	})
}

func FuzzPatternMatch(f *testing.F) {
	f.Add(tcpP("EVIL"), "EVIL")
	f.Add(udpP("xxhersxx"), "hers")
	f.Add([]byte{0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0}, "a")
	f.Fuzz(func(t *testing.T, data []byte, pat string) {
		if pat == "" || len(pat) > 64 {
			return
		}
		config := fmt.Sprintf(`PATTERN f \<%x>, PATTERN evil "EVIL", NOCASE %v`, pat, len(pat)%2 == 0)
		h := elemtest.New(t, "PatternMatch", config, 1, 2)
		h.Push(0, data, tcpP(pat))
		if len(h.Outs[1].Pkts) == 0 {
			t.Fatalf("pattern %q not found in a packet carrying it", pat)
		}
		h.Read("alerts")
		h.Read("patterns")
	})
}

// BenchmarkFlowMeter meters batches of 64 TCP packets; ns/op is per
// packet. "1flow" hits one cached flow; "64Kflows" cycles through 65536
// flows in a table of 100000, so lookups miss the CPU caches as in
// real traffic.
func BenchmarkFlowMeter(b *testing.B) {
	for _, c := range []struct {
		name  string
		flows int
	}{{"1flow", 1}, {"64Kflows", 1 << 16}} {
		b.Run(c.name, func(b *testing.B) {
			h := elemtest.New(b, "FlowMeter", "TIMEOUT 1h, CAPACITY 100000", 1, 1)
			tmpl := tcpP("payload")
			pkts := make([]*packet.Packet, c.flows)
			for i := range pkts {
				pkts[i] = h.Packet(tmpl)
				d := pkts[i].Data()
				proto.Put16(d, 20, uint16(i))    // source port
				proto.Put16(d, 22, uint16(i>>8)) // destination port
			}
			h.Ctx.Now = sec
			sink := &sink{}
			h.Elem.Core().Output(0).Connect(sink, 0)
			var bt packet.Batch
			for _, p := range pkts { // create the flows
				if bt.Append(p); bt.Full() {
					h.PushBatch(0, &bt)
				}
			}
			h.PushBatch(0, &bt)
			b.ReportAllocs()
			b.ResetTimer()
			next := 0
			for done := 0; done < b.N; done += packet.MaxBatch {
				for i := 0; i < packet.MaxBatch; i++ {
					bt.P[i] = pkts[next]
					if next++; next == len(pkts) {
						next = 0
					}
				}
				bt.N = packet.MaxBatch
				h.PushBatch(0, &bt)
			}
			b.StopTimer()
			if got := h.Read("count"); got != strconv.Itoa(c.flows) {
				b.Fatalf("count %s, want %d", got, c.flows)
			}
		})
	}
}

// TestFlowMeterReaper: the reaper (core.Every) runs at once and then every
// REAP_INTERVAL of the worker's clock, freeing flows idle for TIMEOUT.
func TestFlowMeterReaper(t *testing.T) {
	h := elemtest.New(t, "FlowMeter", "TIMEOUT 2s, REAP_INTERVAL 1s", 1, 1)
	h.Ctx.Now = sec
	h.Push(0, mk(proto.ProtoUDP, "10.0.1.2", 1000, "10.0.2.2", 53, ""))
	h.Ctx.Now = 2 * sec
	h.Push(0, mk(proto.ProtoUDP, "10.0.1.2", 1001, "10.0.2.2", 53, ""))
	h.FireTimers(1) // first run, at once: nothing idle yet
	if got := h.Read("count"); got != "2" {
		t.Fatalf("count %s after the first reap, want 2", got)
	}
	h.FireTimers(2 * sec) // due (1s after time 1): nothing idle for 2s yet
	if got := h.Read("count"); got != "2" {
		t.Fatalf("count %s at 2s, want 2", got)
	}
	h.FireTimers(3*sec + 1) // due (1s after 2s)
	if got, exp := h.Read("count"), h.Read("expired"); got != "1" || exp != "1" {
		t.Fatalf("at 3s: count %s expired %s, want the first flow gone", got, exp)
	}
	h.FireTimers(5 * sec)
	if got, exp := h.Read("count"), h.Read("expired"); got != "0" || exp != "2" {
		t.Fatalf("at 5s: count %s expired %s, want both flows gone", got, exp)
	}
}
