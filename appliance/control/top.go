package control

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/runtime"
)

// topState is a session's previous sample, for rates.
type topState struct {
	prev *sample
}

// sample is one reading of every counter top shows.
type sample struct {
	at    time.Time
	edges map[edgeKey][2]uint64
	drops map[string]uint64 // element -> drops (Base.Drops + its `drops` handler)
}

// connRate is one connection's packets and bytes between two samples.
type connRate struct {
	pkts, bytes float64 // per second
}

func (s *Server) takeSample() *sample {
	r := s.Router()
	sm := &sample{at: time.Now(), edges: s.taps.counters(), drops: map[string]uint64{}}
	for _, st := range r.Stats() {
		sm.drops[st.Name] = st.Drops
	}
	for _, n := range r.Nodes {
		for _, h := range r.Handlers(n) {
			if h.Name == "drops" && h.Read != nil {
				if v, err := r.Read(n.Decl.Name+".drops", ""); err == nil {
					d, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
					sm.drops[n.Decl.Name] += d
				}
			}
		}
	}
	return sm
}

// connKey is the counter that carries a connection: the upstream push
// output, or the downstream pull input.
func connKey(r *runtime.Router, c int) edgeKey {
	cn := r.Conns[c]
	from := r.Nodes[cn.From]
	if from.Elem.Core().Output(cn.FromPort).Kind == core.Pull {
		return edgeKey{elem: r.Nodes[cn.To].Decl.Name, port: cn.ToPort, pull: true}
	}
	return edgeKey{elem: from.Decl.Name, port: cn.FromPort}
}

// rates computes each connection's rates between two samples.
func rates(r *runtime.Router, a, b *sample) []connRate {
	secs := b.at.Sub(a.at).Seconds()
	out := make([]connRate, len(r.Conns))
	if secs <= 0 {
		return out
	}
	for i := range r.Conns {
		k := connKey(r, i)
		x, y := a.edges[k], b.edges[k]
		if y[0] < x[0] || y[1] < x[1] { // counters restarted
			continue
		}
		out[i] = connRate{pkts: float64(y[0]-x[0]) / secs, bytes: float64(y[1]-x[1]) / secs}
	}
	return out
}

// si renders a rate with an SI suffix.
func si(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// TopFrame renders one top screen from two samples.
func (s *Server) topFrame(a, b *sample) string {
	r := s.Router()
	rs := rates(r, a, b)
	type row struct{ rxp, rxb, txp, txb float64 }
	rows := make([]row, len(r.Nodes))
	for i, cn := range r.Conns {
		rows[cn.From].txp += rs[i].pkts
		rows[cn.From].txb += rs[i].bytes
		rows[cn.To].rxp += rs[i].pkts
		rows[cn.To].rxb += rs[i].bytes
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "flowbox top: %d elements, %d reconfigurations, interval %.1fs, %s\n\n",
		len(r.Nodes), s.opt.Runner.Swaps, b.at.Sub(a.at).Seconds(), b.at.Format("15:04:05"))
	fmt.Fprintf(&sb, "%-20s %-16s %9s %9s %9s %9s %10s %8s\n", "ELEMENT", "CLASS", "RX pkt/s", "RX bit/s", "TX pkt/s", "TX bit/s", "DROPS", "drop/s")
	secs := b.at.Sub(a.at).Seconds()
	for i, n := range r.Nodes {
		w := rows[i]
		d := b.drops[n.Decl.Name]
		dr := 0.0
		if prev, ok := a.drops[n.Decl.Name]; ok && d >= prev && secs > 0 {
			dr = float64(d-prev) / secs
		}
		fmt.Fprintf(&sb, "%-20s %-16s %9s %9s %9s %9s %10d %8s\n", trunc(n.Decl.Name, 20), trunc(n.Decl.Class, 16),
			si(w.rxp), si(w.rxb*8), si(w.txp), si(w.txb*8), d, si(dr))
	}
	return sb.String()
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "~"
}

// topCmd: "top" prints one frame with the rates since the session's last
// frame (the first frame samples for a second); "top stop" releases the
// counters. The shell calls "top" every second until a key is pressed.
func topCmd(c *Call) (string, error) {
	sess := c.Sess
	if len(c.Args) == 1 && c.Args[0] == "stop" {
		if sess.top != nil {
			c.Srv.taps.countersOff()
			sess.top = nil
		}
		return "", nil
	}
	if len(c.Args) != 0 {
		return "", usageErr(c.Cmd)
	}
	if sess.top == nil {
		c.Srv.taps.countersOn()
		sess.top = &topState{prev: c.Srv.takeSample()}
		time.Sleep(time.Second)
	}
	cur := c.Srv.takeSample()
	out := c.Srv.topFrame(sess.top.prev, cur)
	sess.top.prev = cur
	return out, nil
}

// sampleRates measures connection rates over d (turning the counters on
// for the duration if nobody else has).
func (s *Server) sampleRates(d time.Duration) []connRate {
	s.taps.countersOn()
	defer s.taps.countersOff()
	a := s.takeSample()
	time.Sleep(d)
	b := s.takeSample()
	return rates(s.Router(), a, b)
}
