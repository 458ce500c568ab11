package standard

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// Discard frees every packet it receives (or, in pull context, pulls).
type Discard struct {
	core.Base
	count  uint64
	active bool
	burst  int
	in     *core.Input
	batch  packet.Batch
}

func init() {
	core.Register(core.Class{
		Name: "Discard", Ports: "1/0", Processing: "a/a",
		New: func() core.Element { return new(Discard) },
		Doc: core.Doc{
			Synopsis: "Discard([ACTIVE, BURST])",
			Summary:  "drops all packets",
			Description: `Frees every packet pushed to it, a whole batch at a time (packets that
share a buffer, like a source's clones, release it with one atomic).
In pull context Discard is a task: each run pulls up to BURST packets
from its input and frees them; ACTIVE false stops it pulling.`,
			Ports: "input 0 (agnostic) takes the packets to drop; no outputs",
			Args: []core.Item{
				{Name: "ACTIVE", Text: "boolean: in pull context, pull at all (default true)"},
				{Name: "BURST", Text: "integer >= 1: packets pulled per task run (default 1)"},
			},
			Handlers: []core.Item{
				{Name: "count", Text: "read: packets discarded"},
				{Name: "reset_counts", Text: "write: zero count"},
				{Name: "active", Text: "read/write: ACTIVE"},
			},
			Example: "FromDevice(eth0) -> c :: Counter -> Discard",
		},
	})
}

func (d *Discard) Configure(a *core.Args) error {
	d.active, d.burst = true, 1
	if err := a.Parse(core.Pos("ACTIVE", core.Bool(&d.active)), core.Pos("BURST", core.Int(&d.burst))); err != nil {
		return err
	}
	return positive("BURST", d.burst)
}

func (d *Discard) Initialize(core.Router) error {
	d.in = d.Input(0)
	if d.in.Kind == core.Pull {
		d.ScheduleTask()
	}
	return nil
}

// Push frees the whole batch.
func (d *Discard) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	d.count += uint64(b.N)
	ctx.Pool.FreeBatch(b)
}

// RunTask pulls up to BURST packets and frees them (pull context).
func (d *Discard) RunTask(ctx *core.Ctx) bool {
	if !d.active {
		return false
	}
	got := 0
	for got < d.burst {
		n := d.in.Pull(ctx, &d.batch, d.burst-got)
		if n == 0 {
			break
		}
		got += n
		d.count += uint64(n)
		ctx.Pool.FreeBatch(&d.batch)
	}
	return got > 0
}

func (d *Discard) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("count", &d.count),
		core.Action("reset_counts", func() { d.count = 0 }),
		rwBool("active", &d.active),
	}
}

// TakeState keeps the count of the Discard this one replaces in a hot
// reconfiguration.
func (d *Discard) TakeState(old core.Element) {
	if o, ok := old.(*Discard); ok {
		d.count = o.count
	}
}
