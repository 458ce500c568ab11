// Package elemtest runs one element outside a router for unit tests and
// benchmarks: configure it, push or pull packets, collect what comes out of
// each output, call its handlers.
package elemtest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// Collector is a push sink that keeps what it receives.
type Collector struct {
	Pkts []*packet.Packet
	// Discard makes the collector free packets instead of keeping them
	// (for benchmarks).
	Discard bool
	Count   int
}

// Push implements core.Pusher.
func (c *Collector) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	c.Count += b.N
	if c.Discard {
		ctx.Pool.FreeBatch(b)
		return
	}
	c.Pkts = append(c.Pkts, b.P[:b.N]...)
	b.Reset()
}

// Data returns copies of the collected packets' bytes.
func (c *Collector) Data() [][]byte {
	out := make([][]byte, len(c.Pkts))
	for i, p := range c.Pkts {
		out[i] = append([]byte(nil), p.Data()...)
	}
	return out
}

// Source is a pull source feeding an element's pull input.
type Source struct{ Queue []*packet.Packet }

// Pull implements core.Puller.
func (s *Source) Pull(_ *core.Ctx, _ int, b *packet.Batch, max int) {
	for max > 0 && len(s.Queue) > 0 && b.N < packet.MaxBatch {
		b.P[b.N] = s.Queue[0]
		b.N++
		s.Queue = s.Queue[1:]
		max--
	}
}

// Harness holds one configured element.
type Harness struct {
	T      testing.TB
	Elem   core.Element
	Ctx    *core.Ctx
	Outs   []*Collector
	Srcs   []*Source
	Router *FakeRouter
	pusher core.Pusher // built once, as the runtime does
	puller core.Puller
}

// Options tweak how the element is wired.
type Options struct {
	Inputs, Outputs int
	// PullInputs/PullOutputs resolve agnostic ports as pull (default push).
	PullInputs, PullOutputs bool
	Name                    string
}

// New builds element class with config, nin inputs and nout outputs, all
// agnostic ports resolved as push. It fails the test on any error.
func New(t testing.TB, class, config string, nin, nout int) *Harness {
	t.Helper()
	h, err := Build(t, class, config, Options{Inputs: nin, Outputs: nout})
	if err != nil {
		t.Fatalf("%s(%s): %v", class, config, err)
	}
	return h
}

// Build is New with options, returning configuration errors.
func Build(t testing.TB, class, config string, o Options) (*Harness, error) {
	cls := core.Lookup(class)
	if cls == nil {
		return nil, fmt.Errorf("no element class %q", class)
	}
	e := cls.New()
	b := e.Core()
	name := o.Name
	if name == "" {
		name = "e"
	}
	b.Setup(name, class, config, "test:1:1", o.Inputs, o.Outputs)
	h := &Harness{T: t, Elem: e, Ctx: core.NewCtx(0, nil), Router: &FakeRouter{elems: map[string]core.Element{name: e}}}
	for i := 0; i < o.Inputs; i++ {
		k := core.ProcessingKind(cls.Processing, false, i)
		if k == core.Agnostic {
			k = core.Push
			if o.PullInputs {
				k = core.Pull
			}
		}
		b.Input(i).Kind = k
		src := &Source{}
		h.Srcs = append(h.Srcs, src)
		if k == core.Pull {
			b.Input(i).Connect(src, 0)
		}
	}
	for i := 0; i < o.Outputs; i++ {
		k := core.ProcessingKind(cls.Processing, true, i)
		if k == core.Agnostic {
			k = core.Push
			if o.PullOutputs {
				k = core.Pull
			}
		}
		b.Output(i).Kind = k
		c := &Collector{}
		h.Outs = append(h.Outs, c)
		if k == core.Push {
			b.Output(i).Connect(c, 0)
		}
	}
	if c, ok := e.(core.Configurer); ok {
		if err := c.Configure(core.NewArgs(config)); err != nil {
			return nil, err
		}
	}
	b.SetRouter(h.Router)
	if rs, ok := e.(core.Resolver); ok {
		if err := rs.Resolve(h.Router); err != nil {
			return nil, err
		}
	}
	if in, ok := e.(core.Initializer); ok {
		if err := in.Initialize(h.Router); err != nil {
			return nil, err
		}
	}
	h.pusher, h.puller = core.AsPusher(e), core.AsPuller(e)
	return h, nil
}

// Packet makes a packet holding a copy of data.
func (h *Harness) Packet(data []byte) *packet.Packet { return h.Ctx.Pool.NewFrom(data) }

