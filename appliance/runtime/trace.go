package runtime

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// TraceHop is one step of a traced packet: it left Element's output Port
// towards Next, with these annotations.
type TraceHop struct {
	At      time.Duration // since tracing started
	Element string
	Port    int
	Next    string
	Len     int
	Anno    string
}

// TracedPacket is the path of one packet through the graph.
type TracedPacket struct {
	ID   int
	Hops []TraceHop
}

// tracer follows the next N packets (optionally matching a filter) as they
// cross outputs, like VPP's packet trace. It is installed as a Tap on every
// output only while a trace is wanted.
type tracer struct {
	mu      sync.Mutex
	start   time.Time
	want    int
	filter  func(*packet.Packet) bool
	ids     map[*packet.Packet]int
	packets []*TracedPacket
	next    map[*core.Output]string
	prev    map[*core.Input]string
}

// ObservePull records packets crossing a pull connection (upstream -> to).
func (t *tracer) ObservePull(_ *core.Ctx, to *core.Base, port int, pkts []*packet.Packet) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range pkts {
		id, ok := t.ids[p]
		if !ok {
			continue // pull paths never start a trace: sources push
		}
		tp := t.packets[id-1]
		tp.Hops = append(tp.Hops, TraceHop{
			At: time.Since(t.start), Element: t.prev[to.Input(port)], Port: -1,
			Next: fmt.Sprintf("[%d] %s", port, to.Name()), Len: p.Len(), Anno: annoString(p),
		})
	}
}

func (t *tracer) Observe(_ *core.Ctx, from *core.Base, port int, b *packet.Batch) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := from.Output(port)
	for _, p := range b.Packets() {
		id, ok := t.ids[p]
		if ok && from.NInputs() == 0 {
			// A source re-used a freed packet struct: a new packet.
			delete(t.ids, p)
			ok = false
		}
		if !ok {
			// Traces start where packets enter the graph (sources), like
			// VPP's input nodes, so every trace shows the whole path.
			if t.want == 0 || from.NInputs() > 0 || (t.filter != nil && !t.filter(p)) {
				continue
			}
			t.want--
			id = len(t.packets) + 1
			t.ids[p] = id
			t.packets = append(t.packets, &TracedPacket{ID: id})
		}
		tp := t.packets[id-1]
		tp.Hops = append(tp.Hops, TraceHop{
			At: time.Since(t.start), Element: from.Name(), Port: port, Next: t.next[out],
			Len: p.Len(), Anno: annoString(p),
		})
	}
}

func annoString(p *packet.Packet) string {
	a := &p.Anno
	dst := netip.AddrFrom4(a.DstIP)
	return fmt.Sprintf("paint %d dst-ip %s net %d trans %d", a.Paint, dst, p.NetworkOffset(), p.TransportOffset())
}

// TraceAdd starts (or extends) a trace of the next n packets; filter, if
// not nil, selects which packets to follow.
func (r *Router) TraceAdd(n int, filter func(*packet.Packet) bool) {
	r.traceMu.Lock()
	defer r.traceMu.Unlock()
	if r.tracer == nil {
		next, prev := r.edgeNames()
		r.tracer = &tracer{start: time.Now(), ids: map[*packet.Packet]int{}, next: next, prev: prev}
	}
	t := r.tracer
	// Install every tap before arming the count, so no packet starts a
	// trace while some of the elements it will cross are not yet tapped.
	r.setTaps(func(*Node, int) core.Tap { return t })
	r.setPullTaps(t)
	t.mu.Lock()
	t.want += n
	t.filter = filter
	t.mu.Unlock()
}

// TraceShow renders the traced packets.
func (r *Router) TraceShow() string {
	r.traceMu.Lock()
	t := r.tracer
	r.traceMu.Unlock()
	if t == nil {
		return "no trace (use 'trace add N [FILTER]')\n"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	if len(t.packets) == 0 {
		fmt.Fprintf(&b, "waiting for %d packet(s)\n", t.want)
	}
	for _, p := range t.packets {
		fmt.Fprintf(&b, "Packet %d\n", p.ID)
		for _, h := range p.Hops {
			from := fmt.Sprintf("%s [%d]", h.Element, h.Port)
			if h.Port < 0 { // a pull: Element already names the upstream port
				from = h.Element + " (pulled)"
			}
			fmt.Fprintf(&b, "  %12s  %s -> %s  len %d  %s\n", h.At.Round(time.Microsecond), from, h.Next, h.Len, h.Anno)
		}
	}
	return b.String()
}

// TracePackets returns a copy of the traced paths.
func (r *Router) TracePackets() []TracedPacket {
	r.traceMu.Lock()
	t := r.tracer
	r.traceMu.Unlock()
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]TracedPacket, len(t.packets))
	for i, p := range t.packets {
		out[i] = TracedPacket{ID: p.ID, Hops: append([]TraceHop(nil), p.Hops...)}
	}
	return out
}

// TraceClear stops tracing and forgets the trace.
func (r *Router) TraceClear() {
	r.traceMu.Lock()
	r.tracer = nil
	r.traceMu.Unlock()
	r.setTaps(func(*Node, int) core.Tap { return nil })
	r.setPullTaps(nil)
}

// setPullTaps sets the tap of every pull input.
func (r *Router) setPullTaps(tap core.PullTap) {
	for _, n := range r.Nodes {
		n := n
		r.onThread(n.Elem, func() {
			b := n.Elem.Core()
			for p := 0; p < b.NInputs(); p++ {
				if b.Input(p).Kind == core.Pull {
					b.Input(p).Tap = tap
				}
			}
		})
	}
}

// setTaps sets the Tap of every output, each on its element's thread.
func (r *Router) setTaps(tap func(*Node, int) core.Tap) {
	for _, n := range r.Nodes {
		n := n
		r.onThread(n.Elem, func() {
			b := n.Elem.Core()
			for p := 0; p < b.NOutputs(); p++ {
				b.Output(p).Tap = tap(n, p)
			}
		})
	}
}

// SetTap sets one output's tap (nil removes it), on the element's thread.
func (r *Router) SetTap(elem string, port int, tap core.Tap) error {
	n := r.byName[elem]
	if n == nil {
		return &HandlerError{Code: CodeNoElement, Msg: fmt.Sprintf("No element named '%s'", elem)}
	}
	if port < 0 || port >= n.Elem.Core().NOutputs() {
		return fmt.Errorf("'%s' has no output %d", elem, port)
	}
	r.onThread(n.Elem, func() { n.Elem.Core().Output(port).Tap = tap })
	return nil
}

// edgeNames names, for each output, where it leads and, for each input,
// where it comes from (for trace listings).
func (r *Router) edgeNames() (map[*core.Output]string, map[*core.Input]string) {
	m := map[*core.Output]string{}
	in := map[*core.Input]string{}
	for _, c := range r.Conns {
		in[r.Nodes[c.To].Elem.Core().Input(c.ToPort)] = fmt.Sprintf("%s [%d]", r.Nodes[c.From].Decl.Name, c.FromPort)
		out := r.Nodes[c.From].Elem.Core().Output(c.FromPort)
		name := fmt.Sprintf("[%d] %s", c.ToPort, r.Nodes[c.To].Decl.Name)
		if prev, ok := m[out]; ok && !strings.Contains(prev, name) {
			name = prev + ", " + name
		}
		m[out] = name
	}
	return m, in
}
