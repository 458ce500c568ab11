package standard

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// Unstrip puts LEN bytes back in front of every packet.
type Unstrip struct {
	core.Base
	n int
}

func init() {
	core.Register(core.Class{
		Name: "Unstrip", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(Unstrip) },
		Doc: core.Doc{
			Synopsis: "Unstrip(LEN)",
			Summary:  "unstrips bytes from front of packets",
			Description: `Moves each packet's data start back by LEN bytes, into the headroom:
it never copies the data, and the restored bytes are whatever the buffer
held there (what Strip removed). A shared clone is first made private. A
packet with less than LEN bytes of headroom is dropped and counted.`,
			Ports:    "input 0 -> output 0, agnostic",
			Args:     []core.Item{{Name: "LEN", Text: "integer >= 0: bytes to restore (required)"}},
			Handlers: []core.Item{{Name: "drops", Text: "read: packets dropped for lack of headroom"}},
			Example:  "... -> Strip(14) -> CheckIPHeader -> Unstrip(14) -> ToDevice(eth0)",
		},
	})
}

func (u *Unstrip) Configure(a *core.Args) error {
	if err := a.Parse(core.Pos("LEN", core.Int(&u.n)).Required()); err != nil {
		return err
	}
	return checkLen(u.n)
}

func (u *Unstrip) Process(ctx *core.Ctx, b *packet.Batch) {
	kept := 0
	for _, p := range b.P[:b.N] {
		if !p.Push(ctx.Pool, u.n) {
			u.Drop(ctx, p)
			continue
		}
		b.P[kept] = p
		kept++
	}
	clear(b.P[kept:b.N])
	b.N = kept
}

func (u *Unstrip) Handlers() []core.Handler {
	return []core.Handler{readInt("length", &u.n), drops(&u.Base)}
}
