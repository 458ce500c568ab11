package standard

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// RoundRobinSched pulls from its inputs in turn, skipping empty ones.
type RoundRobinSched struct {
	core.Base
	next int // input to try first on the next pull
}

func init() {
	core.Register(core.Class{
		Name: "RoundRobinSched", Ports: "1-/1", Processing: "l/l",
		New: func() core.Element { return new(RoundRobinSched) },
		Doc: core.Doc{
			Synopsis: "RoundRobinSched",
			Summary:  "pulls from inputs in round-robin order",
			Description: `Each pull starts at the input after the one that last supplied packets
and takes what it offers; an input that returns nothing is skipped and
the next one is asked, until the request is filled or every input was
asked once. With pulls of one packet this is Click's per-packet round
robin; with batch pulls the inputs take turns a batch at a time.`,
			Ports:   "inputs 0..N-1 (pull); output 0 (pull)",
			Example: "q1, q2 :: Queue; q1 -> [0] rr :: RoundRobinSched; q2 -> [1] rr; rr -> ToDevice(eth0)",
		},
	})
}

func (s *RoundRobinSched) Pull(ctx *core.Ctx, _ int, b *packet.Batch, max int) {
	nin := s.NInputs()
	want := min(max, packet.MaxBatch-b.N)
	for tried := 0; tried < nin && want > 0; tried++ {
		i := s.next
		if s.next++; s.next == nin {
			s.next = 0
		}
		want -= s.Input(i).Pull(ctx, b, want)
	}
}
