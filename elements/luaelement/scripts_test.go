package luaelement

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
	"flowbox/elements/elemtest"
	"flowbox/lua/luatest"
)

// Tests for the documented examples in scripts/.

const scripts = "../../scripts/"

func syn(src string, dport uint16) []byte {
	return luatest.TCP4(src, "10.9.9.9", 40000, dport, proto.TCPSyn)
}

func TestScriptPortKnock(t *testing.T) {
	h := elemtest.New(t, "LuaElement", "SCRIPT "+scripts+`portknock.lua, ARGS "knock=7000,8000,9000 open=22 window=10"`, 1, 1)
	sec := int64(time.Second)
	h.Ctx.Now = time.Now().UnixNano() // handlers read the wall clock
	out := func() int { return h.Outs[0].Count }

	h.Push(0, syn("1.1.1.1", 22))
	if out() != 0 {
		t.Fatal("SYN to the protected port passed before knocking")
	}
	h.Push(0, syn("1.1.1.1", 7000), syn("1.1.1.1", 8000), syn("1.1.1.1", 9000))
	if out() != 0 {
		t.Fatal("knock packets must be swallowed")
	}
	h.Push(0, syn("1.1.1.1", 22))
	if out() != 1 {
		t.Fatal("SYN after a correct knock was dropped")
	}
	if got := h.Read("open_sources"); got != "1.1.1.1" {
		t.Fatalf("open_sources = %q", got)
	}
	// wrong order from another source
	h.Push(0, syn("2.2.2.2", 7000), syn("2.2.2.2", 9000), syn("2.2.2.2", 8000), syn("2.2.2.2", 22))
	if out() != 1 {
		t.Fatal("a wrong knock sequence opened the port")
	}
	// other traffic passes: an ACK to 22, UDP, other ports
	h.Push(0, luatest.TCP4("3.3.3.3", "10.9.9.9", 1, 22, proto.TCPAck), luatest.UDP4("3.3.3.3", "10.9.9.9", 1, 22, nil), syn("3.3.3.3", 80))
	if out() != 4 {
		t.Fatalf("unrelated traffic: out=%d, want 4", out())
	}
	// the window closes
	h.Ctx.Now += 11 * sec
	h.Push(0, syn("1.1.1.1", 22))
	if out() != 4 {
		t.Fatal("port still open after the window")
	}
	// knock again, then revoke through the handler
	h.Push(0, syn("1.1.1.1", 7000), syn("1.1.1.1", 8000), syn("1.1.1.1", 9000))
	if err := h.Write("close", "1.1.1.1"); err != nil {
		t.Fatal(err)
	}
	h.Push(0, syn("1.1.1.1", 22))
	if out() != 4 {
		t.Fatal("port open after close")
	}
	if h.Write("close", "bogus") == nil {
		t.Fatal("close accepted a non-address")
	}
	// knocks counts accepted steps: 3 + 1 (2.2.2.2 then went wrong) + 3
	if got := h.Read("counters"); got != "knocks 7\nopened 2\nrefused 4" {
		t.Fatalf("counters %q", got)
	}
	if _, err := elemtest.Build(t, "LuaElement", "SCRIPT "+scripts+"portknock.lua", elemtest.Options{Inputs: 1, Outputs: 1}); err == nil ||
		!strings.Contains(err.Error(), "knock=") {
		t.Fatalf("missing ARGS: %v", err)
	}
}

