package nat

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
	"flowbox/elements/elemtest"
)

const napt = "pattern 1.0.0.1 1024-65535 - - 0 1"

// TestIPRewriterForwardAndReply sends a flow out and its reply back and
// checks the rewritten tuples, the restored original, the checksums (by
// recomputing them), the payload and the destination annotation.
func TestIPRewriterForwardAndReply(t *testing.T) {
	tests := []struct {
		name string
		out  pkt
	}{
		{"udp", udp("10.0.0.1", 1234, "10.0.0.2", 5678)},
		{"udp-no-checksum", func() pkt { p := udp("10.0.0.1", 1234, "10.0.0.2", 5678); p.noUDPSum = true; return p }()},
		{"tcp", tcp("10.0.0.1", 1234, "10.0.0.2", 5678, proto.TCPSyn)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newRW(t, "IPRewriter", napt+", drop", 2, 2)
			orig := tt.out.build()
			pushAt(h, sec, 0, tt.out)
			got := take(h, 0)
			if len(got) != 1 {
				t.Fatalf("forward: %d packets on output 0, want 1", len(got))
			}
			fwd := got[0]
			want := key("1.0.0.1", 1234, "10.0.0.2", 5678, tt.out.proto) // own port is free
			if k := tupleOf(fwd); k != want {
				t.Errorf("forward tuple %v, want %v", k, want)
			}
			checkSums(t, fwd)
			if tt.out.noUDPSum && proto.U16(fwd, 20+proto.UDPOffSum) != 0 {
				t.Error("a zero UDP checksum became non-zero")
			}
			if !bytes.Equal(fwd[40:], orig[40:]) {
				t.Error("payload changed")
			}

			// The reply arrives on input 1 (a drop spec): the mapping wins.
			reply := tt.out
			reply.src, reply.sport, reply.dst, reply.dport = "10.0.0.2", 5678, "1.0.0.1", 1234
			pushAt(h, 2*sec, 1, reply)
			back := take(h, 1)
			if len(back) != 1 {
				t.Fatalf("reply: %d packets on output 1, want 1", len(back))
			}
			if k, w := tupleOf(back[0]), key("10.0.0.2", 5678, "10.0.0.1", 1234, tt.out.proto); k != w {
				t.Errorf("reply tuple %v, want %v", k, w)
			}
			checkSums(t, back[0])
			if p := h.Outs[1]; p.Count != 1 {
				t.Fatalf("output 1 count %d", p.Count)
			}
		})
	}
}

func TestIPRewriterSetsDstAnno(t *testing.T) {
	h := newRW(t, "IPRewriter", "pattern - - 10.9.9.9 80 0 0", 1, 1)
	h.Ctx.Now = sec
	p := h.Packet(udp("10.0.0.1", 1234, "10.0.0.2", 5678).build())
	h.PushPackets(0, p)
	if len(h.Outs[0].Pkts) != 1 {
		t.Fatal("packet not forwarded")
	}
	got := h.Outs[0].Pkts[0]
	if got.Anno.DstIP != [4]byte{10, 9, 9, 9} {
		t.Errorf("DstIP anno %v, want 10.9.9.9", got.Anno.DstIP)
	}
	if k := tupleOf(got.Data()); k.Dst != ip4("10.9.9.9") || k.Dport != 80 || k.Src != ip4("10.0.0.1") {
		t.Errorf("tuple %v", k)
	}
}

