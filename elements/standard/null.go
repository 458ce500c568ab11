package standard

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// Null passes packets through unchanged.
type Null struct{ core.Base }

func init() {
	core.Register(core.Class{
		Name: "Null", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(Null) },
		Doc: core.Doc{
			Synopsis: "Null",
			Summary:  "passes packets unchanged",
			Description: `Forwards every packet from input 0 to output 0. Agnostic like Click's
Null, so it works in push or pull paths (Click's PushNull/PullNull are the
fixed-kind variants).`,
			Ports:   "input 0 -> output 0, agnostic",
			Example: "FromDevice(eth0) -> Null -> Discard",
		},
	})
}

func (e *Null) Push(ctx *core.Ctx, _ int, b *packet.Batch) { e.Output(0).Push(ctx, b) }

func (e *Null) Pull(ctx *core.Ctx, _ int, b *packet.Batch, max int) { e.Input(0).Pull(ctx, b, max) }
