package ipexpr

import (
	"math/rand/v2"
	"strings"
	"testing"
)

var (
	tcpPkt  = basePkt(6)
	udpPkt  = basePkt(17)
	icmpPkt = func() pkt { p := basePkt(1); p.icmpType = 8; return p }()
)

func with(p pkt, f func(*pkt)) pkt { f(&p); return p }

var mac = []byte{1, 2, 3, 4, 5, 6, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 8, 0}

// matchCases are checked against both EvalPacket and the compiled program.
var matchCases = []struct {
	expr string
	p    pkt
	want bool
}{
	{"tcp", tcpPkt, true},
	{"tcp", udpPkt, false},
	{"ip proto udp", udpPkt, true},
	{"ip proto 17", tcpPkt, false},
	{"ip proto != tcp", udpPkt, true},
	{"src host 10.0.0.1", tcpPkt, true},
	{"dst host 10.0.0.1", tcpPkt, false},
	{"host 10.0.0.2", tcpPkt, true},
	{"10.0.0.2", tcpPkt, true},
	{"src and dst host 10.0.0.1", tcpPkt, false},
	{"src or dst host 10.0.0.1", tcpPkt, true},
	{"host != 10.0.0.1", tcpPkt, false},
	{"host != 10.9.9.9", tcpPkt, true},
	{"src host 10.0.0.1 or 10.0.0.7", tcpPkt, true},
	{"dst host 10.0.0.7 or 10.0.0.2", tcpPkt, true},
	{"net 10.0.0.0/8", tcpPkt, true},
	{"10.0/16", tcpPkt, true},
	{"src net 10.0.0.0 mask 255.255.255.0", tcpPkt, true},
	{"dst net 192.168.0.0/16", tcpPkt, false},
	{"src net != 192.168.0.0/16", tcpPkt, true},
	{"src port 1234", udpPkt, true},
	{"dst port www", tcpPkt, true},
	{"www", udpPkt, true},
	{"port 81 or 80", tcpPkt, true},
	{"src port 80 or 1234", tcpPkt, true},
	{"src port 80 or 81", tcpPkt, false},
	{"dst port > 1023", tcpPkt, false},
	{"dst port <= 80", tcpPkt, true},
	{"dst port >= 81", tcpPkt, false},
	{"src port < 1235", tcpPkt, true},
	{"tcp port 80", udpPkt, false},
	{"udp port 80", udpPkt, true},
	{"src port & 0xff00 == 0x0400", tcpPkt, true},
	{"port 80", icmpPkt, false},
	// "src tcp port != 5" requires TCP; its negated form does not.
	{"src tcp port != 5", udpPkt, false},
	{"src tcp port != 5", tcpPkt, true},
	{"!(src tcp port 5)", udpPkt, true},
	{"not src tcp port 1234", tcpPkt, false},
	// Transport primitives only hold on first fragments.
	{"udp port 1234", with(udpPkt, func(p *pkt) { p.frag = 100 }), false},
	{"udp", with(udpPkt, func(p *pkt) { p.frag = 100 }), true},
	{"ip frag", with(udpPkt, func(p *pkt) { p.frag = 100 }), true},
	{"ip unfrag", with(udpPkt, func(p *pkt) { p.frag = 100 }), false},
	{"src port 1234", with(udpPkt, func(p *pkt) { p.frag = 0x2000 }), true},
	{"frag", with(udpPkt, func(p *pkt) { p.frag = 0x2000 }), true},
	{"unfrag", with(udpPkt, func(p *pkt) { p.frag = 0x4000 }), true},
	{"syn", with(tcpPkt, func(p *pkt) { p.tcpFlags = 0x02; p.frag = 8 }), false},
	{"icmp type echo", with(icmpPkt, func(p *pkt) { p.frag = 8 }), false},
	// Reads past the end are false for == and !=, so not() is true.
	{"transp[1]&128==0", with(udpPkt, func(p *pkt) { p.truncate = 21 }), false},
	{"transp[1]&128!=0", with(udpPkt, func(p *pkt) { p.truncate = 21 }), false},
	{"not (transp[1]&128==0)", with(udpPkt, func(p *pkt) { p.truncate = 21 }), true},
	{"transp[1]&128!=0", with(udpPkt, func(p *pkt) { p.truncate = 22 }), true},
	{"transp[1]&128==0", with(udpPkt, func(p *pkt) { p.sport = 0x0400; p.truncate = 22 }), true},
	{"ip[19]&128==0", with(udpPkt, func(p *pkt) { p.truncate = 19 }), false},
	{"ip[19]&128==0", with(udpPkt, func(p *pkt) { p.truncate = 20 }), true},
	{"ip[19] != 0", with(udpPkt, func(p *pkt) { p.truncate = 19 }), false},
	{"ip[16] == 10", with(udpPkt, func(p *pkt) { p.truncate = 17 }), true},
	{"dst port 80", with(tcpPkt, func(p *pkt) { p.truncate = 23 }), false},
	{"dst port != 81", with(tcpPkt, func(p *pkt) { p.truncate = 23 }), false},
	// Ternary, connectives, juxtaposition.
	{"tcp ? dst port 80 : ip ttl 64", tcpPkt, true},
	{"tcp ? dst port 81 : ip ttl 64", tcpPkt, false},
	{"tcp ? dst port 81 : ip ttl 64", udpPkt, true},
	{"udp && dst port 80 || icmp", tcpPkt, false},
	{"(udp or tcp) and dst port 80", tcpPkt, true},
	{"dst port 80 and not src host 10.0.0.9", tcpPkt, true},
	{"fin ack", with(tcpPkt, func(p *pkt) { p.tcpFlags = 0x11 }), true},
	{"fin ack", with(tcpPkt, func(p *pkt) { p.tcpFlags = 0x01 }), false},
	{"tcp opt syn", with(tcpPkt, func(p *pkt) { p.tcpFlags = 0x02 }), true},
	{"tcp opt syn or ack", with(tcpPkt, func(p *pkt) { p.tcpFlags = 0x10 }), true},
	{"tcp opt ack", with(tcpPkt, func(p *pkt) { p.tcpFlags = 0x02 }), false},
	{"syn", with(udpPkt, func(p *pkt) { p.sport = 0x0002 }), false},
	{"tcp win 512", tcpPkt, true},
	{"tcp win > 1000", tcpPkt, false},
	{"icmp type echo", icmpPkt, true},
	{"icmp type 8", icmpPkt, true},
	{"icmp type echo-reply or echo", icmpPkt, true},
	{"icmp type != echo-reply", icmpPkt, true},
	{"icmp type != echo-reply", udpPkt, false},
	{"ip ttl > 10", tcpPkt, true},
	{"ip ttl 0", tcpPkt, false},
	{"ip tos 0x10", with(tcpPkt, func(p *pkt) { p.tos = 0x10 }), true},
	{"ip dscp 4", with(tcpPkt, func(p *pkt) { p.tos = 0x12 }), true},
	{"ip dscp > 4", with(tcpPkt, func(p *pkt) { p.tos = 0x13 }), false},
	{"ip dscp >= 4", with(tcpPkt, func(p *pkt) { p.tos = 0x13 }), true},
	{"ip ect", with(tcpPkt, func(p *pkt) { p.tos = 0x01 }), true},
	{"ip ect", tcpPkt, false},
	{"ip ce", with(tcpPkt, func(p *pkt) { p.tos = 0x03 }), true},
	{"ip ce", with(tcpPkt, func(p *pkt) { p.tos = 0x02 }), false},
	{"ip vers 4", tcpPkt, true},
	{"ip hl 5", tcpPkt, true},
	{"ip hl 6", with(tcpPkt, func(p *pkt) { p.optWords = 1 }), true},
	{"ip id 0x1234", with(tcpPkt, func(p *pkt) { p.id = 0x1234 }), true},
	{"ip[9] 17", udpPkt, true},
	{"ip[12:4] 0x0a000001", udpPkt, true},
	{"ip[12:4] & 0xff000000 == 0x0a000000", udpPkt, true},
	{"udp[2:2] == 80", udpPkt, true},
	{"udp[2:2] == 80", tcpPkt, false},
	{"tcp[13] & 2 != 0", with(tcpPkt, func(p *pkt) { p.tcpFlags = 2 }), true},
	// IP options move the transport header.
	{"dst port 80", with(tcpPkt, func(p *pkt) { p.optWords = 3 }), true},
	{"src port 1234 and tcp opt ack", with(tcpPkt, func(p *pkt) { p.optWords = 1; p.tcpFlags = 0x10 }), true},
	{"ether host 1:2:3:4:5:6", tcpPkt, true},
	{"src ether host 0a:0b:0c:0d:0e:0f", tcpPkt, true},
	{"src ether host 1:2:3:4:5:6", tcpPkt, false},
	{"dst ether host != 1:2:3:4:5:7", tcpPkt, true},
	{"true", tcpPkt, true},
	{"false", tcpPkt, false},
	{"-", tcpPkt, true},
	{"any", tcpPkt, true},
	{"all", tcpPkt, true},
	{"true ? false : true", tcpPkt, false},
}

