package standard

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// maxQueueCapacity bounds CAPACITY so a typo cannot allocate gigabytes.
const maxQueueCapacity = 1 << 24

// ring is the storage of a queue. Its size is a power of two; logical
// positions grow forever and are masked into slots.
type ring struct {
	slots []*packet.Packet
	mask  uint64
}

func newRing(capacity int) *ring {
	n := 1
	for n < capacity {
		n <<= 1
	}
	return &ring{slots: make([]*packet.Packet, n), mask: uint64(n - 1)}
}

// fifo is a single-producer/single-consumer packet ring shared by Queue
// and SimpleQueue. The producer (Push, on one worker) owns tail and the
// ring pointer; the consumer (Pull, possibly on another worker) owns head.
// Each side publishes with one atomic store per batch and never writes
// what the other owns, so no locks are needed:
//   - the producer writes slots, then stores tail;
//   - the consumer loads tail, then the ring, then reads slots, and never
//     writes a slot, so a producer growing the ring may copy slots the
//     consumer is still reading.
//
// Control operations that remove packets (capacity shrink, reset) are
// requests that the consumer carries out on its next pull, because only
// the consumer may move head.
type fifo struct {
	core.Base
	head      atomic.Uint64 // consumer
	_         [56]byte      // keep head and tail on separate cache lines
	tail      atomic.Uint64 // producer
	_         [56]byte
	rng       atomic.Pointer[ring]
	capacity  atomic.Int64
	highwater atomic.Int64
	drops     atomic.Uint64 // tail drops (producer) and trims (consumer)
	flush     atomic.Bool   // reset requested: the consumer empties the queue
	leftover  []*packet.Packet
	dropOut   *core.Output // output 1 when present, for tail drops
}

var queueArgs = []core.Item{{Name: "CAPACITY", Text: "integer >= 0: most packets held (default 1000)"}}

var queueHandlers = []core.Item{
	{Name: "length", Text: "read: packets queued"},
	{Name: "highwater_length", Text: "read: most packets queued since the last reset_counts"},
	{Name: "capacity", Text: "read/write: CAPACITY; shrinking drops the oldest excess at the next pull"},
	{Name: "drops", Text: "read: packets dropped (full queue, shrink, reset)"},
	{Name: "reset_counts", Text: "write: zero drops and highwater_length"},
	{Name: "reset", Text: "write: drop every queued packet (at the next pull)"},
}

const queueDescription = `Stores pushed packets in a FIFO and hands them out on pull. When full, the
packets that do not fit (tail drops) go to output 1 if it is connected,
otherwise they are freed; either way they are counted in drops.

The queue is a lock-free single-producer/single-consumer ring: the pushing
and the pulling element may run on different worker threads. Capacity
changes and reset take effect for the producer immediately and are carried
out by the consumer side (which drops the oldest packets) at its next pull.
A hot reconfiguration moves the packets of the old queue into the new one.`

func (q *fifo) Configure(a *core.Args) error {
	capacity := 1000
	if err := a.Parse(core.Pos("CAPACITY", core.Int(&capacity))); err != nil {
		return err
	}
	if err := checkCapacity(capacity); err != nil {
		return fmt.Errorf("CAPACITY: %w", err)
	}
	q.capacity.Store(int64(capacity))
	q.rng.Store(newRing(capacity))
	return nil
}

func checkCapacity(c int) error {
	if c < 0 || c > maxQueueCapacity {
		return fmt.Errorf("must be between 0 and %d", maxQueueCapacity)
	}
	return nil
}

func (q *fifo) Initialize(core.Router) error {
	if q.NOutputs() > 1 {
		q.dropOut = q.Output(1)
	}
	return nil
}

// Len is the number of packets queued.
func (q *fifo) Len() int { return int(q.tail.Load() - q.head.Load()) }

func (q *fifo) nonFull() bool { return int64(q.Len()) < q.capacity.Load() }

// Push enqueues what fits and tail-drops the rest (producer side).
func (q *fifo) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	q.freeLeftover(ctx)
	tail, head := q.tail.Load(), q.head.Load()
	capacity := q.capacity.Load()
	r := q.producerRing(capacity, head, tail)
	n := int(min(max(capacity-int64(tail-head), 0), int64(b.N)))
	for i, p := range b.P[:n] {
		r.slots[(tail+uint64(i))&r.mask] = p
	}
	q.tail.Store(tail + uint64(n))
	if l := int64(tail + uint64(n) - head); l > q.highwater.Load() {
		q.highwater.Store(l)
	}
	if n < b.N {
		q.tailDrop(ctx, b, n)
	}
}

// producerRing returns the ring, first growing it if the capacity was
// raised past its size. Only the producer replaces the ring; it copies the
// live slots to the same logical positions and publishes the new ring
// before the tail that makes new packets visible.
func (q *fifo) producerRing(capacity int64, head, tail uint64) *ring {
	r := q.rng.Load()
	if capacity <= int64(len(r.slots)) {
		return r
	}
	nr := newRing(int(capacity))
	for i := head; i != tail; i++ {
		nr.slots[i&nr.mask] = r.slots[i&r.mask]
	}
	q.rng.Store(nr)
	return nr
}

// tailDrop disposes of b.P[kept:], the packets that did not fit.
func (q *fifo) tailDrop(ctx *core.Ctx, b *packet.Batch, kept int) {
	n := copy(b.P[:], b.P[kept:b.N])
	clear(b.P[n:b.N])
	b.N = n
	q.drops.Add(uint64(n))
	if q.dropOut != nil {
		q.dropOut.Push(ctx, b)
		return
	}
	ctx.Pool.FreeBatch(b)
}

