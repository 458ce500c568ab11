package control

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"flowbox/appliance/runtime"
)

// collector exposes the current router's counters to Prometheus. Every
// scrape reads them on the elements' worker threads (Router.Stats and
// Router.Read), so a scrape never races the packet path.
type collector struct {
	rn *runtime.Runner

	outPackets *prometheus.Desc
	drops      *prometheus.Desc
	count      *prometheus.Desc
	bytes      *prometheus.Desc
	queueLen   *prometheus.Desc
	swaps      *prometheus.Desc
	elements   *prometheus.Desc
}

func newCollector(rn *runtime.Runner) *collector {
	el := []string{"element", "class"}
	return &collector{
		rn:         rn,
		outPackets: prometheus.NewDesc("flowbox_output_packets_total", "Packets pushed out of an element's output port.", []string{"element", "class", "port"}, nil),
		drops:      prometheus.NewDesc("flowbox_element_drops_total", "Packets an element dropped (malformed, policy, full queue).", el, nil),
		count:      prometheus.NewDesc("flowbox_element_count_total", "The element's count handler (Counter, Discard, sources).", el, nil),
		bytes:      prometheus.NewDesc("flowbox_element_bytes_total", "The element's byte_count handler (Counter).", el, nil),
		queueLen:   prometheus.NewDesc("flowbox_queue_length", "Packets held by a queue.", el, nil),
		swaps:      prometheus.NewDesc("flowbox_reconfigurations_total", "Completed hot reconfigurations.", nil, nil),
		elements:   prometheus.NewDesc("flowbox_elements", "Elements in the running configuration.", nil, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.outPackets, c.drops, c.count, c.bytes, c.queueLen, c.swaps, c.elements} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	r := c.rn.Router()
	ch <- prometheus.MustNewConstMetric(c.swaps, prometheus.CounterValue, float64(c.rn.Swaps))
	ch <- prometheus.MustNewConstMetric(c.elements, prometheus.GaugeValue, float64(len(r.Nodes)))
	// Drops also include a queue's own tail drops (its `drops` handler).
	extraDrops := map[string]float64{}
	for _, n := range r.Nodes {
		for _, h := range r.Handlers(n) {
			if h.Read == nil {
				continue
			}
			var d *prometheus.Desc
			vt := prometheus.CounterValue
			switch h.Name {
			case "count":
				d = c.count
			case "byte_count":
				d = c.bytes
			case "length":
				if n.Decl.Class != "Queue" && n.Decl.Class != "SimpleQueue" && !strings.HasSuffix(n.Decl.Class, "Queue") {
					continue
				}
				d, vt = c.queueLen, prometheus.GaugeValue
			case "drops":
				if v, ok := readNumber(r, n.Decl.Name+".drops"); ok {
					extraDrops[n.Decl.Name] += v
				}
				continue
			default:
				continue
			}
			if v, ok := readNumber(r, n.Decl.Name+"."+h.Name); ok {
				ch <- prometheus.MustNewConstMetric(d, vt, v, n.Decl.Name, n.Decl.Class)
			}
		}
	}
	for _, st := range r.Stats() {
		for p, v := range st.Outputs {
			ch <- prometheus.MustNewConstMetric(c.outPackets, prometheus.CounterValue, float64(v), st.Name, st.Class, strconv.Itoa(p))
		}
		ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(st.Drops)+extraDrops[st.Name], st.Name, st.Class)
	}
}

func readNumber(r *runtime.Router, spec string) (float64, bool) {
	v, err := r.Read(spec, "")
	if err != nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	return f, err == nil
}

// MetricsHandler serves the runner's metrics in Prometheus format (plus
// the Go runtime's own collectors).
func MetricsHandler(rn *runtime.Runner) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(rn))
	reg.MustRegister(prometheus.NewGoCollector())
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ServeMetrics listens on addr and serves /metrics in the background. It
// returns the bound address and a function that stops the server.
func ServeMetrics(addr string, rn *runtime.Runner) (string, func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("--metrics: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", MetricsHandler(rn))
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/" {
			http.NotFound(w, req)
			return
		}
		fmt.Fprintln(w, "flowbox: metrics at /metrics")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	return l.Addr().String(), func() { srv.Close() }, nil
}