func TestMatchCases(t *testing.T) {
	for _, c := range matchCases {
		ip := c.p.build()
		n, err := Parse(c.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.expr, err)
			continue
		}
		if got := EvalPacket(n, Packet{IP: ip, MAC: mac}); got != c.want {
			t.Errorf("EvalPacket(%q) = %v, want %v (ast %v)", c.expr, got, c.want, n)
		}
		prog, _, err := Compile([]Rule{{Expr: c.expr, Output: 3}})
		if err != nil {
			t.Fatalf("Compile(%q): %v", c.expr, err)
		}
		want := -1
		if c.want {
			want = 3
		}
		if got := prog.Match(ip, mac); got != want {
			t.Errorf("Match(%q) = %d, want %d\n%s", c.expr, got, want, prog)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ expr, want string }{
		{"src port foo", "col 10: expected port number or name, got 'foo'"},
		{"ip ttl 300", "col 8: ip ttl value out of range (max 255), got '300'"},
		{"ip dscp 64", "out of range (max 63)"},
		{"tcp and", "col 8: expected expression, got end of pattern"},
		{"(tcp", "col 5: expected ')', got end of pattern"},
		{"host 1.2.3", "col 6: expected IP address, got '1.2.3'"},
		{"net 1.2.3.4/40", "expected network"},
		{"ip[0:5] 1", "col 6: field length 1-4 out of range"},
		{"ip[0:0] 1", "field length must be 1-4"},
		{"ip[0 1", "expected ']'"},
		{"foo", "col 1: unknown primitive 'foo'"},
		{"tcp foo", "col 5: unknown primitive 'foo'"},
		{"tcp )", "col 5: unexpected ')'"},
		{"src ip ttl 4", "col 8: 'src'/'dst' cannot qualify 'ip ttl'"},
		{"host < 1.2.3.4", "col 6: only == and != apply to addresses"},
		{"tcp opt == syn", "tcp opt takes no operator"},
		{"tcp opt bogus", "expected TCP flag"},
		{"tcp ? udp", "col 10: expected ' : ' in ternary"},
		{"icmp type bogus", "expected ICMP type number or name, got 'bogus'"},
		{"ip proto bogus", "expected IP protocol number or name"},
		{"src true", "cannot follow 'src'/'dst'"},
		{"transp 5", "expected '[' after 'transp'"},
		{"ether host 1:2:3", "expected Ethernet address"},
		{"tcp #", "col 5: unexpected character '#'"},
		{"ip bogus 3", "unknown ip field 'bogus'"},
		{"host 1.2.3.4 & 5", "col 14: unexpected '&'"},
		{"host & 5 1.2.3.4", "col 6: a '&' mask is not allowed here"},
		{"", "col 1: expected expression, got end of pattern"},
	}
	for _, c := range cases {
		_, err := Parse(c.expr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) error = %v, want it to contain %q", c.expr, err, c.want)
		}
	}
}