// TestIPRewriterSpecs checks each input spec form on a first packet and
// on the reply.
func TestIPRewriterSpecs(t *testing.T) {
	out := udp("10.0.0.1", 1234, "10.0.0.2", 5678)
	tests := []struct {
		spec      string
		wantOut   int     // output of the first packet, -1 dropped
		wantTuple FlowKey // its tuple after rewriting
		replyOut  int     // output of the reply to wantTuple, -1 dropped
	}{
		{"drop", -1, FlowKey{}, -1},
		{"discard", -1, FlowKey{}, -1},
		{"pass 1", 1, key("10.0.0.1", 1234, "10.0.0.2", 5678, 17), -1},
		{"keep 0 1", 0, key("10.0.0.1", 1234, "10.0.0.2", 5678, 17), 1},
		{"pattern 1.0.0.1 1024-65535 - - 1 0", 1, key("1.0.0.1", 1234, "10.0.0.2", 5678, 17), 0},
		{"pattern 1.0.0.1 1024-65535# - - 0 1", 0, key("1.0.0.1", 1024, "10.0.0.2", 5678, 17), 1},
		{"pattern 1.0.0.1 4000 - - 0 1", 0, key("1.0.0.1", 4000, "10.0.0.2", 5678, 17), 1},
		{"pattern - - 10.0.0.3 53 0 1", 0, key("10.0.0.1", 1234, "10.0.0.3", 53, 17), 1},
		{"pattern 1.0.0.1 2.0.0.2 0 1", 0, key("1.0.0.1", 1234, "2.0.0.2", 5678, 17), 1},
		{"pattern 1.0.0.5-1.0.0.5 - - - 0 1", 0, key("1.0.0.5", 1234, "10.0.0.2", 5678, 17), 1},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			// Input 1 drops, so the reply only gets through on a mapping.
			h := newRW(t, "IPRewriter", tt.spec+", drop", 2, 2)
			pushAt(h, sec, 0, out)
			checkOne(t, h, tt.wantOut, tt.wantTuple)
			r := tt.wantTuple.Reverse()
			reply := udp(addrString(r.Src), r.Sport, addrString(r.Dst), r.Dport)
			pushAt(h, sec, 1, reply)
			checkOne(t, h, tt.replyOut, key("10.0.0.2", 5678, "10.0.0.1", 1234, 17))
		})
	}
}

// checkOne asserts that exactly one packet came out on port want (none at
// all when want is -1) with tuple k.
func checkOne(t *testing.T, h *elemtest.Harness, want int, k FlowKey) {
	t.Helper()
	for port := range h.Outs {
		got := take(h, port)
		if port != want {
			if len(got) != 0 {
				t.Errorf("%d packets on output %d, want none", len(got), port)
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%d packets on output %d, want 1", len(got), port)
			continue
		}
		if tk := tupleOf(got[0]); tk != k {
			t.Errorf("tuple %v, want %v", tk, k)
		}
		checkSums(t, got[0])
	}
}

func TestIPRewriterAddressRangeAndSequential(t *testing.T) {
	h := newRW(t, "IPRewriter", "pattern 1.0.0.1-1.0.0.2 7000-7001# - - 0 0", 1, 1)
	var got []FlowKey
	for i := 0; i < 4; i++ {
		pushAt(h, sec, 0, udp("10.0.0.1", uint16(100+i), "10.0.0.2", 53))
		for _, b := range take(h, 0) {
			got = append(got, tupleOf(b))
		}
	}
	want := []FlowKey{
		key("1.0.0.1", 7000, "10.0.0.2", 53, 17), key("1.0.0.1", 7001, "10.0.0.2", 53, 17),
		key("1.0.0.2", 7000, "10.0.0.2", 53, 17), key("1.0.0.2", 7001, "10.0.0.2", 53, 17),
	}
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("flow %d rewritten to %v, want %v", i, got[i], want[i])
		}
	}
}

// TestIPRewriterOwnPortTaken: two inside hosts use the same source port to
// the same server; the second must get another port (unique reply tuple).
func TestIPRewriterOwnPortTaken(t *testing.T) {
	h := newRW(t, "IPRewriter", napt, 1, 2)
	pushAt(h, sec, 0, udp("10.0.0.1", 4000, "9.9.9.9", 53), udp("10.0.0.7", 4000, "9.9.9.9", 53))
	got := take(h, 0)
	if len(got) != 2 {
		t.Fatalf("%d packets, want 2", len(got))
	}
	a, b := tupleOf(got[0]), tupleOf(got[1])
	if a.Sport != 4000 {
		t.Errorf("first flow got port %d, want its own 4000", a.Sport)
	}
	if b.Sport == 4000 || b.Sport < 1024 {
		t.Errorf("second flow got port %d, want a free one in 1024-65535", b.Sport)
	}
	// Replies reach the right inside hosts.
	pushAt(h, 2*sec, 0, udp("9.9.9.9", 53, "1.0.0.1", b.Sport), udp("9.9.9.9", 53, "1.0.0.1", 4000))
	back := take(h, 1)
	if len(back) != 2 || tupleOf(back[0]).Dst != ip4("10.0.0.7") || tupleOf(back[1]).Dst != ip4("10.0.0.1") {
		t.Fatalf("replies went to the wrong hosts: %v", back)
	}
}

