package runtime

import (
	"time"

	"flowbox/appliance/core"
)

// ElementStats is a consistent snapshot of one element's counters, taken
// on its worker thread (so reading it never races the packet path).
type ElementStats struct {
	Name    string
	Class   string
	Thread  int
	Outputs []uint64 // packets pushed out of each output port
	Drops   uint64   // packets the element dropped
	At      time.Time
}

// Stats snapshots every element's port counters and drops.
func (r *Router) Stats() []ElementStats {
	out := make([]ElementStats, len(r.Nodes))
	for i, n := range r.Nodes {
		i, n := i, n
		r.onThread(n.Elem, func() {
			b := n.Elem.Core()
			s := ElementStats{Name: n.Decl.Name, Class: n.Decl.Class, Thread: b.Thread(), Drops: b.Drops, At: time.Now()}
			s.Outputs = make([]uint64, b.NOutputs())
			for p := range s.Outputs {
				s.Outputs[p] = b.Output(p).Packets
			}
			out[i] = s
		})
	}
	return out
}

// ClearCounters zeroes every element's port counters and drops, and calls
// each element's `reset`/`reset_counts` write handler when it has one.
func (r *Router) ClearCounters() {
	for _, n := range r.Nodes {
		n := n
		r.onThread(n.Elem, func() {
			b := n.Elem.Core()
			b.Drops = 0
			for p := 0; p < b.NOutputs(); p++ {
				b.Output(p).Packets = 0
			}
		})
		for _, h := range r.Handlers(n) {
			if (h.Name == "reset_counts" || h.Name == "reset") && h.Write != nil {
				r.onThread(n.Elem, func() { _ = callWrite(h, "") })
				break
			}
		}
	}
}

// OnThread runs f on element e's worker thread between batches (or inline
// when the graph is not running) and waits for it. Control-plane code uses
// it to touch element state without racing the packet path.
func (r *Router) OnThread(e core.Element, f func()) { r.onThread(e, f) }
