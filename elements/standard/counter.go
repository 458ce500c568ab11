package standard

import (
	"fmt"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// rateTick is how often the Counter's EWMA takes a sample. Sampling per
// tick rather than per batch keeps the rate independent of batch sizes.
const rateTick = int64(100e6) // 100 ms

// ewmaRate is an exponentially weighted moving average of packet and byte
// rates, fed from ctx.Now. Each tick's instantaneous rate moves the
// average a quarter of the way (the first tick sets it).
type ewmaRate struct {
	tickStart  int64
	startCount uint64
	startBytes uint64
	pps, bps   float64 // packets/s and bytes/s
	primed     bool
}

// sample is called before a batch is counted with the totals so far.
func (r *ewmaRate) sample(now int64, count, bytes uint64) {
	if r.tickStart == 0 {
		r.tickStart, r.startCount, r.startBytes = now, count, bytes
		return
	}
	elapsed := now - r.tickStart
	if elapsed < rateTick {
		return
	}
	secs := float64(elapsed) / 1e9
	pps := float64(count-r.startCount) / secs
	bps := float64(bytes-r.startBytes) / secs
	if r.primed {
		pps = r.pps + (pps-r.pps)/4
		bps = r.bps + (bps-r.bps)/4
	}
	r.pps, r.bps, r.primed = pps, bps, true
	r.tickStart, r.startCount, r.startBytes = now, count, bytes
}

// Counter counts packets and bytes and keeps an EWMA rate.
type Counter struct {
	core.Base
	count, bytes  uint64
	rate          ewmaRate
	countCall     handlerCall
	byteCountCall handlerCall
	hasCalls      bool
}

func init() {
	core.Register(core.Class{
		Name: "Counter", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(Counter) },
		Doc: core.Doc{
			Synopsis: "Counter([KEYWORDS])",
			Summary:  "counts packets and bytes, measures rates",
			Description: `Passes packets unchanged, counting them and their bytes once per batch.
The rate handlers report an exponentially weighted moving average taken
over 100 ms ticks of the worker clock (each tick moves the average a
quarter of the way); the rate changes only while packets flow.

COUNT_CALL "N elem.handler [value]" calls that write handler once, when
the count reaches N, before the batch holding the N-th packet goes on
downstream. BYTE_COUNT_CALL does the same on the byte count.`,
			Ports: "input 0 -> output 0, agnostic",
			Args: []core.Item{
				{Name: "COUNT_CALL", Text: "'N handler [value]': write handler to call at the N-th packet"},
				{Name: "BYTE_COUNT_CALL", Text: "'N handler [value]': write handler to call at byte N"},
			},
			Handlers: []core.Item{
				{Name: "count", Text: "read: packets counted"},
				{Name: "byte_count", Text: "read: bytes counted"},
				{Name: "rate", Text: "read: EWMA packet rate (packets/s)"},
				{Name: "bit_rate", Text: "read: EWMA bit rate (bits/s)"},
				{Name: "byte_rate", Text: "read: EWMA byte rate (bytes/s)"},
				{Name: "reset", Text: "write: zero counts and rates (also reset_counts)"},
				{Name: "count_call", Text: "read/write: COUNT_CALL (writing re-arms it)"},
				{Name: "byte_count_call", Text: "read/write: BYTE_COUNT_CALL"},
			},
			Example: "src -> c :: Counter(COUNT_CALL 1000 stop) -> Discard",
		},
	})
}

func (c *Counter) Configure(a *core.Args) error {
	err := a.Parse(
		core.Key("COUNT_CALL", c.countCall.set),
		core.Key("BYTE_COUNT_CALL", c.byteCountCall.set),
	)
	c.noteCalls()
	return err
}

// Initialize checks that the COUNT_CALL and BYTE_COUNT_CALL handlers exist
// and are writable (Click rejects the configuration otherwise).
// Resolve checks that COUNT_CALL and BYTE_COUNT_CALL name write handlers.
func (c *Counter) Resolve(r core.Router) error {
	if err := c.countCall.check(r, c); err != nil {
		return fmt.Errorf("COUNT_CALL: %w", err)
	}
	if err := c.byteCountCall.check(r, c); err != nil {
		return fmt.Errorf("BYTE_COUNT_CALL: %w", err)
	}
	return nil
}

func (c *Counter) noteCalls() {
	c.hasCalls = c.countCall.handler != "" || c.byteCountCall.handler != ""
}

// Process counts the batch; packets pass through untouched.
func (c *Counter) Process(ctx *core.Ctx, b *packet.Batch) {
	c.rate.sample(ctx.Now, c.count, c.bytes)
	var bytes uint64
	for _, p := range b.P[:b.N] {
		bytes += uint64(p.Len())
	}
	count0, bytes0 := c.count, c.bytes
	c.count += uint64(b.N)
	c.bytes += bytes
	if c.hasCalls {
		c.fireCalls(count0, bytes0)
	}
}

func (c *Counter) fireCalls(count0, bytes0 uint64) {
	if c.countCall.crossed(count0, c.count) {
		c.countCall.fire(c)
	}
	if c.byteCountCall.crossed(bytes0, c.bytes) {
		c.byteCountCall.fire(c)
	}
}

func (c *Counter) reset() {
	c.count, c.bytes, c.rate = 0, 0, ewmaRate{}
	c.countCall.fired, c.byteCountCall.fired = false, false
}

func (c *Counter) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("count", &c.count),
		core.ReadUint("byte_count", &c.bytes),
		core.ReadOnly("rate", func() string { return formatRate(c.rate.pps) }),
		core.ReadOnly("bit_rate", func() string { return formatRate(c.rate.bps * 8) }),
		core.ReadOnly("byte_rate", func() string { return formatRate(c.rate.bps) }),
		core.Action("reset", c.reset),
		core.Action("reset_counts", c.reset),
		c.callHandler("count_call", &c.countCall),
		c.callHandler("byte_count_call", &c.byteCountCall),
	}
}

func (c *Counter) callHandler(name string, h *handlerCall) core.Handler {
	return core.ReadWrite(name, h.String, func(s string) error {
		var nh handlerCall
		if err := nh.set(s); err != nil {
			return err
		}
		if r := c.Router(); r != nil {
			if err := nh.check(r, c); err != nil {
				return err
			}
		}
		*h = nh
		c.noteCalls()
		return nil
	})
}

// TakeState keeps the counts, rates and fired COUNT_CALLs of the Counter
// this one replaces in a hot reconfiguration, so a reload does not reset
// statistics.
func (c *Counter) TakeState(old core.Element) {
	o, ok := old.(*Counter)
	if !ok {
		return
	}
	c.count, c.bytes, c.rate = o.count, o.bytes, o.rate
	if c.countCall.String() == o.countCall.String() {
		c.countCall.fired = o.countCall.fired
	}
	if c.byteCountCall.String() == o.byteCountCall.String() {
		c.byteCountCall.fired = o.byteCountCall.fired
	}
}
