package ipexpr

import (
	"math/rand/v2"
	"testing"
)

// tableRuleSets add, to ruleSets, rules that stress the table form: tests
// in the first bytes of a header (shifted masks), one-byte transport
// tests at offset 0, relational tests at the extremes, and more distinct
// tests than the table takes (the program must then walk).
var tableRuleSets = [][]string{
	{"ip[0] & 0xf0 == 0x40 and ip[0] & 0x0f > 5", "ip[1] < 1", "transp[0] == 8", "ip[0:2] >= 0x4500", "-"},
	{"ip[2:2] <= 40", "ip[3] > 254", "transp[0:4] & 0xffff0000 > 0x04000000", "ip[19] != 0"},
	{"icmp type echo", "udp src port 0", "tcp dst port 65535", "ip ttl < 2", "ip tos > 0"},
	{"src host 1.1.1.1", "src host 2.2.2.2", "src host 3.3.3.3", "dst host 4.4.4.4",
		"dst host 5.5.5.5", "src net 6.0.0.0/8", "dst net 7.0.0.0/8", "tcp port 1", "udp port 2",
		"icmp", "ip ttl 9", "ip tos 10", "ip id 11", "-"},
}

// roomy returns a copy of b at the start of a packet-sized buffer, so the
// table path reads it in place (a slice with little capacity is copied).
func roomy(b []byte) []byte {
	buf := make([]byte, 2048)
	return buf[:copy(buf, b)]
}

// TestTableAgreesWithWalkAndAST runs every rule set on random packets
// through Match (table path, in place and copied, any IHL) and through
// the step walk alone; both must agree with the AST.
func TestTableAgreesWithWalkAndAST(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tables := 0
	for _, set := range append(append([][]string{}, ruleSets...), tableRuleSets...) {
		prog, ast := compileSet(t, set)
		if prog.table != nil {
			tables++
		}
		tests := testsOf(ast)
		for i := 0; i < 20000; i++ {
			p := randomPacket(r, tests)
			want := refMatch(ast, p)
			if got := prog.walk(p.IP, p.MAC); got != want {
				t.Fatalf("rules %q packet % x: walk %d, AST %d\n%s", set, p.IP, got, want, prog)
			}
			if got := prog.Match(p.IP, p.MAC); got != want {
				t.Fatalf("rules %q packet % x: Match (copied) %d, AST %d\n%s", set, p.IP, got, want, prog)
			}
			if got := prog.Match(roomy(p.IP), p.MAC); got != want {
				t.Fatalf("rules %q packet % x: Match (in place) %d, AST %d\n%s", set, p.IP, got, want, prog)
			}
		}
	}
	if tables < len(ruleSets) {
		t.Errorf("only %d rule sets got a decision table", tables)
	}
}

func TestTableForm(t *testing.T) {
	prog := benchProgram(t)
	if prog.table == nil || len(prog.blocks) != 3 {
		t.Fatalf("benchmark program: table %v, %d blocks; want a table and 3 blocks", prog.table != nil, len(prog.blocks))
	}
	ip := roomy(append(udpPkt.build(), 0, 0))
	if got := prog.matchTable(ip); got != 0 {
		t.Errorf("benchmark packet: matchTable = %d, want 0", got)
	}
	for _, n := range []int{0, 1, 19, 20, 23} {
		if got := prog.matchTable(ip[:n]); got != undecided {
			t.Errorf("%d-byte packet: matchTable = %d, want undecided (walk)", n, got)
		}
	}
	// More distinct tests than the table takes, or a MAC test: walk.
	big, _ := compileSet(t, tableRuleSets[3])
	if big.table != nil {
		t.Errorf("a %d-step program got a table", big.Len())
	}
	mac, _ := compileSet(t, []string{"ether host 1:2:3:4:5:6", "tcp"})
	if mac.table != nil {
		t.Error("a program with MAC tests got a table")
	}
	if n := testing.AllocsPerRun(1000, func() { prog.Match(ip, nil) }); n != 0 {
		t.Errorf("table Match allocates %v times per packet", n)
	}
}

func BenchmarkMatchInPlace(b *testing.B) {
	prog := benchProgram(b)
	ip := roomy(append(udpPkt.build(), 0, 0))
	for b.Loop() {
		prog.Match(ip, nil)
	}
}

func BenchmarkMatchWalk(b *testing.B) {
	prog := benchProgram(b)
	ip := roomy(append(udpPkt.build(), 0, 0))
	for b.Loop() {
		prog.walk(ip, nil)
	}
}
