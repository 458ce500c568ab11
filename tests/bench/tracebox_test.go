package bench

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"flowbox/tracebox"
	"flowbox/tracebox/cli"
	"flowbox/tracebox/tbxsim"
)

// BenchmarkTraceboxCampaign is tracebox's campaign mode (--targets,
// --parallel 8, no rate limit) over simulated 5-hop paths with an MSS
// clamp at hop 2, as tracebox/cli's BenchmarkCampaign: it measures the
// engine (probe crafting, reply parsing, matching, diffing), not a
// network. Reports probes/s.
func BenchmarkTraceboxCampaign(b *testing.B) {
	a := netip.MustParseAddr
	newTransport := func() tracebox.Transport {
		p := &tbxsim.Path{Routers: []tbxsim.Router{{Addr: a("10.0.1.1")}, {Addr: a("10.0.2.1"), Modify: tbxsim.ClampMSS(500)},
			{Addr: a("10.0.3.1")}, {Addr: a("10.0.4.1")}}, Dst: a("1.2.3.4")}
		return p.Transport()
	}
	targets := make([]string, 64)
	for i := range targets {
		targets[i] = "1.2.3.4"
	}
	var probes int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		probes += cli.Campaign(context.Background(), targets, tracebox.Options{}, 8, cli.NewLimiter(0), newTransport, func(cli.CampaignResult) {})
	}
	el := time.Since(start)
	if probes == 0 {
		b.Fatal("no probe sent")
	}
	b.ReportMetric(float64(probes)/el.Seconds(), "probes/s")
	b.ReportMetric(float64(el.Nanoseconds())/float64(probes), "ns/probe")
}