func TestIPRewriterPortExhaustion(t *testing.T) {
	h := newRW(t, "IPRewriter", "pattern 1.0.0.1 5000-5003 - - 0 1", 1, 2)
	for i := 0; i < 5; i++ {
		pushAt(h, sec, 0, udp("10.0.0.1", uint16(100+i), "9.9.9.9", 53))
	}
	if n := len(take(h, 0)); n != 4 {
		t.Errorf("%d flows got through, want 4", n)
	}
	if got := h.Read("mapping_failures"); got != "1" {
		t.Errorf("mapping_failures = %s, want 1", got)
	}
	if got := h.Read("table_size"); got != "4" {
		t.Errorf("table_size = %s, want 4", got)
	}
	// The range is per destination: another server still has ports.
	pushAt(h, sec, 0, udp("10.0.0.1", 100, "9.9.9.10", 53))
	if n := len(take(h, 0)); n != 1 {
		t.Errorf("flow to another destination: %d packets, want 1", n)
	}
	// Existing flows keep working.
	pushAt(h, sec, 0, udp("10.0.0.1", 101, "9.9.9.9", 53))
	if n := len(take(h, 0)); n != 1 || h.Read("mapping_failures") != "1" {
		t.Errorf("established flow: %d packets, failures %s", n, h.Read("mapping_failures"))
	}
}

func TestIPRewriterCapacity(t *testing.T) {
	h := newRW(t, "IPRewriter", napt+", MAPPING_CAPACITY 2", 1, 2)
	for i := 0; i < 3; i++ {
		pushAt(h, sec, 0, udp("10.0.0.1", uint16(100+i), "9.9.9.9", 53))
	}
	if n := len(take(h, 0)); n != 2 || h.Read("mapping_failures") != "1" {
		t.Fatalf("%d flows, failures %s; want 2 and 1", n, h.Read("mapping_failures"))
	}
	if err := h.Write("capacity", "3"); err != nil {
		t.Fatal(err)
	}
	if h.Read("capacity") != "3" || h.Read("table_size") != "2" {
		t.Fatalf("after resize: capacity %s, size %s", h.Read("capacity"), h.Read("table_size"))
	}
	pushAt(h, sec, 0, udp("10.0.0.1", 102, "9.9.9.9", 53))
	if n := len(take(h, 0)); n != 1 {
		t.Fatalf("after resize the third flow got %d packets through", n)
	}
	if err := h.Write("capacity", "0"); err == nil {
		t.Error("capacity 0 accepted")
	}
	if err := h.Write("clear", ""); err != nil || h.Read("table_size") != "0" {
		t.Errorf("clear: %v, size %s", err, h.Read("table_size"))
	}
}

func TestIPRewriterUnmappable(t *testing.T) {
	icmp := pkt{src: "10.0.0.1", dst: "10.0.0.2", proto: proto.ProtoICMP, payload: 8}
	later := udp("10.0.0.1", 1234, "10.0.0.2", 5678)
	later.frag = 100 // offset 800 bytes: a later fragment
	for _, tt := range []struct {
		spec string
		want int
	}{{napt, -1}, {"keep 0 1", -1}, {"drop", -1}, {"pass 1", 1}} {
		h := newRW(t, "IPRewriter", tt.spec, 1, 2)
		pushAt(h, sec, 0, icmp, later)
		n0, n1 := len(take(h, 0)), len(take(h, 1))
		switch {
		case tt.want == 1 && (n1 != 2 || n0 != 0):
			t.Errorf("%s: outputs %d/%d, want 0/2", tt.spec, n0, n1)
		case tt.want == -1 && n0+n1 != 0:
			t.Errorf("%s: %d packets got through, want none", tt.spec, n0+n1)
		}
		if got := h.Read("table_size"); got != "0" {
			t.Errorf("%s: table_size %s", tt.spec, got)
		}
	}
}

