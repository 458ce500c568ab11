package core

import (
	"time"

	"flowbox/appliance/packet"
)

// PortKind is the resolved processing kind of a port.
type PortKind uint8

const (
	Agnostic PortKind = iota
	Push
	Pull
)

func (k PortKind) String() string {
	switch k {
	case Push:
		return "push"
	case Pull:
		return "pull"
	}
	return "agnostic"
}

// Output is one output port of an element. For a push output it leads to
// the downstream element's push input; pushing on an unconnected output
// frees the packets.
type Output struct {
	next     Pusher
	nextPort int
	Kind     PortKind
	Packets  uint64 // packets pushed through this port (push outputs)
	// Tap, when set, sees every batch before it moves on (packet tracing,
	// pcap taps). It is nil in normal operation: one check per batch.
	Tap   Tap
	owner *Base
	port  int
}

// Tap observes batches crossing an output (it must not keep or modify
// the packets; clone what it needs).
type Tap interface {
	Observe(ctx *Ctx, from *Base, port int, b *packet.Batch)
}

// Connect points a push output at a downstream input (used by the runtime).
func (o *Output) Connect(next Pusher, port int) { o.next, o.nextPort = next, port }

// Connected reports whether the output leads somewhere.
func (o *Output) Connected() bool { return o.next != nil }

// Push sends b downstream and leaves b empty. Ownership of the packets
// moves to the downstream element.
func (o *Output) Push(ctx *Ctx, b *packet.Batch) {
	if b.N == 0 {
		return
	}
	o.Packets += uint64(b.N)
	if o.Tap != nil {
		o.observe(ctx, b)
	}
	if o.next == nil {
		ctx.Pool.FreeBatch(b)
		return
	}
	o.next.Push(ctx, o.nextPort, b)
	b.N = 0
}

// observe is kept out of line so Push stays small enough to inline.
func (o *Output) observe(ctx *Ctx, b *packet.Batch) {
	o.Tap.Observe(ctx, o.owner, o.port, b)
}

// Input is one input port. For a pull input it leads to the upstream
// element's pull output.
type Input struct {
	prev     Puller
	prevPort int
	Kind     PortKind
	// Tap, when set, sees every packet pulled through this input.
	Tap   PullTap
	owner *Base
	port  int
}

// PullTap observes packets pulled through an input (tracing).
type PullTap interface {
	ObservePull(ctx *Ctx, to *Base, port int, pkts []*packet.Packet)
}

// Connect points a pull input at an upstream output (used by the runtime).
func (in *Input) Connect(prev Puller, port int) { in.prev, in.prevPort = prev, port }

// Connected reports whether the input has an upstream.
func (in *Input) Connected() bool { return in.prev != nil }

// Pull appends up to max packets from upstream to b and returns how many
// were added.
func (in *Input) Pull(ctx *Ctx, b *packet.Batch, max int) int {
	if in.prev == nil {
		return 0
	}
	if room := packet.MaxBatch - b.N; max > room {
		max = room
	}
	n := b.N
	in.prev.Pull(ctx, in.prevPort, b, max)
	if in.Tap != nil && b.N > n {
		in.Tap.ObservePull(ctx, in.owner, in.port, b.P[n:b.N])
	}
	return b.N - n
}

// Base is embedded in every element. The runtime fills it in.
type Base struct {
	name     string
	class    string
	config   string
	landmark string // "file:line:col" of the declaration
	ins      []Input
	outs     []Output
	scratch  []packet.Batch // one per output, for elements that split batches
	task     bool
	stopper  bool
	thread   int
	router   Router
	Drops    uint64 // packets this element dropped (malformed, policy, full)
}

// Core returns the Base itself (it makes every embedding type an Element).
func (b *Base) Core() *Base { return b }

// Name is the element's full name (outer/inner inside compounds).
func (b *Base) Name() string { return b.name }

// Class is the element's class name.
func (b *Base) Class() string { return b.class }

// Config is the configuration string as written.
func (b *Base) Config() string { return b.config }

// Landmark is "file:line:col" of the element's declaration.
func (b *Base) Landmark() string { return b.landmark }

// NInputs and NOutputs are the port counts in use.
func (b *Base) NInputs() int  { return len(b.ins) }
func (b *Base) NOutputs() int { return len(b.outs) }

// Input returns input port i.
func (b *Base) Input(i int) *Input { return &b.ins[i] }

// Output returns output port i.
func (b *Base) Output(i int) *Output { return &b.outs[i] }

// Scratch returns a per-output scratch batch for splitting.
func (b *Base) Scratch(i int) *packet.Batch { return &b.scratch[i] }

