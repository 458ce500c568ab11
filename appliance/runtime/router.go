package runtime

import (
	"context"
	"fmt"
	"sync"
	"time"

	"flowbox/appliance/core"
)

// StopperDone implements core.Router.
func (r *Router) StopperDone(e core.Element) {
	s := r.sched
	s.mu.Lock()
	s.done[e] = true
	all := len(s.done) >= s.stoppers
	s.mu.Unlock()
	if all {
		s.finished.Store(time.Now().UnixNano())
		s.draining.Store(true)
	}
}

// StoppersFinished is when the last STOP source finished (zero if not yet):
// benchmarks time runs up to this point, excluding drain detection.
func (r *Router) StoppersFinished() time.Time {
	if ns := r.sched.finished.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Stop implements core.Router: the run ends as soon as possible.
func (r *Router) Stop() {
	r.sched.stopOnce.Do(func() { close(r.sched.stopCh) })
}

// Logf implements core.Router.
func (r *Router) Logf(e core.Element, format string, args ...any) {
	name := "router"
	if e != nil {
		name = e.Core().Name()
	}
	r.Log(name + ": " + fmt.Sprintf(format, args...))
}

// CallWrite implements core.Router. Called from the packet path (e.g.
// Counter's COUNT_CALL) it runs inline: we are already on a worker thread.
func (r *Router) CallWrite(from core.Element, handler, value string) error {
	_, h, err := r.findHandler(from, handler)
	if err != nil {
		return err
	}
	if h.Write == nil {
		return &HandlerError{Code: CodeNoHandler, Msg: fmt.Sprintf("handler '%s' is not writable", handler)}
	}
	return h.Write(value)
}

// AddTimer implements core.Router.
func (r *Router) AddTimer(e core.Element, t *core.Timer) {
	w := r.sched.workers[e.Core().Thread()%len(r.sched.workers)]
	t.Attach(w)
	if t.Scheduled() {
		w.UpdateTimer(t)
	}
}

// Running reports whether the graph is running.
func (r *Router) Running() bool { return r.sched.running.Load() }

// RunOptions control a run.
type RunOptions struct {
	// Pin pins worker threads to CPUs: worker i on CPUs[i mod len(CPUs)],
	// or on the i-th CPU (mod count) of the process's affinity mask when
	// CPUs is empty, so `taskset` and cgroup limits are respected.
	Pin bool
	// CPUs lists the CPUs workers are pinned to (boot.toml graph.cpus).
	CPUs []int
	// MaxDrain bounds how long the graph may take to drain after every
	// STOP source finished (default 5s).
	MaxDrain time.Duration
}

// Run runs the graph until ctx is cancelled, Stop is called, or every
// STOP source has finished and the graph has drained. Elements' Cleanup
// runs afterwards (flushing outputs such as ToDump). To run with hot
// reconfiguration, use a Runner.
func (r *Router) Run(ctx context.Context, opt RunOptions) error {
	r.start(opt)
	r.watch(ctx, opt.MaxDrain, nil)
	r.halt()
	r.cleanup(nil)
	return nil
}

// start launches the workers.
func (r *Router) start(opt RunOptions) {
	s := r.sched
	s.pin = opt.Pin
	s.cpus = opt.CPUs
	if s.pin && len(s.cpus) == 0 {
		s.cpus = allowedCPUs() // stay inside an inherited mask (taskset, cgroups)
	}
	s.prepare()
	// Handler calls made before this point ran inline; the lock makes
	// sure none is still running when the workers start.
	s.stateMu.Lock()
	s.running.Store(true)
	for _, w := range s.workers {
		s.wg.Add(1)
		go func(w *worker) {
			defer s.wg.Done()
			w.loop()
		}(w)
	}
	s.stateMu.Unlock()
}

// halt stops the workers at a batch boundary and waits for them: after it
// returns no packet is inside a push or pull path, only in element state
// (queues, reassembly buffers).
func (r *Router) halt() {
	s := r.sched
	s.stopping.Store(true)
	s.wg.Wait()
	s.stateMu.Lock()
	s.running.Store(false)
	s.stateMu.Unlock()
}

// watch returns when the run should end, or when a swap is requested on
// swaps (then it returns the request).
func (r *Router) watch(ctx context.Context, maxDrain time.Duration, swaps <-chan *swapRequest) *swapRequest {
	if maxDrain == 0 {
		maxDrain = 5 * time.Second
	}
	s := r.sched
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var drainStart time.Time
	quiet := 0
	seen := make([]uint64, len(s.workers))
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.stopCh:
			return nil
		case req := <-swaps:
			return req
		case <-tick.C:
		}
		if !s.draining.Load() {
			continue
		}
		if drainStart.IsZero() {
			drainStart = time.Now()
		}
		if allIdleSince(s.workers, seen) {
			quiet++
		} else {
			quiet = 0
		}
		if quiet >= 3 || time.Since(drainStart) > maxDrain {
			return nil
		}
	}
}

// allIdleSince reports whether every worker is idle and has run at least
// one pass since the last check (seen holds the pass counts then). A worker
// that is asleep or starved of CPU keeps an old idle flag; counting it as
// quiet would end the run with packets still queued.
func allIdleSince(ws []*worker, seen []uint64) bool {
	quiet := true
	for i, w := range ws {
		p := w.passes.Load()
		if !w.idle.Load() || p == seen[i] {
			quiet = false
		}
		seen[i] = p
	}
	return quiet
}

// cleanup runs Cleanup on every element except those in keep (taken over
// by a new graph in a hot reconfiguration).
func (r *Router) cleanup(keep map[core.Element]bool) {
	ctx := r.sched.workers[0].ctx
	for _, n := range r.Nodes {
		if keep[n.Elem] {
			continue
		}
		if c, ok := n.Elem.(core.Cleaner); ok {
			func() {
				defer func() {
					if p := recover(); p != nil {
						r.Logf(n.Elem, "internal error during cleanup: %v", p)
					}
				}()
				c.Cleanup(ctx)
			}()
		}
	}
}

// onThread runs f on element e's worker thread when the graph is running
// (between batches), or directly otherwise, and waits for it.
func (r *Router) onThread(e core.Element, f func()) {
	s := r.sched
	s.stateMu.RLock()
	if !s.running.Load() {
		f()
		s.stateMu.RUnlock()
		return
	}
	s.stateMu.RUnlock()
	w := s.workers[e.Core().Thread()%len(s.workers)]
	var once sync.Once
	done := make(chan struct{})
	job := func() { once.Do(func() { defer close(done); f() }) }
	w.nmail.Add(1)
	select {
	case w.mail <- job:
	case <-s.stopCh:
		w.nmail.Add(-1)
		s.wg.Wait()
		job()
		return
	}
	select {
	case <-done:
	case <-s.stopCh:
		// The worker may have exited before reading the mail: run it here
		// once every worker is gone (once makes a double run impossible).
		s.wg.Wait()
		job()
		<-done
	}
}

// Ctx returns worker 0's context (for control-plane packet work while
// stopped, e.g. tests).
func (r *Router) Ctx() *core.Ctx { return r.sched.workers[0].ctx }
