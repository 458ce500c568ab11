package runtime

import (
	"context"
	"fmt"
	"sync"

	"flowbox/appliance/core"
	"flowbox/appliance/lang"
)

// Runner runs a router and replaces it with a new configuration on demand
// (hot reconfiguration). Handler calls go to whichever router is current.
type Runner struct {
	mu    sync.RWMutex
	cur   *Router
	build BuildOptions
	swaps chan *swapRequest
	// Swaps counts completed reconfigurations.
	Swaps int
}

type swapRequest struct {
	next *Router
	done chan SwapReport
}

// SwapReport says what a reconfiguration did.
type SwapReport struct {
	Kept    []string // elements whose state moved to the new graph
	Added   []string // new elements
	Removed []string // elements gone from the new graph
	Lost    int      // packets held by removed elements, freed
}

// NewRunner wraps a built router.
func NewRunner(r *Router, opt BuildOptions) *Runner {
	return &Runner{cur: r, build: opt, swaps: make(chan *swapRequest)}
}

// Router returns the current router.
func (rn *Runner) Router() *Router {
	rn.mu.RLock()
	defer rn.mu.RUnlock()
	return rn.cur
}

// Read and Write call handlers on the current router.
func (rn *Runner) Read(spec, arg string) (string, error) { return rn.Router().Read(spec, arg) }
func (rn *Runner) Write(spec, value string) error        { return rn.Router().Write(spec, value) }

// Run runs until ctx ends, a Stop, or STOP sources finish and drain;
// reconfigurations requested by Reload happen in between.
func (rn *Runner) Run(ctx context.Context, opt RunOptions) error {
	r := rn.Router()
	r.start(opt)
	for {
		req := r.watch(ctx, opt.MaxDrain, rn.swaps)
		r.halt()
		if req == nil {
			r.cleanup(nil)
			return nil
		}
		report, keep := transferState(r, req.next)
		r.cleanup(keep)
		rn.mu.Lock()
		rn.cur = req.next
		rn.Swaps++
		rn.mu.Unlock()
		r = req.next
		r.start(opt)
		req.done <- report
	}
}

// Reload builds g beside the running graph and swaps to it at a batch
// boundary. If the new configuration does not build, the running graph is
// untouched and the error (with file:line:col) is returned: that is the
// rollback. It must be called while Run is running.
func (rn *Runner) Reload(ctx context.Context, g *lang.Graph) (SwapReport, error) {
	next, err := Build(g, rn.build)
	if err != nil {
		return SwapReport{}, err
	}
	req := &swapRequest{next: next, done: make(chan SwapReport, 1)}
	select {
	case rn.swaps <- req:
	case <-ctx.Done():
		next.cleanup(nil)
		return SwapReport{}, ctx.Err()
	}
	return <-req.done, nil
}

// transferState hands each element's state to the element of the same
// name and class in the new graph (queued packets, counters, tables,
// open devices). Elements with no counterpart are removed; the packets
// they held are counted as lost.
func transferState(old, next *Router) (SwapReport, map[core.Element]bool) {
	var rep SwapReport
	keep := map[core.Element]bool{}
	for _, n := range next.Nodes {
		o := old.byName[n.Decl.Name]
		if o == nil || o.Decl.Class != n.Decl.Class {
			rep.Added = append(rep.Added, n.Decl.Name)
			continue
		}
		if st, ok := n.Elem.(core.StateTaker); ok {
			func() {
				defer func() {
					if p := recover(); p != nil {
						next.Logf(n.Elem, "internal error taking state: %v", p)
					}
				}()
				st.TakeState(o.Elem)
			}()
			keep[o.Elem] = true
		}
		rep.Kept = append(rep.Kept, n.Decl.Name)
	}
	for _, o := range old.Nodes {
		if n := next.byName[o.Decl.Name]; n == nil || n.Decl.Class != o.Decl.Class {
			rep.Removed = append(rep.Removed, o.Decl.Name)
			rep.Lost += heldPackets(o.Elem)
		}
	}
	return rep, keep
}

// heldPackets asks an element how many packets it still holds (queues
// expose it through their `length` handler).
func heldPackets(e core.Element) int {
	hp, ok := e.(core.HandlerProvider)
	if !ok {
		return 0
	}
	for _, h := range hp.Handlers() {
		if h.Name == "length" && h.Read != nil {
			v, err := h.Read("")
			if err != nil {
				return 0
			}
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	return 0
}
