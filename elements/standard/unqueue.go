package standard

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// Unqueue is a task that pulls packets from its input and pushes them on.
type Unqueue struct {
	core.Base
	active bool
	limit  int64
	burst  int
	count  uint64
	in     *core.Input
	out    *core.Output
	batch  packet.Batch
}

func init() {
	core.Register(core.Class{
		Name: "Unqueue", Ports: "1/1", Processing: "l/h",
		New: func() core.Element { return new(Unqueue) },
		Doc: core.Doc{
			Synopsis: "Unqueue([ACTIVE, LIMIT, BURST])",
			Summary:  "pull-to-push converter",
			Description: `A task that, each time it runs, pulls up to BURST packets from input 0
(in batches of at most 64) and pushes them out of output 0. After LIMIT
packets in total it stops pulling (-1: no limit). ACTIVE false pauses it.`,
			Ports: "input 0 (pull); output 0 (push)",
			Args: []core.Item{
				{Name: "ACTIVE", Text: "boolean: run at all (default true)"},
				{Name: "LIMIT", Text: "integer: total packets to move, -1 = unlimited (default -1)"},
				{Name: "BURST", Text: "integer >= 1: packets per run (default 1)"},
			},
			Handlers: []core.Item{
				{Name: "count", Text: "read: packets moved"},
				{Name: "reset", Text: "write: zero count (restarts toward LIMIT)"},
				{Name: "active", Text: "read/write: ACTIVE"},
				{Name: "limit", Text: "read/write: LIMIT"},
				{Name: "burst", Text: "read/write: BURST"},
			},
			Example: "src -> Queue -> Unqueue(BURST 32) -> Discard",
		},
	})
}

func (u *Unqueue) Configure(a *core.Args) error {
	u.active, u.limit, u.burst = true, -1, 1
	err := a.Parse(
		core.Pos("ACTIVE", core.Bool(&u.active)),
		core.Pos("LIMIT", core.Int64(&u.limit)),
		core.Pos("BURST", core.Int(&u.burst)),
	)
	if err != nil {
		return err
	}
	u.limit = max(u.limit, -1)
	u.ScheduleTask()
	return positive("BURST", u.burst)
}

func (u *Unqueue) Initialize(core.Router) error {
	u.in, u.out = u.Input(0), u.Output(0)
	return nil
}

func (u *Unqueue) RunTask(ctx *core.Ctx) bool {
	if !u.active {
		return false
	}
	want := u.burst
	if u.limit >= 0 {
		want = int(min(int64(want), max(u.limit-int64(u.count), 0)))
	}
	moved := pullPush(ctx, u.in, u.out, &u.batch, want)
	u.count += uint64(moved)
	return moved > 0
}

// pullPush moves up to want packets from in to out, a batch at a time,
// and returns how many moved. It stops early when the input runs dry.
func pullPush(ctx *core.Ctx, in *core.Input, out *core.Output, b *packet.Batch, want int) int {
	moved := 0
	for moved < want {
		n := in.Pull(ctx, b, want-moved)
		if n == 0 {
			break
		}
		moved += n
		out.Push(ctx, b)
	}
	return moved
}

func (u *Unqueue) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("count", &u.count),
		core.Action("reset", func() { u.count = 0 }),
		rwBool("active", &u.active),
		rwInt64("limit", &u.limit, -1),
		rwInt("burst", &u.burst, 1),
	}
}
