// Package bench holds the pipeline benchmarks `make bench` reports (one
// core, 64-byte UDP packets). See docs/benchmarks.md for results and the
// Click/FastClick peer figures.
package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/lang"
	"flowbox/appliance/runtime"
	_ "flowbox/elements/all"
)

// udp64 is a 64-byte Ethernet/IPv4/UDP frame 10.0.0.1:1234 -> 10.0.0.2:5678
// with valid checksums (it passes every rule of pipeline F).
const udp64 = `\<00000000 00020000 00000001 08004500 00320000 40004011 26b90a00 00010a00 ` +
	`000204d2 162e001e d0af0000 00000000 00000000 00000000 00000000 00000000>`

// Rules of pipeline F, as specified in the runtime issue.
const rulesF = `deny src net 192.168.0.0/16, deny dst net 172.16.0.0/12, deny src host 10.9.9.9, ` +
	`deny dst host 10.0.0.99, deny tcp, deny icmp, deny udp dst port 53, deny udp src port 161, ` +
	`deny udp dst port > 60000, deny ip ttl 0, allow all`

func source(n int) string {
	return fmt.Sprintf("InfiniteSource(%s, LIMIT %d, STOP true, TIMESTAMP false, BURST 32)", udp64, n)
}

// Pipelines D, F and N (the definitions).
func pipelineD(n int) string { return source(n) + " -> Discard" }
func pipelineF(n int) string {
	return source(n) + " -> Strip(14) -> CheckIPHeader -> IPFilter(" + rulesF + ") -> c :: Counter -> Discard"
}
func pipelineN(n int) string {
	return source(n) + " -> Strip(14) -> CheckIPHeader -> IPFilter(" + rulesF +
		") -> rw :: IPRewriter(pattern 1.0.0.1 1024-65535 - - 0 1) -> c :: Counter -> Discard; rw[1] -> Discard"
}

// runPipeline builds conf for b.N packets, runs it on one pinned worker,
// and reports Mpps and ns per packet up to the moment the source finished.
func runPipeline(b *testing.B, conf func(int) string, wantCounter bool) {
	n := b.N
	if n < 1024 {
		n = 1024
	}
	g, err := lang.Parse("bench.click", []byte(conf(n)), lang.Options{IsClass: func(s string) bool { return core.Lookup(s) != nil }})
	if err != nil {
		b.Fatal(err)
	}
	r, err := runtime.Build(g, runtime.BuildOptions{Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	if err := r.Run(context.Background(), runtime.RunOptions{Pin: true}); err != nil {
		b.Fatal(err)
	}
	end := r.StoppersFinished()
	b.StopTimer()
	if wantCounter {
		v, err := r.Read("c.count", "")
		if err != nil || strings.TrimSpace(v) != fmt.Sprint(n) {
			b.Fatalf("counter = %q (%v), want %d: the pipeline dropped packets it should pass", v, err, n)
		}
	}
	el := end.Sub(start)
	b.ReportMetric(float64(n)/el.Seconds()/1e6, "Mpps")
	b.ReportMetric(float64(el.Nanoseconds())/float64(n), "ns/pkt")
}

func BenchmarkPipelineD(b *testing.B) { runPipeline(b, pipelineD, false) }
func BenchmarkPipelineF(b *testing.B) { runPipeline(b, pipelineF, true) }
func BenchmarkPipelineN(b *testing.B) { runPipeline(b, pipelineN, true) }