func TestIPRewriterMalformed(t *testing.T) {
	good := udp("10.0.0.1", 1234, "10.0.0.2", 5678).build()
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	frames := [][]byte{
		good[:10], // shorter than an IP header
		mutate(func(b []byte) []byte { b[0] = 0x65; return b }),                               // IPv6 version
		mutate(func(b []byte) []byte { b[0] = 0x44; return b }),                               // IHL 16 bytes
		mutate(func(b []byte) []byte { b[0] = 0x4f; return b[:40] }),                          // IHL past the data
		mutate(func(b []byte) []byte { proto.Put16(b, proto.IPOffLen, 10); return b }),        // total < header
		mutate(func(b []byte) []byte { proto.Put16(b, proto.IPOffLen, 24); return b }),        // truncated UDP
		tcp("10.0.0.1", 1, "10.0.0.2", 2, proto.TCPSyn).build()[:30],                          // truncated TCP
		mutate(func(b []byte) []byte { b[proto.IPOffProto] = proto.ProtoTCP; return b[:36] }), // UDP-sized TCP
	}
	h := newRW(t, "IPRewriter", "pass 0", 1, 1)
	h.Push(0, frames...)
	if n := len(take(h, 0)); n != 0 {
		t.Errorf("%d malformed packets got through", n)
	}
	if got, want := h.Read("malformed"), "8"; got != want {
		t.Errorf("malformed = %s, want %s", got, want)
	}
	if engineOf(h).Drops != 8 {
		t.Errorf("Drops = %d, want 8", engineOf(h).Drops)
	}
}

// TestIPRewriterNetworkAnno: the IP header is found at the network
// annotation when one is set (here after a 14-byte Ethernet header).
func TestIPRewriterNetworkAnno(t *testing.T) {
	h := newRW(t, "IPRewriter", napt, 1, 2)
	frame := append(make([]byte, 14), udp("10.0.0.1", 1234, "10.0.0.2", 5678).build()...)
	p := h.Packet(frame)
	p.SetNetworkAt(14)
	h.PushPackets(0, p)
	got := take(h, 0)
	if len(got) != 1 {
		t.Fatal("packet not forwarded")
	}
	if k := tupleOf(got[0][14:]); k.Src != ip4("1.0.0.1") {
		t.Errorf("tuple %v", k)
	}
	checkSums(t, got[0][14:])
}

func TestIPRewriterUDPTimeout(t *testing.T) {
	h := newRW(t, "IPRewriter", napt+", drop, UDP_TIMEOUT 10s, REAP_INTERVAL 1s", 2, 2)
	reply := udp("10.0.0.2", 5678, "1.0.0.1", 1234)
	pushAt(h, 100*sec, 0, udp("10.0.0.1", 1234, "10.0.0.2", 5678))
	take(h, 0)
	pushAt(h, 109*sec, 1, reply) // 9 s later: alive, refreshed to 119 s
	if n := len(take(h, 1)); n != 1 {
		t.Fatalf("reply within the timeout: %d packets", n)
	}
	h.FireTimers(118 * sec)
	if got := h.Read("table_size"); got != "1" {
		t.Fatalf("refreshed flow reaped early: size %s", got)
	}
	h.FireTimers(119 * sec)
	if got := h.Read("table_size"); got != "0" {
		t.Fatalf("reaper left an expired flow: size %s", got)
	}
	pushAt(h, 120*sec, 1, reply)
	if n := len(take(h, 1)); n != 0 {
		t.Errorf("reply after expiry got through")
	}
}

// TestIPRewriterLazyExpiry: without a reaper run, a packet that meets an
// expired flow starts a new one, and expired reply tuples are reusable.
func TestIPRewriterLazyExpiry(t *testing.T) {
	h := newRW(t, "IPRewriter", "pattern 1.0.0.1 5000 - - 0 1, drop, UDP_TIMEOUT 10s, REAP_INTERVAL 0", 2, 2)
	pushAt(h, sec, 0, udp("10.0.0.1", 1234, "10.0.0.2", 5678))
	pushAt(h, 2*sec, 0, udp("10.0.0.7", 1234, "10.0.0.2", 5678)) // port 5000 taken
	if n, f := len(take(h, 0)), h.Read("mapping_failures"); n != 1 || f != "1" {
		t.Fatalf("%d packets, failures %s; want 1 and 1", n, f)
	}
	pushAt(h, 20*sec, 0, udp("10.0.0.7", 1234, "10.0.0.2", 5678)) // first flow expired
	got := take(h, 0)
	if len(got) != 1 || tupleOf(got[0]).Sport != 5000 {
		t.Fatalf("port of an expired flow not reused: %d packets", len(got))
	}
	pushAt(h, 21*sec, 1, udp("10.0.0.2", 5678, "1.0.0.1", 5000))
	back := take(h, 1)
	if len(back) != 1 || tupleOf(back[0]).Dst != ip4("10.0.0.7") {
		t.Fatalf("reply did not reach the new owner")
	}
}

