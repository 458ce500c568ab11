package standard

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// RoundRobinSwitch sends packets to its outputs in turn.
type RoundRobinSwitch struct {
	core.Base
	next int
}

func init() {
	core.Register(core.Class{
		Name: "RoundRobinSwitch", Ports: "1/1-", Processing: "h/h",
		New: func() core.Element { return new(RoundRobinSwitch) },
		Doc: core.Doc{
			Synopsis: "RoundRobinSwitch",
			Summary:  "sends packets to round-robin outputs",
			Description: `Sends the first packet to output 0, the next to output 1, and so on,
wrapping after the last output; the rotation continues across batches.
Packets are gathered per output and pushed as batches.`,
			Ports:   "input 0 (push); outputs 0..N-1 (push)",
			Example: "src -> rr :: RoundRobinSwitch; rr[0] -> q0 :: Queue; rr[1] -> q1 :: Queue;",
		},
	})
}

func (s *RoundRobinSwitch) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	nout, next := s.NOutputs(), s.next
	for _, p := range b.P[:b.N] {
		s.Emit(ctx, next, p)
		if next++; next == nout {
			next = 0
		}
	}
	s.next = next
	b.Reset()
	s.Flush(ctx)
}
