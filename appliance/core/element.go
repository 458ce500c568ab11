// Package core defines what an element is: the interfaces an element
// implements, its Base (ports, name, handlers, timers), the class registry
// and Click-style argument parsing. The router (package runtime) builds
// graphs of elements; element packages import core and packet only.
//
// Packet-path contract:
//   - A push input receives a *packet.Batch via Push. The callee takes
//     ownership of every packet in it and may reorder, compact or reuse the
//     batch struct itself; the caller treats the batch as empty afterwards.
//   - A pull output is served by Pull, which appends up to max packets to b.
//   - Everything runs on the worker thread that owns the element: handler
//     calls from the control plane are delivered between batches, so element
//     state needs no locks (only elements that cross threads, like Queue,
//     use atomics).
package core

import (
	"fmt"
	"strings"

	"flowbox/appliance/packet"
)

// Ctx is the per-worker context passed down the packet path.
type Ctx struct {
	Pool   *packet.Pool
	Now    int64 // Unix nanoseconds at the start of the current batch
	Thread int
	rng    uint64
}

// NewCtx returns a context for thread id with its own pool.
func NewCtx(thread int, depot *packet.Depot) *Ctx {
	return &Ctx{Pool: packet.NewPool(depot), Thread: thread, rng: 0x9e3779b97f4a7c15 ^ uint64(thread+1)*0xbf58476d1ce4e5b9}
}

// Rand returns a fast per-worker pseudo-random number (xorshift64*).
func (c *Ctx) Rand() uint64 {
	x := c.rng
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	c.rng = x
	return x * 2685821657736338717
}

// Element is anything embedding core.Base.
type Element interface {
	Core() *Base
}

// Configurer parses the element's configuration arguments. It runs after the
// port counts are known (NInputs/NOutputs) and before port kinds are known.
type Configurer interface {
	Configure(a *Args) error
}

// Initializer runs once the graph is connected and push/pull is resolved.
type Initializer interface {
	Initialize(r Router) error
}

// Resolver is implemented by elements whose arguments name other elements
// or handlers (COUNT_CALL, END_CALL, ICMPRewriter's MAPS). Resolve checks
// those names once every element is configured and connected, acquiring
// nothing, so that `flowbox check` reports them too; it runs before
// Initialize, which may rely on it having passed.
type Resolver interface {
	Resolve(r Router) error
}

// Pusher accepts pushed batches on its push inputs.
type Pusher interface {
	Push(ctx *Ctx, port int, b *packet.Batch)
}

// Puller serves pull requests on its pull outputs by appending up to max
// packets to b.
type Puller interface {
	Pull(ctx *Ctx, port int, b *packet.Batch, max int)
}

// Processor is the easy form for agnostic elements with one input that
// transform a batch in place: they may drop packets (Base.Drop) or divert
// them to an error output (Base.Reject, Base.Emit). The runtime adapts it
// to both push and pull: what stays in the batch leaves on output 0, and
// the other outputs' scratch batches are flushed after each batch.
type Processor interface {
	Process(ctx *Ctx, b *packet.Batch)
}

// Tasker is an element that does work when scheduled (sources, Unqueue,
// ToDevice, a Discard in pull context). It is scheduled only if it called
// Base.ScheduleTask during Configure or Initialize. RunTask reports whether
// it did any work; idle tasks are polled less often.
type Tasker interface {
	RunTask(ctx *Ctx) bool
}

// HandlerProvider lists the element's own handlers.
type HandlerProvider interface {
	Handlers() []Handler
}

// Cleaner flushes and releases resources at the end of a run.
type Cleaner interface {
	Cleanup(ctx *Ctx)
}

// StateTaker carries state across a hot reconfiguration from the element
// of the same name (and class) in the old graph.
type StateTaker interface {
	TakeState(old Element)
}

// NonFullNotifier is implemented by queues: sources upstream of a full
// queue stop being scheduled until it drains (Click's FullNoteQueue).
type NonFullNotifier interface {
	NonFull() bool
}

// Router is what elements may ask of the running graph.
type Router interface {
	// Find returns the element named name, resolving it relative to the
	// asking element's compound first (Click's rule), or nil.
	Find(from Element, name string) Element
	// Elements lists every element in configuration order.
	Elements() []Element
	// StopperDone tells the router a STOP source has finished; the run ends
	// once every stopper has finished and the graph has drained.
	StopperDone(e Element)
	// Stop asks the driver to stop now.
	Stop()
	// Logf writes an element message to the router's log (stderr).
	Logf(e Element, format string, args ...any)
	// CallWrite invokes a write handler "elem.handler" (for COUNT_CALL etc.).
	CallWrite(from Element, handler, value string) error
	// AddTimer registers a timer owned by e (call from Initialize).
	AddTimer(e Element, t *Timer)
}

// HandlerKinder is the part of a router that tells whether a handler
// exists and how it can be used (the runtime's router has it; test fakes
// may not).
type HandlerKinder interface {
	HandlerKind(spec string) (readable, writable bool, err error)
}

// CheckWriteHandler checks at initialization that spec ("elem.handler",
// "N.handler" or a global "handler") names a write handler, as Click's
// HandlerCall does; the element part resolves relative to from's compound,
// as CallWrite does. Routers that cannot tell (no HandlerKinder) pass.
func CheckWriteHandler(r Router, from Element, spec string) error {
	hk, ok := r.(HandlerKinder)
	if !ok {
		return nil
	}
	full := spec
	if i := strings.LastIndexByte(spec, '.'); i >= 0 {
		if e := r.Find(from, spec[:i]); e != nil {
			full = e.Core().Name() + spec[i:]
		}
	}
	_, w, err := hk.HandlerKind(full)
	if err != nil {
		return err
	}
	if !w {
		return fmt.Errorf("handler '%s' is not writable", spec)
	}
	return nil
}