func TestIPRewriterTCPTimeouts(t *testing.T) {
	const cfg = "pattern 1.0.0.1 1024-65535 - - 0 1, drop, TCP_TIMEOUT 1000s, TCP_DONE_TIMEOUT 30s, TCP_NODATA_TIMEOUT 100s"
	out := func(flags uint8) pkt { return tcp("10.0.0.1", 1234, "10.0.0.2", 80, flags) }
	in := func(flags uint8) pkt { return tcp("10.0.0.2", 80, "1.0.0.1", 1234, flags) }
	type step struct {
		port int
		p    pkt
	}
	tests := []struct {
		name  string
		steps []step
		want  int64 // expected seconds left after the last step (sent at t=10s)
	}{
		{"syn only: nodata", []step{{0, out(proto.TCPSyn)}}, 100},
		{"both sides: established", []step{{0, out(proto.TCPSyn)}, {1, in(proto.TCPSyn | proto.TCPAck)}}, 1000},
		{"one fin: established", []step{{0, out(proto.TCPSyn)}, {1, in(proto.TCPAck)}, {0, out(proto.TCPFin | proto.TCPAck)}}, 1000},
		{"fin both ways: done", []step{{0, out(proto.TCPSyn)}, {1, in(proto.TCPAck)}, {0, out(proto.TCPFin)}, {1, in(proto.TCPFin)}}, 30},
		{"rst: done", []step{{0, out(proto.TCPSyn)}, {1, in(proto.TCPRst)}}, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newRW(t, "IPRewriter", cfg, 2, 2)
			for _, s := range tt.steps {
				pushAt(h, 10*sec, s.port, s.p)
			}
			var f *Flow
			engineOf(h).table.Each(func(_ int32, x *Flow) { f = x })
			if f == nil {
				t.Fatal("no flow")
			}
			if got := (f.Expiry - 10*sec) / sec; got != tt.want {
				t.Errorf("timeout %ds, want %ds", got, tt.want)
			}
			if want := strings.HasSuffix(tt.name, "done"); f.Done() != want {
				t.Errorf("Done() = %v, want %v", f.Done(), want)
			}
		})
	}
}

func TestIPRewriterTableHandlers(t *testing.T) {
	h := newRW(t, "IPRewriter", napt+", drop", 2, 2)
	pushAt(h, 1000*sec, 0, udp("10.0.0.1", 1234, "10.0.0.2", 5678))
	want := "(10.0.0.1, 1234, 10.0.0.2, 5678) => (1.0.0.1, 1234, 10.0.0.2, 5678) [*0 1] i0 exp300\n" +
		"(10.0.0.2, 5678, 1.0.0.1, 1234) => (10.0.0.2, 5678, 10.0.0.1, 1234) [0 *1] i0 exp300\n"
	if got := h.Read("udp_table"); got != want {
		t.Errorf("udp_table =\n%s\nwant\n%s", got, want)
	}
	if got := h.Read("tcp_table"); got != "" {
		t.Errorf("tcp_table = %q, want empty", got)
	}
	pushAt(h, 1100*sec, 0, tcp("10.0.0.1", 1, "10.0.0.2", 2, proto.TCPSyn))
	table := h.Read("table")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	// Port 1 is outside the range, so the TCP flow got a random port.
	var port uint16
	engineOf(h).table.Each(func(_ int32, f *Flow) {
		if f.Key[0].Proto == proto.ProtoTCP {
			port = f.Rewritten(DirForward).Sport
		}
	})
	tcpLine := fmt.Sprintf("(10.0.0.1, 1, 10.0.0.2, 2) => (1.0.0.1, %d, 10.0.0.2, 2) [*0 1] i0 exp300", port)
	if len(lines) != 4 || port < 1024 || lines[0] != tcpLine || !strings.HasSuffix(lines[2], "exp200") {
		t.Errorf("table =\n%s", table)
	}
	if got, want := h.Read("patterns"), "1.0.0.1 1024-65535 - - [2]\n<drop>\n"; got != want {
		t.Errorf("patterns = %q, want %q", got, want)
	}
}