func TestCompileErrorNamesPatternAndColumn(t *testing.T) {
	_, _, err := Compile([]Rule{{Expr: "tcp"}, {Expr: "tcp"}, {Expr: "tcp"}, {Expr: "dst port foo", Offset: 5}})
	want := "pattern 3: col 15: expected port number or name, got 'foo'"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

func TestFirstMatchWins(t *testing.T) {
	prog, warns, err := Compile([]Rule{
		{Expr: "tcp and dst port 80", Output: 0},
		{Expr: "tcp", Output: 1},
		{Expr: "udp port 53", Output: -1},
		{Expr: "udp", Output: 2},
	})
	if err != nil || len(warns) != 0 {
		t.Fatalf("Compile: %v %v", err, warns)
	}
	cases := []struct {
		p    pkt
		want int
	}{
		{tcpPkt, 0},
		{with(tcpPkt, func(p *pkt) { p.dport = 81 }), 1},
		{with(udpPkt, func(p *pkt) { p.dport = 53 }), -1},
		{udpPkt, 2},
		{icmpPkt, -1},
	}
	for i, c := range cases {
		if got := prog.Match(c.p.build(), nil); got != c.want {
			t.Errorf("case %d: Match = %d, want %d", i, got, c.want)
		}
	}
}

func TestUnreachableWarnings(t *testing.T) {
	cases := []struct {
		exprs []string
		want  []int
	}{
		{[]string{"tcp", "udp", "-"}, nil},
		{[]string{"all", "tcp"}, []int{1}},
		{[]string{"tcp", "-", "udp", "icmp"}, []int{2, 3}},
		{[]string{"src port www and src port ftp", "udp"}, []int{0}},
		{[]string{"tcp or udp", "udp port 53"}, []int{1}},
		{[]string{"ip ttl > 10", "ip ttl 64"}, []int{1}},
	}
	for _, c := range cases {
		rules := make([]Rule, len(c.exprs))
		for i, e := range c.exprs {
			rules[i] = Rule{Expr: e, Output: i}
		}
		_, warns, err := Compile(rules)
		if err != nil {
			t.Fatal(err)
		}
		if len(warns) != len(c.want) {
			t.Errorf("%q: warnings %q, want patterns %v", c.exprs, warns, c.want)
			continue
		}
		for i, w := range warns {
			if !strings.HasPrefix(w, "pattern "+string(rune('0'+c.want[i]))+" is unreachable") {
				t.Errorf("%q: warning %q, want pattern %d", c.exprs, w, c.want[i])
			}
		}
	}
}

// benchRules is the IPFilter benchmark's rule set (all deny, then allow).
var benchRules = []string{
	"src net 192.168.0.0/16", "dst net 172.16.0.0/12", "src host 10.9.9.9",
	"dst host 10.0.0.99", "tcp", "icmp", "udp dst port 53", "udp src port 161",
	"udp dst port > 60000", "ip ttl 0", "all",
}

func benchProgram(t testing.TB) *Program {
	rules := make([]Rule, len(benchRules))
	for i, e := range benchRules {
		rules[i] = Rule{Expr: e, Output: -1}
	}
	rules[len(rules)-1].Output = 0
	prog, warns, err := Compile(rules)
	if err != nil || len(warns) != 0 {
		t.Fatalf("Compile: %v %v", err, warns)
	}
	return prog
}

func TestPathSimplificationSharesTests(t *testing.T) {
	prog := benchProgram(t)
	// 4 address tests, proto == 6, == 1, == 17, first fragment, 3 port
	// tests and ttl: the repeated "udp" and fragment tests of the three
	// port rules are shared, not re-evaluated.
	if prog.Len() != 12 {
		t.Errorf("program has %d steps, want 12:\n%s", prog.Len(), prog)
	}
	listing := prog.String()
	for _, want := range []string{"ip[12:2] == 0xc0a8", "ip[16:2] & 0xfff0 == 0xac10", "transp[2:2] > 0xea60", "yes->drop", "no->[0]"} {
		if !strings.Contains(listing, want) {
			t.Errorf("listing lacks %q:\n%s", want, listing)
		}
	}
	if got := prog.Match(udpPkt.build(), nil); got != 0 {
		t.Errorf("benchmark packet: Match = %d, want 0", got)
	}
}

// ruleSets feed the property test comparing the program with the AST.
var ruleSets = [][]string{
	benchRules,
	{"tcp and dst port 80", "tcp", "udp port 53 or 123", "icmp type echo or echo-reply", "-"},
	{"src net 10.0.0.0/8 and (syn or fin)", "dst tcp port != 5", "!(src tcp port 5)", "ip frag"},
	{"transp[1]&128==0", "transp[1]&128!=0", "not (transp[1]&128==0)"},
	{"ip[19]&128==0 ? ip ttl > 3 : ip ttl < 3", "ip dscp >= 4 and ip ect", "ip ce or ip hl 6"},
	{"ether host 1:2:3:4:5:6", "src ether host != 0:0:0:0:0:1", "dst port < 1024 and src port >= 1024"},
	{"udp[0:4] & 0xffff0000 > 0x04000000", "ip[6:2] & 0x1fff == 0", "tcp win <= 512", "icmp type != 3"},
	{"src port & 0xff == 0xd2", "ip id != 0 and ip[2:2] > 40", "port www or ssh or 443"},
}

func compileSet(t testing.TB, exprs []string) (*Program, []ASTRule) {
	rules := make([]Rule, len(exprs))
	for i, e := range exprs {
		rules[i] = Rule{Expr: e, Output: i % 3}
	}
	ast, err := ParseRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	prog, _ := CompileAST(ast, Options{})
	return prog, ast
}

func TestProgramAgreesWithAST(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, set := range ruleSets {
		prog, ast := compileSet(t, set)
		tests := testsOf(ast)
		seen := map[int]int{}
		for i := 0; i < 20000; i++ {
			p := randomPacket(r, tests)
			want := refMatch(ast, p)
			seen[want]++
			if got := prog.Match(p.IP, p.MAC); got != want {
				t.Fatalf("rules %q packet % x mac % x: program %d, AST %d\n%s", set, p.IP, p.MAC, got, want, prog)
			}
		}
		// The generator must reach several outcomes, or the test proves little.
		if len(seen) < 3 {
			t.Errorf("rules %q: only outcomes %v were exercised", set, seen)
		}
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	prog := benchProgram(t)
	ip := udpPkt.build()
	if n := testing.AllocsPerRun(1000, func() { prog.Match(ip, nil) }); n != 0 {
		t.Errorf("Match allocates %v times per packet", n)
	}
}

func BenchmarkMatch(b *testing.B) {
	prog := benchProgram(b)
	ip := append(udpPkt.build(), 0, 0) // a 64-byte frame less its Ethernet header
	for b.Loop() {
		prog.Match(ip, nil)
	}
}
