package standard

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// PrioSched pulls from its inputs in strict priority order.
type PrioSched struct{ core.Base }

func init() {
	core.Register(core.Class{
		Name: "PrioSched", Ports: "1-/1", Processing: "l/l",
		New: func() core.Element { return new(PrioSched) },
		Doc: core.Doc{
			Synopsis: "PrioSched",
			Summary:  "pulls from inputs with strict priority",
			Description: `Serves a pull from input 0 first; only if it cannot fill the request is
input 1 asked for the rest, then input 2, and so on. Lower-numbered
inputs always win, so a busy input 0 starves the others.`,
			Ports:   "inputs 0..N-1 (pull), input 0 highest priority; output 0 (pull)",
			Example: "hi :: Queue; lo :: Queue; hi -> [0] p :: PrioSched; lo -> [1] p; p -> ToDevice(eth0)",
		},
	})
}

func (s *PrioSched) Pull(ctx *core.Ctx, _ int, b *packet.Batch, max int) {
	want := min(max, packet.MaxBatch-b.N)
	for i := 0; i < s.NInputs() && want > 0; i++ {
		want -= s.Input(i).Pull(ctx, b, want)
	}
}