// Emit appends p to output i's scratch batch, pushing it when full.
func (b *Base) Emit(ctx *Ctx, i int, p *packet.Packet) {
	s := &b.scratch[i]
	s.P[s.N] = p
	s.N++
	if s.N == packet.MaxBatch {
		b.outs[i].Push(ctx, s)
	}
}

// Flush pushes every non-empty scratch batch, in port order.
func (b *Base) Flush(ctx *Ctx) {
	for i := range b.scratch {
		if b.scratch[i].N > 0 {
			b.outs[i].Push(ctx, &b.scratch[i])
		}
	}
}

// Reject sends p to output 1 when the element has one (Click's optional
// error output, as in "1/1-2 a/ah" elements) and drops it otherwise. It
// is buffered like Emit; the Processor adapters flush it.
func (b *Base) Reject(ctx *Ctx, p *packet.Packet) {
	if len(b.outs) > 1 {
		b.Emit(ctx, 1, p)
		return
	}
	b.Drop(ctx, p)
}

// Drop frees p and counts it as dropped by this element.
func (b *Base) Drop(ctx *Ctx, p *packet.Packet) {
	b.Drops++
	ctx.Pool.Free(p)
}

// ScheduleTask marks the element as a task (it must implement Tasker).
func (b *Base) ScheduleTask() { b.task = true }

// SetStopper declares the element a STOP source (call in Configure when
// STOP is true): the run ends once every stopper has called
// Router().StopperDone and the graph has drained.
func (b *Base) SetStopper() { b.stopper = true }

// IsStopper reports whether the element declared itself a STOP source.
func (b *Base) IsStopper() bool { return b.stopper }

// IsTask reports whether the element asked to be scheduled.
func (b *Base) IsTask() bool { return b.task }

// Thread is the worker thread the element is assigned to.
func (b *Base) Thread() int { return b.thread }

// Router returns the graph the element lives in (nil before Initialize).
func (b *Base) Router() Router { return b.router }

// Setup is called by the runtime before Configure.
func (b *Base) Setup(name, class, config, landmark string, nin, nout int) {
	b.name, b.class, b.config, b.landmark = name, class, config, landmark
	b.ins = make([]Input, nin)
	b.outs = make([]Output, nout)
	for i := range b.outs {
		b.outs[i].owner, b.outs[i].port = b, i
	}
	for i := range b.ins {
		b.ins[i].owner, b.ins[i].port = b, i
	}
	b.scratch = make([]packet.Batch, nout)
}

// SetRouter and SetThread are called by the runtime.
func (b *Base) SetRouter(r Router) { b.router = r }
func (b *Base) SetThread(t int)    { b.thread = t }

// SetConfig records a new configuration string (live reconfiguration).
func (b *Base) SetConfig(c string) { b.config = c }

// Timer calls fn on the owning element's worker thread at a set time.
type Timer struct {
	Fn    func(ctx *Ctx)
	when  int64
	Index int // heap position, managed by the scheduler; -1 when idle
	q     TimerQueue
}

// TimerQueue is implemented by the scheduler that owns a timer.
type TimerQueue interface {
	UpdateTimer(t *Timer)
}

// NewTimer returns an unscheduled timer that runs fn.
func NewTimer(fn func(ctx *Ctx)) *Timer { return &Timer{Fn: fn, Index: -1} }

// Every registers a timer owned by e (call from Initialize) that runs fn
// at once and then every interval nanoseconds of the worker's clock, so it
// works with real and simulated time alike; with interval <= 0 it never
// fires. Elements use it for housekeeping such as expiring idle flows.
func Every(rt Router, e Element, interval int64, fn func(ctx *Ctx)) *Timer {
	var t *Timer
	t = NewTimer(func(ctx *Ctx) {
		fn(ctx)
		t.ScheduleAt(ctx.Now + interval)
	})
	rt.AddTimer(e, t)
	if interval > 0 {
		t.ScheduleAt(1)
	}
	return t
}

// Attach binds the timer to its scheduler (used by the runtime).
func (t *Timer) Attach(q TimerQueue) { t.q = q }

// When is the scheduled expiry in Unix nanoseconds (0 if idle).
func (t *Timer) When() int64 { return t.when }

// ScheduleAt arms the timer for Unix-nanosecond time at.
func (t *Timer) ScheduleAt(at int64) {
	t.when = at
	if t.q != nil {
		t.q.UpdateTimer(t)
	}
}

// ScheduleAfter arms the timer d after now.
func (t *Timer) ScheduleAfter(now int64, d time.Duration) { t.ScheduleAt(now + int64(d)) }

// Unschedule disarms the timer.
func (t *Timer) Unschedule() { t.ScheduleAt(0) }

// Scheduled reports whether the timer is armed.
func (t *Timer) Scheduled() bool { return t.when != 0 }
