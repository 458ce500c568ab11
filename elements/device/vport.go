package device

import (
	"strings"
	"sync"
	"sync/atomic"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// spsc is a bounded single-producer single-consumer ring of packets.
type spsc struct {
	_    [64]byte
	head atomic.Uint64 // next slot to read (consumer)
	_    [56]byte
	tail atomic.Uint64 // next slot to write (producer)
	_    [56]byte
	mask uint64
	buf  []*packet.Packet
}

func newSPSC(capacity int) *spsc {
	n := 1
	for n < capacity {
		n <<= 1
	}
	return &spsc{mask: uint64(n - 1), buf: make([]*packet.Packet, n)}
}

// put enqueues as many of b's packets as fit, in order, and returns how
// many it took (they are removed from the front of b; the rest are left).
func (q *spsc) put(b *packet.Batch) int {
	t, h := q.tail.Load(), q.head.Load()
	room := int(uint64(len(q.buf)) - (t - h))
	n := min(room, b.N)
	for i := 0; i < n; i++ {
		q.buf[(t+uint64(i))&q.mask] = b.P[i]
	}
	q.tail.Store(t + uint64(n))
	copy(b.P[:], b.P[n:b.N])
	clear(b.P[b.N-n : b.N])
	b.N -= n
	return n
}

// get appends up to max packets to b.
func (q *spsc) get(b *packet.Batch, max int) int {
	h, t := q.head.Load(), q.tail.Load()
	n := min(int(t-h), max, packet.MaxBatch-b.N)
	for i := 0; i < n; i++ {
		s := (h + uint64(i)) & q.mask
		b.P[b.N] = q.buf[s]
		q.buf[s] = nil
		b.N++
	}
	q.head.Store(h + uint64(n))
	return n
}

func (q *spsc) len() int { return int(q.tail.Load() - q.head.Load()) }

// wire is one VPort pair: dir[0] carries side A -> side B, dir[1] B -> A.
type wire struct {
	dir  [2]*spsc
	refs [2]int
}

var (
	wireMu sync.Mutex
	wires  = map[string]*wire{}
)

// acquireSide takes a reference on one side of the named wire (created on
// first use with the given capacity per direction).
func acquireSide(name string, side, capacity int) *wire {
	wireMu.Lock()
	defer wireMu.Unlock()
	w := wires[name]
	if w == nil {
		w = &wire{dir: [2]*spsc{newSPSC(capacity), newSPSC(capacity)}}
		wires[name] = w
	}
	w.refs[side]++
	return w
}

func releaseSide(name string, w *wire, side int, pool *packet.Pool) {
	wireMu.Lock()
	defer wireMu.Unlock()
	w.refs[side]--
	if w.refs[0] == 0 && w.refs[1] == 0 {
		if wires[name] == w {
			delete(wires, name)
		}
		// Nobody can touch the rings any more: free what is left.
		if pool == nil {
			pool = packet.NewPool(nil)
		}
		var b packet.Batch
		for _, q := range w.dir {
			for q.get(&b, packet.MaxBatch) > 0 {
				pool.FreeBatch(&b)
			}
		}
	}
}

// VPort is one end of an in-process virtual wire.
type VPort struct {
	core.Base
	name     string
	sideStr  string
	side     int
	capacity int
	burst    int

	w       *wire
	tx, rx  *spsc
	out     *core.Output
	batch   packet.Batch
	sent    uint64
	recv    uint64
	drops   uint64
	release func(*packet.Pool)
}

func init() {
	core.Register(core.Class{
		Name: "VPort", Ports: "0-1/0-1", Processing: "h/h",
		New: func() core.Element { return new(VPort) },
		Doc: core.Doc{
			Synopsis: "VPort(NAME [, SIDE, CAPACITY, BURST])",
			Summary:  "one end of a virtual wire between two configurations in one process",
			Description: `Connects two configurations running in the same process without the
kernel: frames pushed into VPort(NAME, SIDE A) come out of the output of
VPort(NAME, SIDE B), and the other way round, like the two ends of a veth
pair. Each direction is a bounded lock-free single-producer ring of
CAPACITY packets; packets move by pointer, never copied. Frames that find
the ring full are counted in 'drops' and freed.

The output side is a task that moves up to BURST packets per run. The
wire stays up across hot reconfiguration (the new VPort of the same name
and side takes over the ring); it is torn down, freeing queued packets,
when both sides are released. Each side may be held by one configuration
at a time: give the two configurations different SIDEs.`,
			Ports: "optional input 0 (push): frames to send to the other side; optional output 0 (push): frames from the other side",
			Args: []core.Item{
				{Name: "NAME", Text: "string: wire name shared by both ends"},
				{Name: "SIDE", Text: "A or B: which end this is (default A)"},
				{Name: "CAPACITY", Text: "integer >= 1: packets queued per direction (default 1024, rounded up to a power of two)"},
				{Name: "BURST", Text: "integer >= 1: packets emitted per task run (default 64)"},
			},
			Handlers: []core.Item{
				{Name: "sent", Text: "read: packets handed to the other side"},
				{Name: "received", Text: "read: packets received from the other side"},
				{Name: "drops", Text: "read: packets dropped because the wire was full"},
				{Name: "length", Text: "read: packets queued toward this side"},
			},
			Example: "// config 1:  FromDevice(eth0) -> VPort(w1, SIDE A)\n// config 2:  VPort(w1, SIDE B) -> Counter -> Discard",
		},
	})
}

// Configure parses the arguments.
func (v *VPort) Configure(a *core.Args) error {
	v.sideStr, v.capacity, v.burst = "A", 1024, 64
	if err := a.Parse(
		core.Pos("NAME", core.Word(&v.name)).Required(),
		core.Key("SIDE", core.Word(&v.sideStr)),
		core.Key("CAPACITY", core.Int(&v.capacity)),
		core.Key("BURST", core.Int(&v.burst)),
	); err != nil {
		return err
	}
	switch strings.ToUpper(v.sideStr) {
	case "A", "0":
		v.side = 0
	case "B", "1":
		v.side = 1
	default:
		return errorf("SIDE %q: want A or B", v.sideStr)
	}
	if v.capacity < 1 || v.capacity > 1<<20 {
		return errorf("CAPACITY must be between 1 and 1048576")
	}
	if v.burst < 1 {
		return errorf("BURST must be >= 1")
	}
	if v.NOutputs() > 0 {
		v.ScheduleTask()
	}
	return nil
}

// Initialize attaches to the wire.
func (v *VPort) Initialize(core.Router) error {
	if v.NOutputs() > 0 {
		v.out = v.Output(0)
	}
	name, side := v.name, v.side
	w := acquireSide(name, side, v.capacity)
	v.w, v.tx, v.rx = w, w.dir[side], w.dir[1-side]
	var once sync.Once
	v.release = func(p *packet.Pool) { once.Do(func() { releaseSide(name, w, side, p) }) }
	return nil
}

// Push hands the batch to the other side; what does not fit is dropped.
func (v *VPort) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	n := v.tx.put(b)
	v.sent += uint64(n)
	if b.N > 0 {
		v.drops += uint64(b.N)
		v.Drops += uint64(b.N)
		ctx.Pool.FreeBatch(b)
	}
}