func TestScriptRateLimit(t *testing.T) {
	h := elemtest.New(t, "LuaElement", "SCRIPT "+scripts+`ratelimit.lua, OUTPUTS 2, ARGS "rate=10 burst=5"`, 1, 2)
	h.Ctx.Now = int64(100 * time.Second)
	burst := func(src string, n int) {
		var fr [][]byte
		for i := 0; i < n; i++ {
			fr = append(fr, luatest.UDP4(src, "10.0.0.1", 1, 2, nil))
		}
		h.Push(0, fr...)
	}
	burst("1.1.1.1", 8)
	burst("2.2.2.2", 8)
	if h.Outs[0].Count != 10 || h.Outs[1].Count != 6 {
		t.Fatalf("out %d/%d, want 10/6", h.Outs[0].Count, h.Outs[1].Count)
	}
	h.Ctx.Now += int64(500 * time.Millisecond) // refills 5 tokens
	burst("1.1.1.1", 6)
	if h.Outs[0].Count != 15 || h.Outs[1].Count != 7 {
		t.Fatalf("after refill out %d/%d, want 15/7", h.Outs[0].Count, h.Outs[1].Count)
	}
	h.Push(0, []byte("\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01\x08\x06 arp"))
	if h.Outs[0].Count != 16 {
		t.Fatal("non-IP packet not passed")
	}
	if h.Read("limited") != "7" || h.Read("sources") != "2" {
		t.Fatalf("limited=%s sources=%s", h.Read("limited"), h.Read("sources"))
	}
	// single output: excess is dropped
	h1 := elemtest.New(t, "LuaElement", "SCRIPT "+scripts+`ratelimit.lua, ARGS "rate=1 burst=2"`, 1, 1)
	h1.Ctx.Now = int64(time.Second)
	h1.Push(0, luatest.UDP4("1.1.1.1", "10.0.0.1", 1, 2, nil), luatest.UDP4("1.1.1.1", "10.0.0.1", 1, 2, nil), luatest.UDP4("1.1.1.1", "10.0.0.1", 1, 2, nil))
	if h1.Outs[0].Count != 2 || h1.Elem.Core().Drops != 1 {
		t.Fatalf("single output: out %d drops %d", h1.Outs[0].Count, h1.Elem.Core().Drops)
	}
}

func dnsQuery(id uint16, flags uint16, name string, qtype uint16) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b, id)
	binary.BigEndian.PutUint16(b[2:], flags)
	binary.BigEndian.PutUint16(b[4:], 1)
	for _, l := range strings.Split(name, ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, qtype)
	return binary.BigEndian.AppendUint16(b, 1)
}

func TestScriptDNSLog(t *testing.T) {
	h := elemtest.New(t, "LuaElement", "SCRIPT "+scripts+`dnslog.lua, ARGS "keep=2"`, 1, 1)
	q1 := luatest.UDP4("10.0.0.1", "10.0.0.53", 5555, 53, dnsQuery(1, 0x0100, "www.example.com", 1))
	q2 := luatest.Frame{Src: "2001:db8::7", Dst: "2001:db8::53", Proto: proto.ProtoUDP, Sport: 5, Dport: 53,
		Payload: dnsQuery(2, 0x0100, "ipv6.example.org", 28)}.Build()
	resp := luatest.UDP4("10.0.0.53", "10.0.0.1", 53, 53, dnsQuery(1, 0x8180, "www.example.com", 1))
	bad := luatest.UDP4("10.0.0.1", "10.0.0.53", 5555, 53, append(dnsQuery(3, 0x0100, "x", 1)[:12], 30, 'a', 'b', 'c', 'd', 'e', 'f'))
	q3 := luatest.UDP4("10.0.0.2", "10.0.0.53", 5555, 53, dnsQuery(4, 0x0100, "mail.example.net", 15))
	h.Push(0, q1, q2, resp, bad, luatest.TCP4("1.1.1.1", "2.2.2.2", 1, 53, proto.TCPSyn))
	if h.Outs[0].Count != 5 {
		t.Fatalf("the logger must pass everything: %d", h.Outs[0].Count)
	}
	if got := h.Read("recent"); got != "10.0.0.1 www.example.com A\n2001:db8::7 ipv6.example.org AAAA" {
		t.Fatalf("recent = %q", got)
	}
	h.Push(0, q3)
	if got := h.Read("recent"); got != "2001:db8::7 ipv6.example.org AAAA\n10.0.0.2 mail.example.net MX" {
		t.Fatalf("recent after wrap = %q", got)
	}
	if got := h.Read("counters"); got != "queries 3\nmalformed 1" {
		t.Fatalf("counters %q", got)
	}
	logs := strings.Join(h.Router.Logs, "\n")
	if !strings.Contains(logs, "dns 10.0.0.1 www.example.com A") || h.Read("errors") != "0" {
		t.Fatalf("logs %q errors %s (%s)", logs, h.Read("errors"), h.Read("last_error"))
	}
}

