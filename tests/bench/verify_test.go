package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	_ "flowbox/elements/all"
	"flowbox/verify"
)

// operatorNetwork generates an In-Net-style operator network of about n
// boxes: a 4-ary tree of routers (the root faces the internet; each router
// serves a client LAN /24 and routes its subtree's LANs to its children),
// with a firewall box on every link from a router down to a child.
func operatorNetwork(n int) (string, map[string][]byte) {
	files := map[string][]byte{}
	var net strings.Builder
	const enc = "EtherEncap(0x0800, 0:0:0:0:0:1, 0:0:0:0:0:2)"
	files["fw.click"] = []byte("FromDevice(prev) -> Strip(14) -> CheckIPHeader -> IPFilter(deny udp dst port 53, allow all) -> " + enc + " -> ToDevice(next);\n")
	routers := (n + 1) / 2
	lan := func(i int) string { return fmt.Sprintf("10.%d.%d.0/24", i/256%256, i%256) }
	children := func(i int) []int {
		var c []int
		for k := 4*i + 1; k <= 4*i+4 && k < routers; k++ {
			c = append(c, k)
		}
		return c
	}
	var subtree func(i int) []int
	subtree = func(i int) []int {
		out := []int{i}
		for _, c := range children(i) {
			out = append(out, subtree(c)...)
		}
		return out
	}
	for i := 0; i < routers; i++ {
		var t strings.Builder
		fmt.Fprintf(&t, "%s lan\n0.0.0.0/0 up\n", lan(i))
		for k, c := range children(i) {
			for _, j := range subtree(c) {
				fmt.Fprintf(&t, "%s c%d\n", lan(j), k)
			}
		}
		files[fmt.Sprintf("r%d.rt", i)] = []byte(t.String())
		fmt.Fprintf(&net, "router r%d r%d.rt\n", i, i)
		fmt.Fprintf(&net, "client %s at r%d:lan\n", lan(i), i)
		for k, c := range children(i) {
			fmt.Fprintf(&net, "box f%d fw.click\nlink r%d:c%d f%d:prev\nlink f%d:next r%d:up\n", c, i, k, c, c, c)
		}
	}
	net.WriteString("internet 0.0.0.0/0 at r0:up\n")
	return net.String(), files
}

func buildNetwork(tb testing.TB, n int) *verify.Checker {
	text, files := operatorNetwork(n)
	nw, g, err := verify.ParseNetwork("gen.net", []byte(text), func(f string) ([]byte, error) { return files[f], nil })
	if err != nil {
		tb.Fatal(err)
	}
	return &verify.Checker{G: g, Net: nw}
}

const netReq = "reach from internet udp dst port 1500 -> client const payload && dst port && dst"

func TestOperatorNetworkSmall(t *testing.T) {
	c := buildNetwork(t, 10)
	r, err := verify.ParseRequirement(netReq)
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Check(r); a.Verdict != verify.Satisfied {
		t.Fatal(a.Line())
	}
	r2, _ := verify.ParseRequirement("reach from internet udp dst port 53 -> 10.0.1.0/24")
	if a := c.Check(r2); a.Verdict != verify.Violated {
		t.Fatal(a.Line())
	}
	r3, _ := verify.ParseRequirement("reach from internet udp dst port 53 -> 10.0.0.0/24")
	if a := c.Check(r3); a.Verdict != verify.Satisfied {
		t.Fatal(a.Line())
	}
}

// BenchmarkVerifyNetwork checks one requirement on generated operator
// networks (In-Net §6.1 reports 1.3 s for 1,000 boxes; the goal is 0.5 s).
func BenchmarkVerifyNetwork(b *testing.B) {
	r, err := verify.ParseRequirement(netReq)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{125, 250, 500, 1000, 2000} {
		b.Run(fmt.Sprintf("boxes=%d", n), func(b *testing.B) {
			t0 := time.Now()
			c := buildNetwork(b, n)
			build := time.Since(t0)
			b.ResetTimer()
			var a *verify.Answer
			for i := 0; i < b.N; i++ {
				a = c.Check(r)
			}
			b.StopTimer()
			if a.Verdict != verify.Satisfied {
				b.Fatal(a.Line())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/check")
			b.ReportMetric(float64(build.Milliseconds()), "ms/build")
			b.ReportMetric(float64(len(c.G.Nodes)), "elements")
		})
	}
}

// BenchmarkVerifyRoutingTable checks a requirement across a router with a
// large routing-table snapshot (goal: 100k prefixes in < 5 s).
func BenchmarkVerifyRoutingTable(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("prefixes=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			var t strings.Builder
			ifaces := []string{"a", "b", "c", "d"}
			seen := map[[2]uint32]bool{}
			for len(seen) < n {
				bits := 8 + rng.IntN(17)
				addr := rng.Uint32() &^ (1<<(32-bits) - 1)
				if seen[[2]uint32{addr, uint32(bits)}] {
					continue
				}
				seen[[2]uint32{addr, uint32(bits)}] = true
				fmt.Fprintf(&t, "%d.%d.%d.%d/%d %s\n", addr>>24, addr>>16&255, addr>>8&255, addr&255, bits, ifaces[rng.IntN(len(ifaces))])
			}
			t.WriteString("0.0.0.0/0 up\n")
			text := "router r big.rt\nclient 192.168.0.0/16 at r:up\ninternet 0.0.0.0/0 at r:a\n"
			t0 := time.Now()
			nw, g, err := verify.ParseNetwork("rt.net", []byte(text), func(string) ([]byte, error) { return []byte(t.String()), nil })
			if err != nil {
				b.Fatal(err)
			}
			build := time.Since(t0)
			c := &verify.Checker{G: g, Net: nw}
			r, _ := verify.ParseRequirement("reach from client tcp -> internet const src")
			b.ResetTimer()
			var a *verify.Answer
			for i := 0; i < b.N; i++ {
				a = c.Check(r)
			}
			b.StopTimer()
			if a.Verdict != verify.Satisfied {
				b.Fatal(a.Line())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/check")
			b.ReportMetric(float64(build.Milliseconds()), "ms/build")
		})
	}
}
