package standard

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// Idle fills ports that must be connected: it never emits and never pulls.
type Idle struct{ core.Base }

func init() {
	core.Register(core.Class{
		Name: "Idle", Ports: "-/-", Processing: "a/a",
		New: func() core.Element { return new(Idle) },
		Doc: core.Doc{
			Synopsis: "Idle",
			Summary:  "discards packets, never sends any",
			Description: `Has any number of inputs and outputs. Packets pushed to it are freed
(and counted as drops); a pull from it returns nothing; it never pulls
from its own inputs. Use it to terminate ports that would otherwise be
unconnected, e.g. a Queue nobody drains.`,
			Ports:    "any number of agnostic inputs and outputs",
			Handlers: []core.Item{{Name: "drops", Text: "read: packets pushed into Idle and freed"}},
			Example:  "InfiniteSource -> q :: Queue(10) -> Idle",
		},
	})
}

// Push frees what it is given.
func (e *Idle) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	e.Drops += uint64(b.N)
	ctx.Pool.FreeBatch(b)
}

// Pull returns nothing: Idle is always empty.
func (e *Idle) Pull(*core.Ctx, int, *packet.Batch, int) {}

func (e *Idle) Handlers() []core.Handler { return []core.Handler{drops(&e.Base)} }