// Pull dequeues up to max packets (consumer side).
func (q *fifo) Pull(ctx *core.Ctx, _ int, b *packet.Batch, max int) {
	if max <= 0 {
		return
	}
	tail := q.tail.Load()
	r := q.rng.Load() // after tail: a ring at least as new as the slots tail covers
	head := q.trim(ctx, r, q.head.Load(), tail)
	n := int(min(tail-head, uint64(max), uint64(packet.MaxBatch-b.N)))
	for i := 0; i < n; i++ {
		b.P[b.N+i] = r.slots[(head+uint64(i))&r.mask]
	}
	b.N += n
	q.head.Store(head + uint64(n))
}

// trim carries out pending reset and shrink requests by dropping from the
// head, and returns the new head.
func (q *fifo) trim(ctx *core.Ctx, r *ring, head, tail uint64) uint64 {
	keep := uint64(max(q.capacity.Load(), 0))
	if q.flush.Swap(false) {
		keep = 0
	}
	if tail-head <= keep {
		return head
	}
	for ; tail-head > keep; head++ {
		ctx.Pool.Free(r.slots[head&r.mask])
		q.drops.Add(1)
	}
	q.head.Store(head)
	return head
}

// freeLeftover frees packets TakeState could not fit (it has no Pool).
func (q *fifo) freeLeftover(ctx *core.Ctx) {
	if q.leftover == nil {
		return
	}
	for _, p := range q.leftover {
		ctx.Pool.Free(p)
	}
	q.drops.Add(uint64(len(q.leftover)))
	q.leftover = nil
}

// TakeState moves the queued packets of the old Queue or SimpleQueue of
// the same name into this one (hot reconfiguration; both graphs are
// quiescent). Packets beyond the new capacity are dropped.
func (q *fifo) TakeState(old core.Element) {
	var o *fifo
	switch v := old.(type) {
	case *Queue:
		o = &v.fifo
	case *SimpleQueue:
		o = &v.fifo
	default:
		return
	}
	or := o.rng.Load()
	r := q.rng.Load()
	tail, capacity := q.tail.Load(), uint64(q.capacity.Load())
	for i := o.head.Load(); i != o.tail.Load(); i++ {
		p := or.slots[i&or.mask]
		if tail-q.head.Load() < capacity {
			r.slots[tail&r.mask] = p
			tail++
		} else {
			q.leftover = append(q.leftover, p)
		}
	}
	o.head.Store(o.tail.Load())
	q.tail.Store(tail)
	q.leftover = append(q.leftover, o.leftover...)
	o.leftover = nil
}

// Cleanup frees the packets TakeState set aside. Queued packets stay
// queued: handlers read after the run (length, drops, Click's -h) must
// still see the final state, and the garbage collector reclaims them.
func (q *fifo) Cleanup(ctx *core.Ctx) { q.freeLeftover(ctx) }

func (q *fifo) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadOnly("length", func() string { return strconv.Itoa(q.Len()) }),
		core.ReadOnly("highwater_length", func() string { return strconv.FormatInt(q.highwater.Load(), 10) }),
		core.ReadWrite("capacity", func() string { return strconv.FormatInt(q.capacity.Load(), 10) }, q.writeCapacity),
		core.ReadOnly("drops", func() string { return strconv.FormatUint(q.drops.Load(), 10) }),
		core.Action("reset_counts", func() {
			q.drops.Store(0)
			q.highwater.Store(int64(q.Len()))
		}),
		core.Action("reset", func() { q.flush.Store(true) }),
	}
}

func (q *fifo) writeCapacity(s string) error {
	c, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("CAPACITY: invalid number")
	}
	if err := checkCapacity(c); err != nil {
		return fmt.Errorf("CAPACITY: %w", err)
	}
	q.capacity.Store(int64(c))
	return nil
}

// Queue is Click's Queue (FullNoteQueue): a FIFO that tells upstream
// sources when it has room again.
type Queue struct{ fifo }

// NonFull reports whether a push would be accepted (core.NonFullNotifier).
func (q *Queue) NonFull() bool { return q.nonFull() }

// SimpleQueue is the same FIFO without notification.
type SimpleQueue struct{ fifo }

func init() {
	core.Register(core.Class{
		Name: "Queue", Ports: "1/1-2", Processing: "h/lh",
		New: func() core.Element { return new(Queue) },
		Doc: core.Doc{
			Synopsis: "Queue([CAPACITY])",
			Summary:  "stores packets in a FIFO queue",
			Description: queueDescription + `

Queue implements the non-full notification (NonFull): a source upstream
stops being scheduled while the queue is full, so
"InfiniteSource -> Queue -> Idle" stops at CAPACITY packets instead of
dropping.`,
			Ports:    "input 0 (push); output 0 (pull) the queued packets; optional output 1 (push) tail drops",
			Args:     queueArgs,
			Handlers: queueHandlers,
			Example:  "FromDevice(eth0) -> Queue(2000) -> ToDevice(eth1)",
		},
	})
	core.Register(core.Class{
		Name: "SimpleQueue", Ports: "1/1-2", Processing: "h/lh",
		New: func() core.Element { return new(SimpleQueue) },
		Doc: core.Doc{
			Synopsis: "SimpleQueue([CAPACITY])",
			Summary:  "stores packets in a FIFO queue, without notification",
			Description: queueDescription + `

Unlike Queue, SimpleQueue sends no non-full notification: sources upstream
keep running and the excess is tail-dropped.`,
			Ports:    "input 0 (push); output 0 (pull) the queued packets; optional output 1 (push) tail drops",
			Args:     queueArgs,
			Handlers: queueHandlers,
			Example:  "src -> SimpleQueue(100) -> Unqueue -> Discard",
		},
	})
}