func TestIPRewriterConfigErrors(t *testing.T) {
	tests := []struct {
		config   string
		nin, out int
		want     string
	}{
		{"drop", 2, 1, "need 2 input specs"},
		{"pattern 1.0.0.1 1024-65535 - - 0 2", 1, 2, "output port out of range"},
		{"pass 3", 1, 2, "output port out of range"},
		{"frob", 1, 1, "input spec 0: unknown"},
		{"drop, MAPPING_CAPACITY 0", 1, 1, "MAPPING_CAPACITY"},
		{"drop, UDP_TIMEOUT x", 1, 1, "UDP_TIMEOUT"},
	}
	for _, tt := range tests {
		_, err := elemtest.Build(t, "IPRewriter", tt.config, elemtest.Options{Inputs: tt.nin, Outputs: tt.out})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want it to mention %q", tt.config, err, tt.want)
		}
	}
}

// TestIPRewriterTakeState: a hot reconfiguration keeps the mappings of
// unchanged input specs and drops the others.
func TestIPRewriterTakeState(t *testing.T) {
	const cfg = napt + ", pattern 2.0.0.1 1024-65535 - - 0 1"
	old := newRW(t, "IPRewriter", cfg, 2, 2)
	pushAt(old, sec, 0, udp("10.0.0.1", 1234, "10.0.0.2", 5678))
	pushAt(old, sec, 1, udp("10.0.0.3", 1234, "10.0.0.2", 5678))
	take(old, 0)

	same := newRW(t, "IPRewriter", cfg, 2, 2)
	engineOf(same).TakeState(old.Elem)
	if got := same.Read("table_size"); got != "2" {
		t.Fatalf("same config kept %s flows, want 2", got)
	}
	pushAt(same, 2*sec, 0, udp("10.0.0.2", 5678, "1.0.0.1", 1234))
	if back := take(same, 1); len(back) != 1 || tupleOf(back[0]).Dst != ip4("10.0.0.1") {
		t.Fatal("reply not mapped after TakeState")
	}

	changed := newRW(t, "IPRewriter", napt+", pattern 3.0.0.1 1024-65535 - - 0 1", 2, 2)
	engineOf(changed).TakeState(old.Elem)
	if got := changed.Read("table_size"); got != "1" {
		t.Fatalf("changed config kept %s flows, want 1 (input 0's)", got)
	}
	if got := changed.Read("patterns"); !strings.HasPrefix(got, "1.0.0.1 1024-65535 - - [1]\n") {
		t.Errorf("patterns after TakeState = %q", got)
	}
}

// TestIPRewriterMixedOutputs: one batch whose packets go to different
// outputs is split, keeping order per output.
func TestIPRewriterMixedOutputs(t *testing.T) {
	h := newRW(t, "IPRewriter", napt+", pass 2", 2, 3)
	pushAt(h, sec, 0, udp("10.0.0.1", 1234, "10.0.0.2", 5678))
	take(h, 0)
	pushAt(h, sec, 1,
		udp("10.0.0.2", 5678, "1.0.0.1", 1234),  // reply -> 1
		udp("10.0.0.9", 1, "10.0.0.8", 2),       // no mapping, pass -> 2
		udp("10.0.0.1", 1234, "10.0.0.2", 5678), // forward -> 0
		udp("10.0.0.2", 5678, "1.0.0.1", 1234),  // reply -> 1
	)
	if n0, n1, n2 := len(take(h, 0)), len(take(h, 1)), len(take(h, 2)); n0 != 1 || n1 != 2 || n2 != 1 {
		t.Errorf("outputs got %d/%d/%d, want 1/2/1", n0, n1, n2)
	}
}

