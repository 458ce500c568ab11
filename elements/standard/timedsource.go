package standard

import (
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// TimedSource pushes one packet every INTERVAL, driven by a core.Timer.
type TimedSource struct {
	core.Base
	tmpl     template
	rawData  string
	interval time.Duration
	limit    int64
	active   bool
	stop     bool
	count    uint64
	stopSent bool
	timer    *core.Timer
	nextAt   int64 // 0 until the first timer run fixes the phase
	batch    packet.Batch
}

func init() {
	core.Register(core.Class{
		Name: "TimedSource", Ports: "0/1", Processing: "h/h",
		New: func() core.Element { return new(TimedSource) },
		Doc: core.Doc{
			Synopsis: "TimedSource([INTERVAL, DATA, KEYWORDS])",
			Summary:  "pushes a packet periodically",
			Description: `Pushes a clone of a packet holding DATA every INTERVAL. The timer first
fires as soon as the run starts, which only fixes the phase: the first
packet leaves one INTERVAL later, as in Click. After LIMIT packets it stops;
with STOP true it then tells the router it is done.`,
			Ports: "no inputs; output 0 (push) carries the packets",
			Args: []core.Item{
				{Name: "INTERVAL", Text: "time: period (default 500ms)"},
				{Name: "DATA", Text: "string: packet contents (default: Click's 69-byte text)"},
				{Name: "LIMIT", Text: "integer: total packets, -1 = unlimited (default -1)"},
				{Name: "ACTIVE", Text: "boolean: send at all (default true)"},
				{Name: "STOP", Text: "boolean: end the run when LIMIT is reached (default false)"},
			},
			Handlers: []core.Item{
				{Name: "count", Text: "read: packets sent"},
				{Name: "reset", Text: "write: zero the count"},
				{Name: "active", Text: "read/write: ACTIVE"},
				{Name: "interval", Text: "read/write: INTERVAL"},
				{Name: "data", Text: "read/write: DATA"},
			},
			Example: "TimedSource(1s, \"hello\") -> Print(tick) -> Discard",
		},
	})
}

func (e *TimedSource) Configure(a *core.Args) error {
	e.rawData, e.interval, e.limit, e.active = clickDefaultData, 500*time.Millisecond, -1, true
	err := a.Parse(
		core.Pos("INTERVAL", core.Duration(&e.interval)),
		core.Pos("DATA", core.String(&e.rawData)),
		core.Key("LIMIT", core.Int64(&e.limit)),
		core.Key("ACTIVE", core.Bool(&e.active)),
		core.Key("STOP", core.Bool(&e.stop)),
	)
	if err != nil {
		return err
	}
	if e.interval <= 0 {
		return errInterval
	}
	e.tmpl.data = []byte(e.rawData)
	if err := checkDataLen(e.tmpl.data); err != nil {
		return err
	}
	if e.stop {
		e.SetStopper()
	}
	return nil
}

func (e *TimedSource) Initialize(r core.Router) error {
	e.timer = core.NewTimer(e.tick)
	r.AddTimer(e, e.timer)
	e.timer.ScheduleAt(1) // "as soon as the run starts": fixes the phase
	return nil
}

// tick runs on the timer: it sends one packet when due and rearms.
func (e *TimedSource) tick(ctx *core.Ctx) {
	if e.nextAt == 0 {
		e.nextAt = ctx.Now + int64(e.interval)
		e.timer.ScheduleAt(e.nextAt)
		return
	}
	if e.limit >= 0 && e.count >= uint64(e.limit) {
		e.finish()
		return
	}
	if e.active {
		e.send(ctx)
	}
	e.nextAt = nextPeriod(e.nextAt, ctx.Now, int64(e.interval))
	e.timer.ScheduleAt(e.nextAt)
}

// nextPeriod advances a periodic deadline; if the worker fell more than
// a period behind it restarts from now instead of firing a catch-up burst.
func nextPeriod(prev, now, period int64) int64 {
	next := prev + period
	if next <= now {
		next = now + period
	}
	return next
}

func (e *TimedSource) send(ctx *core.Ctx) {
	t := e.tmpl.get(ctx.Pool)
	t.Anno.Timestamp = ctx.Now
	ctx.Pool.CloneN(t, &e.batch, 1)
	e.Output(0).Push(ctx, &e.batch)
	e.count++
	if e.limit >= 0 && e.count >= uint64(e.limit) {
		e.finish()
	}
}

func (e *TimedSource) finish() {
	if e.stop && !e.stopSent && e.Router() != nil {
		e.stopSent = true
		e.Router().StopperDone(e)
	}
}

func (e *TimedSource) Cleanup(ctx *core.Ctx) { e.tmpl.release(ctx.Pool) }

func (e *TimedSource) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("count", &e.count),
		core.Action("reset", func() { e.count = 0 }),
		rwBool("active", &e.active),
		rwDuration("interval", &e.interval),
		core.ReadWrite("data", func() string { return e.rawData }, func(s string) error {
			if err := checkDataLen([]byte(s)); err != nil {
				return err
			}
			e.rawData = s
			e.tmpl.setData([]byte(s))
			return nil
		}),
	}
}
