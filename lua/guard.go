package lua

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// guard enforces a time budget on the calls of one state without creating
// a context per call.
//
// The state gets one cancellable context, installed once (gopher-lua then
// checks ctx.Done() before each VM instruction: a non-blocking channel
// receive, measured in BenchmarkGuardCost). Each guarded call increments
// seq twice (odd while running): two uncontended atomic adds per call and
// no clock read. A single process-wide watchdog goroutine samples every
// guard each tick; when the same odd seq is seen for budget's worth of
// ticks it cancels the state's context, which makes the VM raise an error
// at the next instruction. The next call installs a fresh context.
// A call is stopped between budget and budget+tick after it started (tick =
// budget/4, at least 1ms).
type guard struct {
	L       *glua.LState
	budget  time.Duration
	seq     atomic.Uint64
	tripped atomic.Bool
	cancel  context.CancelFunc

	// watchdog-owned
	lastSeq uint64
	elapsed time.Duration
}

func newGuard(L *glua.LState, budget time.Duration) *guard {
	g := &guard{L: L, budget: budget}
	g.install()
	wd.add(g)
	return g
}

func (g *guard) install() {
	c := &stopCtx{done: make(chan struct{})}
	var once sync.Once
	g.cancel = func() { once.Do(func() { close(c.done) }) }
	g.L.SetContext(c)
	g.tripped.Store(false)
}

// stopCtx is a minimal cancellable context: Done returns the channel
// directly (no atomic.Value load and type assertion as in
// context.WithCancel), since the VM calls it before every instruction.
type stopCtx struct{ done chan struct{} }

func (c *stopCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *stopCtx) Done() <-chan struct{}       { return c.done }
func (c *stopCtx) Value(any) any               { return nil }
func (c *stopCtx) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// begin marks a call start; it re-arms the context after a timeout.
func (g *guard) begin() {
	if g.tripped.Load() {
		g.install()
	}
	g.seq.Add(1)
}

// end marks the call finished.
func (g *guard) end() { g.seq.Add(1) }

// close stops watching the guard.
func (g *guard) close() {
	wd.remove(g)
	g.cancel()
}

// watchdog is the process-wide sampler of guards.
type watchdog struct {
	mu      sync.Mutex
	guards  []*guard
	running bool
	tick    time.Duration
}

var wd = &watchdog{}

// minTick bounds the sampling rate (and so the watchdog's CPU cost).
const minTick = time.Millisecond

func (w *watchdog) add(g *guard) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.guards = append(w.guards, g)
	t := g.budget / 4
	if t < minTick {
		t = minTick
	}
	if w.tick == 0 || t < w.tick {
		w.tick = t
	}
	if !w.running {
		w.running = true
		go w.loop()
	}
}

func (w *watchdog) remove(g *guard) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, x := range w.guards {
		if x == g {
			w.guards = append(w.guards[:i], w.guards[i+1:]...)
			break
		}
	}
}

func (w *watchdog) loop() {
	for {
		w.mu.Lock()
		if len(w.guards) == 0 {
			w.running = false
			w.tick = 0
			w.mu.Unlock()
			return
		}
		tick := w.tick
		w.mu.Unlock()
		t0 := time.Now()
		time.Sleep(tick)
		dt := time.Since(t0)
		w.mu.Lock()
		for _, g := range w.guards {
			s := g.seq.Load()
			if s&1 == 0 || s != g.lastSeq {
				g.lastSeq, g.elapsed = s, 0
				continue
			}
			g.elapsed += dt
			if g.elapsed >= g.budget && !g.tripped.Load() {
				g.tripped.Store(true)
				g.cancel()
			}
		}
		w.mu.Unlock()
	}
}

// setBudget changes the budget of a watched guard.
func (g *guard) setBudget(d time.Duration) {
	wd.mu.Lock()
	g.budget = d
	t := d / 4
	if t < minTick {
		t = minTick
	}
	if t < wd.tick {
		wd.tick = t
	}
	wd.mu.Unlock()
}
