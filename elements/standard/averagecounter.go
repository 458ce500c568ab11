package standard

import (
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// AverageCounter counts packets and reports the average rate between the
// first and the last counted packet.
type AverageCounter struct {
	core.Base
	ignore       time.Duration
	count, bytes uint64
	first, last  int64 // ctx.Now of the first and latest batch; 0 = none yet
}

func init() {
	core.Register(core.Class{
		Name: "AverageCounter", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(AverageCounter) },
		Doc: core.Doc{
			Synopsis: "AverageCounter([IGNORE])",
			Summary:  "measures the historical average packet rate",
			Description: `Passes packets unchanged and counts them. The rate is a strict average:
packets counted divided by the time from the first counted batch to the
latest one (worker clock). Packets arriving in the first IGNORE after the
first packet are passed on but not counted, to skip a warm-up period.`,
			Ports: "input 0 -> output 0, agnostic",
			Args:  []core.Item{{Name: "IGNORE", Text: "time: warm-up not counted (default 0)"}},
			Handlers: []core.Item{
				{Name: "count", Text: "read: packets counted"},
				{Name: "byte_count", Text: "read: bytes counted"},
				{Name: "rate", Text: "read: average packets/s"},
				{Name: "bit_rate", Text: "read: average bits/s"},
				{Name: "byte_rate", Text: "read: average bytes/s"},
				{Name: "reset", Text: "write: start over"},
			},
			Example: "src -> ac :: AverageCounter(IGNORE 1s) -> Discard",
		},
	})
}

func (c *AverageCounter) Configure(a *core.Args) error {
	return a.Parse(core.Pos("IGNORE", core.Duration(&c.ignore)))
}

func (c *AverageCounter) Process(ctx *core.Ctx, b *packet.Batch) {
	now := ctx.Now
	if c.first == 0 {
		c.first = now
	}
	if now-c.first < int64(c.ignore) {
		return
	}
	var bytes uint64
	for _, p := range b.P[:b.N] {
		bytes += uint64(p.Len())
	}
	c.count += uint64(b.N)
	c.bytes += bytes
	c.last = now
}

// perSecond divides v by the counting window (from the end of IGNORE to
// the latest batch); 0 while the window is empty.
func (c *AverageCounter) perSecond(v uint64) float64 {
	window := c.last - c.first - int64(c.ignore)
	if c.first == 0 || window <= 0 {
		return 0
	}
	return float64(v) * 1e9 / float64(window)
}

func (c *AverageCounter) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("count", &c.count),
		core.ReadUint("byte_count", &c.bytes),
		core.ReadOnly("rate", func() string { return formatRate(c.perSecond(c.count)) }),
		core.ReadOnly("bit_rate", func() string { return formatRate(c.perSecond(c.bytes * 8)) }),
		core.ReadOnly("byte_rate", func() string { return formatRate(c.perSecond(c.bytes)) }),
		core.Action("reset", func() { c.count, c.bytes, c.first, c.last = 0, 0, 0, 0 }),
	}
}
