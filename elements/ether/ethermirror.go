package ether

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// EtherMirror swaps the Ethernet source and destination addresses.
type EtherMirror struct {
	core.Base
}

func init() {
	core.Register(core.Class{
		Name: "EtherMirror", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(EtherMirror) },
		Doc: core.Doc{
			Synopsis: "EtherMirror",
			Summary:  "swaps Ethernet source and destination",
			Description: `Expects frames starting with an Ethernet header and swaps its destination
and source addresses, so the frame goes back where it came from. Frames
shorter than an Ethernet header are dropped (counted).`,
			Ports:    "input 0: Ethernet frames; output 0: mirrored frames",
			Handlers: []core.Item{{Name: "drops", Text: "read: runt frames dropped"}},
			Example:  "FromDevice(eth0) -> EtherMirror -> Queue -> ToDevice(eth0)",
		},
	})
}

// Process mirrors every frame of the batch.
func (m *EtherMirror) Process(ctx *core.Ctx, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		if p.Len() < headerLen {
			m.Drop(ctx, p)
			continue
		}
		h := p.Writable(ctx.Pool)
		var tmp [6]byte
		copy(tmp[:], h[0:6])
		copy(h[0:6], h[6:12])
		copy(h[6:12], tmp[:])
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
}

// Handlers exposes the drop count.
func (m *EtherMirror) Handlers() []core.Handler {
	return []core.Handler{core.ReadUint("drops", &m.Drops)}
}