// RunTask emits up to BURST packets from the other side.
func (v *VPort) RunTask(ctx *core.Ctx) bool {
	if v.out == nil {
		return false
	}
	got := 0
	for got < v.burst {
		n := v.rx.get(&v.batch, min(v.burst-got, packet.MaxBatch))
		if n == 0 {
			break
		}
		got += n
		v.out.Push(ctx, &v.batch)
	}
	v.recv += uint64(got)
	return got > 0
}

// TakeState keeps the wire across a hot reconfiguration.
func (v *VPort) TakeState(old core.Element) {
	o, ok := old.(*VPort)
	if !ok {
		return
	}
	if o.name == v.name && o.side == v.side {
		v.sent, v.recv, v.drops = o.sent, o.recv, o.drops
	}
	if o.release != nil {
		// The new element holds its own reference, so the wire stays.
		o.release(nil)
		o.release = nil
	}
}

// Cleanup releases this side of the wire.
func (v *VPort) Cleanup(ctx *core.Ctx) {
	ctx.Pool.FreeBatch(&v.batch)
	if v.release != nil {
		v.release(ctx.Pool)
		v.release = nil
	}
}

// Handlers lists the counters.
func (v *VPort) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("sent", &v.sent),
		core.ReadUint("received", &v.recv),
		core.ReadUint("drops", &v.drops),
		core.ReadOnly("length", func() string {
			if v.rx == nil {
				return "0"
			}
			return itoa(v.rx.len())
		}),
	}
}