func TestScriptClassify(t *testing.T) {
	h := elemtest.New(t, "LuaElement", "SCRIPT "+scripts+`classify.lua, OUTPUTS 3, ARGS "trusted=172.16.0.0/12"`, 1, 3)
	sip := luatest.UDP4("10.0.0.1", "10.0.0.2", 5060, 5060, []byte("INVITE"))
	rtp := luatest.UDP4("10.0.0.1", "10.0.0.2", 20000, 20000, nil)
	web := luatest.TCP4("10.0.0.1", "10.0.0.2", 5000, 443, proto.TCPSyn)
	ef := luatest.Frame{Src: "10.0.0.1", Dst: "10.0.0.2", Proto: proto.ProtoTCP, Sport: 1, Dport: 22, TOS: 46<<2 | 1}.Build()
	trusted := luatest.Frame{Src: "172.16.5.5", Dst: "10.0.0.2", Proto: proto.ProtoTCP, Sport: 1, Dport: 80, TOS: 4}.Build()
	dns := luatest.UDP4("10.0.0.1", "10.0.0.2", 1, 53, nil)
	h.Push(0, sip, rtp, web, ef, trusted, dns, []byte("\x01\x02\x03\x04\x05\x06\x01\x02\x03\x04\x05\x06\x08\x06...."))
	type want struct {
		port  int
		paint uint8
		tos   uint8
	}
	expect := []want{{1, 1, 46 << 2}, {1, 1, 46 << 2}, {2, 2, 18 << 2}, {1, 1, 46<<2 | 1}, {2, 2, 4}, {0, 0, 0}}
	idx := [3]int{}
	for i, w := range expect {
		out := h.Outs[w.port]
		if idx[w.port] >= len(out.Pkts) {
			t.Fatalf("packet %d missing on output %d", i, w.port)
		}
		p := out.Pkts[idx[w.port]]
		idx[w.port]++
		if p.Anno.Paint != w.paint || p.Data()[15] != w.tos {
			t.Errorf("packet %d: paint %d tos %d, want %d %d", i, p.Anno.Paint, p.Data()[15], w.paint, w.tos)
		}
		if err := luatest.VerifyChecksums(p.Data()); err != nil {
			t.Errorf("packet %d: %v", i, err)
		}
	}
	if h.Outs[0].Count != 2 {
		t.Fatalf("other: %d, want 2 (dns + arp)", h.Outs[0].Count)
	}
	if got := h.Read("classes"); got != "other 2\nvoice 3\nweb 2" {
		t.Fatalf("classes %q", got)
	}
}