// Push pushes the given frames as one batch (or several, past MaxBatch)
// into input port.
func (h *Harness) Push(port int, frames ...[]byte) {
	var b packet.Batch
	for _, f := range frames {
		if b.Full() {
			h.PushBatch(port, &b)
		}
		b.Append(h.Packet(f))
	}
	h.PushBatch(port, &b)
}

// PushPackets pushes prepared packets.
func (h *Harness) PushPackets(port int, pkts ...*packet.Packet) {
	var b packet.Batch
	for _, p := range pkts {
		if b.Full() {
			h.PushBatch(port, &b)
		}
		b.Append(p)
	}
	h.PushBatch(port, &b)
}

// PushBatch pushes b into input port and empties it.
func (h *Harness) PushBatch(port int, b *packet.Batch) {
	if b.N == 0 {
		return
	}
	if h.pusher == nil {
		h.T.Fatalf("%s takes no pushes", h.Elem.Core().Class())
	}
	h.pusher.Push(h.Ctx, port, b)
	b.N = 0
}

// Pull pulls up to max packets from output port.
func (h *Harness) Pull(port, max int) []*packet.Packet {
	var b packet.Batch
	if h.puller == nil {
		h.T.Fatalf("%s serves no pulls", h.Elem.Core().Class())
	}
	h.puller.Pull(h.Ctx, port, &b, max)
	return append([]*packet.Packet(nil), b.P[:b.N]...)
}

// RunTask runs the element's task once.
func (h *Harness) RunTask() bool {
	t, ok := h.Elem.(core.Tasker)
	if !ok {
		h.T.Fatalf("%s is not a task", h.Elem.Core().Class())
	}
	return t.RunTask(h.Ctx)
}

// FireTimers runs every timer the element registered that is due at now.
func (h *Harness) FireTimers(now int64) {
	h.Ctx.Now = now
	for _, t := range h.Router.Timers {
		if t.Scheduled() && t.When() <= now {
			t.ScheduleAt(0)
			t.Fn(h.Ctx)
		}
	}
}

// Handler finds a handler of the element by name.
func (h *Harness) Handler(name string) (core.Handler, bool) {
	hp, ok := h.Elem.(core.HandlerProvider)
	if !ok {
		return core.Handler{}, false
	}
	for _, x := range hp.Handlers() {
		if x.Name == name {
			return x, true
		}
	}
	return core.Handler{}, false
}

// Read calls a read handler and fails the test on error.
func (h *Harness) Read(name string, arg ...string) string {
	h.T.Helper()
	x, ok := h.Handler(name)
	if !ok || x.Read == nil {
		h.T.Fatalf("no read handler %q", name)
	}
	v, err := x.Read(strings.Join(arg, " "))
	if err != nil {
		h.T.Fatalf("read %s: %v", name, err)
	}
	return v
}

// Write calls a write handler and returns its error.
func (h *Harness) Write(name, value string) error {
	x, ok := h.Handler(name)
	if !ok || x.Write == nil {
		return fmt.Errorf("no write handler %q", name)
	}
	return x.Write(value)
}

// FakeRouter is a minimal core.Router for unit tests.
type FakeRouter struct {
	mu       sync.Mutex
	elems    map[string]core.Element
	Stopped  bool
	Stoppers int
	Logs     []string
	Timers   []*core.Timer
	Writes   []string
}

func (r *FakeRouter) Find(_ core.Element, name string) core.Element { return r.elems[name] }

// AddElement makes another element findable by name.
func (r *FakeRouter) AddElement(name string, e core.Element) { r.elems[name] = e }

func (r *FakeRouter) Elements() []core.Element {
	var out []core.Element
	for _, e := range r.elems {
		out = append(out, e)
	}
	return out
}
func (r *FakeRouter) StopperDone(core.Element) { r.Stoppers++ }
func (r *FakeRouter) Stop()                    { r.Stopped = true }
func (r *FakeRouter) Logf(e core.Element, f string, a ...any) {
	r.mu.Lock()
	r.Logs = append(r.Logs, e.Core().Name()+": "+fmt.Sprintf(f, a...))
	r.mu.Unlock()
}
func (r *FakeRouter) CallWrite(_ core.Element, handler, value string) error {
	r.Writes = append(r.Writes, handler+" "+value)
	return nil
}
func (r *FakeRouter) AddTimer(_ core.Element, t *core.Timer) { r.Timers = append(r.Timers, t) }