// TestIPRewriterAllocs proves the packet path allocates nothing, both for
// an established flow and for new flows (preallocated table).
func TestIPRewriterAllocs(t *testing.T) {
	h := newRW(t, "IPRewriter", napt+", MAPPING_CAPACITY 4096", 1, 2)
	s := &sink{}
	h.Elem.Core().Output(0).Connect(s, 0)
	const runs = 20
	batches := make([]packet.Batch, 2*(runs+1))
	for i := range batches {
		for j := 0; j < packet.MaxBatch; j++ {
			d := udp("10.0.0.1", 1234, "10.0.0.2", 5678)
			if i >= runs+1 { // second half: every packet a new flow
				d.sport = uint16(2000 + i*packet.MaxBatch + j)
			}
			batches[i].Append(h.Packet(d.build()))
		}
	}
	next := 0
	push := func() {
		h.PushBatch(0, &batches[next])
		next++
	}
	if a := testing.AllocsPerRun(runs, push); a != 0 {
		t.Errorf("established flow: %v allocations per batch", a)
	}
	if a := testing.AllocsPerRun(runs, push); a != 0 {
		t.Errorf("new flows: %v allocations per batch", a)
	}
	if want := 2 * (runs + 1) * packet.MaxBatch; s.n != want {
		t.Errorf("sink got %d packets, want %d", s.n, want)
	}
	if got, want := h.Read("table_size"), "1345"; got != want { // 1 + 21*64
		t.Errorf("table_size %s, want %s", got, want)
	}
}

// BenchmarkIPRewriterN rewrites 64-byte UDP packets of one established
// flow in batches of 64; ns/op is per packet.
func BenchmarkIPRewriterN(b *testing.B) {
	tmpl := udp("10.0.0.1", 1234, "10.0.0.2", 5678)
	tmpl.payload = 64 - 28
	benchEstablished(b, "IPRewriter", napt, tmpl.build(), nil)
}

// benchEstablished pushes batches of 64 copies of frame (one flow) through
// a one-input rewriter; ns/op is per packet. Each packet's bytes are
// restored from the template before it is pushed again (a copy of the
// frame, as a source would write it), so every batch is the same flow.
// setup (may be nil) runs once the flow exists.
func benchEstablished(b *testing.B, class, config string, frame []byte, setup func(*elemtest.Harness)) {
	h := newRW(b, class, config, 1, 2)
	h.Push(0, frame)
	if len(take(h, 0)) != 1 {
		b.Fatal("first packet not forwarded")
	}
	if setup != nil {
		setup(h)
	}
	var back [packet.MaxBatch]*packet.Packet
	s := &sink{keep: &back}
	h.Elem.Core().Output(0).Connect(s, 0)
	for i := range back {
		back[i] = h.Packet(frame)
	}
	var batch packet.Batch
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += packet.MaxBatch {
		for i, p := range back {
			copy(p.Data(), frame)
			batch.P[i] = p
		}
		batch.N = packet.MaxBatch
		h.PushBatch(0, &batch)
	}
	b.StopTimer()
	if s.n == 0 || h.Read("table_size") != "1" {
		b.Fatalf("sink got %d packets, table_size %s", s.n, h.Read("table_size"))
	}
}

// BenchmarkIPRewriterFlows rewrites 64-byte UDP packets cycling through
// 32768 established flows (a table bigger than the CPU caches) in batches
// of 64; ns/op is per packet, including restoring each packet's bytes.
func BenchmarkIPRewriterFlows(b *testing.B) {
	const flows = 1 << 15
	h := newRW(b, "IPRewriter", napt+", MAPPING_CAPACITY 65536", 1, 2)
	s := &sink{}
	h.Elem.Core().Output(0).Connect(s, 0)
	frames := make([][]byte, flows)
	pkts := make([]*packet.Packet, flows)
	var bt packet.Batch
	for i := range frames {
		d := udp("10.0.0.1", uint16(i), "10.0.0.2", 5678)
		d.payload = 64 - 28
		frames[i] = d.build()
		pkts[i] = h.Packet(frames[i])
		bt.P[bt.N] = h.Packet(frames[i])
		if bt.N++; bt.N == packet.MaxBatch {
			h.PushBatch(0, &bt) // creates the flows; the sink forgets the packets
		}
	}
	if got := h.Read("table_size"); got != strconv.Itoa(flows) {
		b.Fatalf("table_size %s", got)
	}
	b.SetBytes(64)
	b.ReportAllocs()
	b.ResetTimer()
	next := 0
	for done := 0; done < b.N; done += packet.MaxBatch {
		for i := range bt.P {
			copy(pkts[next].Data(), frames[next])
			bt.P[i] = pkts[next]
			next = (next + 1) % flows
		}
		bt.N = packet.MaxBatch
		h.PushBatch(0, &bt)
	}
}
