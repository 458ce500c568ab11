package standard

import (
	"errors"
	"strconv"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// pacer spaces events gap nanoseconds apart on the ctx.Now clock.
type pacer struct {
	gap    float64 // ns between events
	origin int64   // clock value next is relative to (keeps float precision)
	next   float64 // when the next event is due, ns after origin
}

// due returns how many events are due at now, at most max, and consumes
// them. A backlog of more than a batch (the element was inactive or
// starved) is forgiven rather than sent as a burst, like Click's GapRate.
func (p *pacer) due(now int64, max int) int {
	if p.origin == 0 {
		p.origin = now
	}
	t := float64(now - p.origin)
	if t-p.next > packet.MaxBatch*p.gap {
		p.next = t
	}
	if t < p.next {
		return 0
	}
	n := min(int((t-p.next)/p.gap)+1, max)
	p.next += float64(n) * p.gap
	return n
}

func (p *pacer) setRate(perSecond float64) { p.gap = 1e9 / perSecond }

// RatedSource emits clones of a template packet at RATE packets per second.
type RatedSource struct {
	core.Base
	tmpl      template
	rawData   string
	length    int
	rate      float64
	limit     int64
	active    bool
	stop      bool
	count     uint64
	stopSent  bool
	pace      pacer
	out       *core.Output
	batch     packet.Batch
	fullCheck func() bool
}

func init() {
	core.Register(core.Class{
		Name: "RatedSource", Ports: "0/1", Processing: "a/a",
		New: func() core.Element { return new(RatedSource) },
		Doc: core.Doc{
			Synopsis: "RatedSource([DATA, RATE, LIMIT, ACTIVE, KEYWORDS])",
			Summary:  "generates packets at a configurable rate",
			Description: `Emits copy-on-write clones of a packet holding DATA, spaced 1/RATE
seconds apart on the worker clock (ctx.Now). A run emits every packet that
is due, at most one batch; a backlog larger than a batch (after being
inactive or starved) is forgiven, not sent as a burst. Stops after LIMIT
packets; with STOP true the router is then told the source is done.
BANDWIDTH (bytes/s) sets RATE from the packet length. In pull context a
pull returns the packets due, up to the requested number.`,
			Ports: "no inputs; output 0 (agnostic) carries the generated packets",
			Args: []core.Item{
				{Name: "DATA", Text: "string: packet contents (default: Click's 69-byte text)"},
				{Name: "RATE", Text: "real > 0: packets per second (default 10)"},
				{Name: "LIMIT", Text: "integer: total packets, -1 = unlimited (default -1)"},
				{Name: "ACTIVE", Text: "boolean: generate at all (default true)"},
				{Name: "LENGTH", Text: "integer: packet length; DATA is repeated or truncated"},
				{Name: "BANDWIDTH", Text: "bandwidth: sets RATE = BANDWIDTH / packet length"},
				{Name: "STOP", Text: "boolean: end the run when LIMIT is reached (default false)"},
			},
			Handlers: []core.Item{
				{Name: "count", Text: "read: packets generated"},
				{Name: "reset", Text: "write: zero the count"},
				{Name: "active", Text: "read/write: ACTIVE"},
				{Name: "limit", Text: "read/write: LIMIT"},
				{Name: "rate", Text: "read/write: RATE in packets per second"},
				{Name: "data", Text: "read/write: DATA"},
			},
			Example: "RatedSource(RATE 1000, LIMIT 5000, STOP true) -> Queue -> ToDevice(eth0)",
		},
	})
}

// SetNonFullCheck installs the runtime's "downstream is not full" test.
func (e *RatedSource) SetNonFullCheck(f func() bool) { e.fullCheck = f }

func (e *RatedSource) Configure(a *core.Args) error {
	e.rawData, e.length, e.rate, e.limit, e.active = clickDefaultData, -1, 10, -1, true
	bandwidth := -1.0
	err := a.Parse(
		core.Pos("DATA", core.String(&e.rawData)),
		core.Pos("RATE", core.Float(&e.rate)),
		core.Pos("LIMIT", core.Int64(&e.limit)),
		core.Pos("ACTIVE", core.Bool(&e.active)),
		core.Key("LENGTH", core.Int(&e.length)),
		core.Key("BANDWIDTH", core.Bandwidth(&bandwidth)),
		core.Key("STOP", core.Bool(&e.stop)),
	)
	if err != nil {
		return err
	}
	data := sizeData(e.rawData, e.length)
	if err := checkDataLen(data); err != nil {
		return err
	}
	e.tmpl.data = data
	if bandwidth >= 0 {
		if len(data) == 0 {
			return errors.New("BANDWIDTH: needs a non-empty packet")
		}
		e.rate = bandwidth / float64(len(data))
	}
	if !(e.rate > 0) {
		return errors.New("RATE: must be positive")
	}
	e.pace.setRate(e.rate)
	e.limit = max(e.limit, -1)
	if e.stop {
		e.SetStopper()
	}
	return nil
}

func (e *RatedSource) Initialize(core.Router) error {
	e.out = e.Output(0)
	if e.out.Kind != core.Pull {
		e.ScheduleTask()
	}
	return nil
}

// take returns how many packets may go now, at most max.
func (e *RatedSource) take(ctx *core.Ctx, max int) int {
	if !e.active {
		return 0
	}
	if e.limit >= 0 {
		left := e.limit - int64(e.count)
		if left <= 0 {
			e.finish()
			return 0
		}
		max = int(min(int64(max), left))
	}
	return e.pace.due(ctx.Now, max)
}

func (e *RatedSource) RunTask(ctx *core.Ctx) bool {
	if e.fullCheck != nil && !e.fullCheck() {
		return false
	}
	n := e.take(ctx, packet.MaxBatch)
	if n == 0 {
		return false
	}
	e.emit(ctx, &e.batch, n)
	e.out.Push(ctx, &e.batch)
	return true
}

func (e *RatedSource) Pull(ctx *core.Ctx, _ int, b *packet.Batch, max int) {
	if n := e.take(ctx, min(max, packet.MaxBatch-b.N)); n > 0 {
		e.emit(ctx, b, n)
	}
}

func (e *RatedSource) emit(ctx *core.Ctx, b *packet.Batch, n int) {
	t := e.tmpl.get(ctx.Pool)
	t.Anno.Timestamp = ctx.Now
	n = ctx.Pool.CloneN(t, b, n)
	e.count += uint64(n)
	if e.limit >= 0 && e.count >= uint64(e.limit) {
		e.finish()
	}
}

func (e *RatedSource) finish() {
	if e.stop && !e.stopSent && e.Router() != nil {
		e.stopSent = true
		e.Router().StopperDone(e)
	}
}

func (e *RatedSource) Cleanup(ctx *core.Ctx) { e.tmpl.release(ctx.Pool) }

func (e *RatedSource) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("count", &e.count),
		core.Action("reset", func() { e.count = 0 }),
		rwBool("active", &e.active),
		rwInt64("limit", &e.limit, -1),
		core.ReadWrite("rate", func() string { return formatRate(e.rate) }, func(s string) error {
			r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || !(r > 0) {
				return errors.New("rate: expected a positive number")
			}
			e.rate = r
			e.pace.setRate(r)
			return nil
		}),
		core.ReadWrite("data", func() string { return e.rawData }, func(s string) error {
			d := sizeData(s, e.length)
			if err := checkDataLen(d); err != nil {
				return err
			}
			e.rawData = s
			e.tmpl.setData(d)
			return nil
		}),
	}
}
