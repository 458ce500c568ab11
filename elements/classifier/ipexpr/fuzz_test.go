package ipexpr

import (
	"math/rand/v2"
	"testing"
)

// FuzzCompile feeds random expression text to the parser and compiler:
// they must never panic, and whatever compiles must agree with the AST.
func FuzzCompile(f *testing.F) {
	for _, c := range matchCases {
		f.Add(c.expr)
	}
	for _, set := range ruleSets {
		for _, e := range set {
			f.Add(e)
		}
	}
	f.Add("src port 80 or 81 and ( ! dst host 1.2.3.4 ? ip[0:4] & 0xff > 3 : -)")
	f.Add("ether host 1:2:3:4:5:6 or ip[65535:4] != 0")
	f.Add("((((((")
	f.Fuzz(func(t *testing.T, expr string) {
		prog, _, err := Compile([]Rule{{Expr: expr, Output: 1}, {Expr: "tcp", Output: 0}})
		if err != nil {
			return
		}
		ast, _ := ParseRules([]Rule{{Expr: expr, Output: 1}, {Expr: "tcp", Output: 0}})
		r := rand.New(rand.NewPCG(uint64(len(expr)), 7))
		tests := testsOf(ast)
		for i := 0; i < 50; i++ {
			p := randomPacket(r, tests)
			if got, want := prog.Match(p.IP, p.MAC), refMatch(ast, p); got != want {
				t.Fatalf("%q on % x: program %d, AST %d", expr, p.IP, got, want)
			}
		}
	})
}

// FuzzMatch runs a fixed rule set on random packet bytes (used as both the
// IP and the MAC header): no panic, and agreement with the AST.
func FuzzMatch(f *testing.F) {
	ast := make([]ASTRule, 0)
	for _, set := range ruleSets {
		rules := make([]Rule, len(set))
		for i, e := range set {
			rules[i] = Rule{Expr: e, Output: len(ast) + i}
		}
		parsed, err := ParseRules(rules)
		if err != nil {
			f.Fatal(err)
		}
		ast = append(ast, parsed...)
	}
	prog, _ := CompileAST(ast, Options{})
	f.Add([]byte{})
	f.Add([]byte{0x45})
	f.Add(udpPkt.build())
	f.Add(tcpPkt.build()[:21])
	f.Add(with(tcpPkt, func(p *pkt) { p.optWords = 3; p.tcpFlags = 2 }).build())
	f.Add(with(icmpPkt, func(p *pkt) { p.frag = 0x2000 }).build())
	f.Add([]byte{0x4f, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := Packet{IP: data, MAC: data}
		if got, want := prog.Match(data, data), refMatch(ast, p); got != want {
			t.Fatalf("% x: program %d, AST %d", data, got, want)
		}
	})
}