func TestLuaFlowHook(t *testing.T) {
	fh := elemtest.New(t, "LuaFlowHook", "HOOKS "+scripts+"flowpolicy.lua, CAPACITY 8, TIMEOUT 10s", 1, 2)
	fh.Ctx.Now = int64(time.Second)
	inside := luatest.UDP4("192.0.2.1", "10.1.1.1", 1000, 2000, nil)
	outside := luatest.UDP4("192.0.2.1", "198.51.100.1", 1000, 2000, nil)
	telnet := luatest.TCP4("192.0.2.1", "198.51.100.1", 1000, 23, proto.TCPSyn)
	telnetIn := luatest.TCP4("10.2.2.2", "198.51.100.1", 1000, 23, proto.TCPSyn)
	fh.Push(0, inside, outside, telnet, telnetIn, inside, outside, telnet)
	if fh.Outs[0].Count != 3 || fh.Outs[1].Count != 2 || fh.Elem.Core().Drops != 2 {
		t.Fatalf("out %d/%d drops %d, want 3/2/2", fh.Outs[0].Count, fh.Outs[1].Count, fh.Elem.Core().Drops)
	}
	if fh.Read("new_flows") != "4" || fh.Read("flows") != "4" {
		t.Fatalf("new_flows %s flows %s", fh.Read("new_flows"), fh.Read("flows"))
	}
	// the first packet of the outside flow was painted by the hook
	if fh.Outs[0].Pkts[0].Anno.Paint != 1 {
		t.Fatalf("paint %d", fh.Outs[0].Pkts[0].Anno.Paint)
	}
	// idle flows expire and are asked about again
	fh.Ctx.Now += int64(11 * time.Second)
	fh.Push(0, inside)
	if fh.Read("new_flows") != "5" || fh.Outs[1].Count != 3 {
		t.Fatalf("after timeout: new_flows %s out1 %d", fh.Read("new_flows"), fh.Outs[1].Count)
	}
	// a full table evicts
	var many [][]byte
	for i := 0; i < 40; i++ {
		many = append(many, luatest.UDP4("192.0.2.1", "198.51.100.1", uint16(3000+i), 53, nil))
	}
	fh.Push(0, many...)
	if fh.Read("evictions") == "0" {
		t.Fatal("no evictions with 40 flows in a table of 8")
	}
	// without HOOKS and without active hooks everything passes
	plain := elemtest.New(t, "LuaFlowHook", "", 1, 1)
	plain.Push(0, telnet)
	if plain.Outs[0].Count != 1 || plain.Read("no_hooks") != "1" {
		t.Fatalf("no hooks: out %d", plain.Outs[0].Count)
	}
	if _, err := elemtest.Build(t, "LuaFlowHook", "HOOKS "+scripts+"config_approval.lua", elemtest.Options{Inputs: 1, Outputs: 1}); err == nil {
		t.Fatal("a hook file without on_flow accepted")
	}
}

func TestLuaFlowHookAllocs(t *testing.T) {
	fh := elemtest.New(t, "LuaFlowHook", "HOOKS "+scripts+"flowpolicy.lua", 1, 2)
	fh.Outs[0].Discard, fh.Outs[1].Discard = true, true
	fh.Ctx.Now = int64(time.Second)
	tmpl := fh.Packet(luatest.UDP4("192.0.2.1", "198.51.100.1", 1000, 2000, nil))
	var b packet.Batch
	fh.Ctx.Pool.CloneN(tmpl, &b, packet.MaxBatch)
	fh.PushBatch(0, &b) // the flow's first packet calls the hook
	allocs := testing.AllocsPerRun(200, func() {
		fh.Ctx.Pool.CloneN(tmpl, &b, packet.MaxBatch)
		fh.PushBatch(0, &b)
	})
	if allocs > 0 {
		t.Fatalf("%.1f allocs per batch of a known flow", allocs)
	}
}

// TestScriptPortKnockIPv6: IPv6 sources knock and are refused like IPv4
// ones (the script used to raise an error on an IPv6 SYN, and the
// element's POLICY then decided its fate).
func TestScriptPortKnockIPv6(t *testing.T) {
	h := elemtest.New(t, "LuaElement", "SCRIPT "+scripts+`portknock.lua, ARGS "knock=7000,8000 open=22"`, 1, 1)
	h.Ctx.Now = time.Now().UnixNano()
	syn6 := func(dport uint16) []byte {
		return luatest.Frame{Src: "2001:db8::1", Dst: "2001:db8::2", Proto: proto.ProtoTCP, Sport: 40000, Dport: dport, Flags: proto.TCPSyn}.Build()
	}
	h.Push(0, syn6(22))
	if h.Outs[0].Count != 0 {
		t.Fatal("IPv6 SYN to the protected port passed before knocking")
	}
	h.Push(0, syn6(7000), syn6(8000), syn6(22))
	if h.Outs[0].Count != 1 {
		t.Fatal("IPv6 SYN after a correct knock was dropped")
	}
	if got := h.Read("open_sources"); got != "2001:db8::1" {
		t.Fatalf("open_sources = %q", got)
	}
	if err := h.Write("close", "2001:db8::1"); err != nil {
		t.Fatal(err)
	}
	h.Push(0, syn6(22))
	if h.Outs[0].Count != 1 {
		t.Fatal("IPv6 source still open after close")
	}
	if got := h.Read("errors"); got != "0" {
		t.Fatalf("script errors: %s (last: %s)", got, h.Read("last_error"))
	}
}
