package standard

import (
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// TimedUnqueue pulls BURST packets every INTERVAL and pushes them on.
type TimedUnqueue struct {
	core.Base
	interval time.Duration
	burst    int
	active   bool
	count    uint64
	timer    *core.Timer
	nextAt   int64
	batch    packet.Batch
}

func init() {
	core.Register(core.Class{
		Name: "TimedUnqueue", Ports: "1/1", Processing: "l/h",
		New: func() core.Element { return new(TimedUnqueue) },
		Doc: core.Doc{
			Synopsis: "TimedUnqueue(INTERVAL[, BURST])",
			Summary:  "pull-to-push converter with periodic bursts",
			Description: `Every INTERVAL, pulls up to BURST packets from input 0 and pushes them
out of output 0. Driven by a timer whose first run only fixes the phase:
the first burst leaves one INTERVAL after the run starts.`,
			Ports: "input 0 (pull); output 0 (push)",
			Args: []core.Item{
				{Name: "INTERVAL", Text: "time: period (required)"},
				{Name: "BURST", Text: "integer >= 1: packets per period (default 1)"},
				{Name: "ACTIVE", Text: "boolean: run at all (default true)"},
			},
			Handlers: []core.Item{
				{Name: "count", Text: "read: packets moved"},
				{Name: "reset", Text: "write: zero count"},
				{Name: "interval", Text: "read/write: INTERVAL"},
				{Name: "burst", Text: "read/write: BURST"},
				{Name: "active", Text: "read/write: ACTIVE"},
			},
			Example: "src -> Queue -> TimedUnqueue(10ms, 8) -> ToDevice(eth0)",
		},
	})
}

func (u *TimedUnqueue) Configure(a *core.Args) error {
	u.burst, u.active = 1, true
	err := a.Parse(
		core.Pos("INTERVAL", core.Duration(&u.interval)).Required(),
		core.Pos("BURST", core.Int(&u.burst)),
		core.Key("ACTIVE", core.Bool(&u.active)),
	)
	if err != nil {
		return err
	}
	if u.interval <= 0 {
		return errInterval
	}
	return positive("BURST", u.burst)
}

func (u *TimedUnqueue) Initialize(r core.Router) error {
	u.timer = core.NewTimer(u.tick)
	r.AddTimer(u, u.timer)
	u.timer.ScheduleAt(1)
	return nil
}

func (u *TimedUnqueue) tick(ctx *core.Ctx) {
	if u.nextAt == 0 {
		u.nextAt = ctx.Now + int64(u.interval)
	} else {
		if u.active {
			u.count += uint64(pullPush(ctx, u.Input(0), u.Output(0), &u.batch, u.burst))
		}
		u.nextAt = nextPeriod(u.nextAt, ctx.Now, int64(u.interval))
	}
	u.timer.ScheduleAt(u.nextAt)
}

func (u *TimedUnqueue) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("count", &u.count),
		core.Action("reset", func() { u.count = 0 }),
		rwDuration("interval", &u.interval),
		rwInt("burst", &u.burst, 1),
		rwBool("active", &u.active),
	}
}
