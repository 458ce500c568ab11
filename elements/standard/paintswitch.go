package standard

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// paintAll is the paint value PaintSwitch sends to every output.
const paintAll = 255

// PaintSwitch sends each packet to the output numbered by its paint.
type PaintSwitch struct {
	core.Base
	anno paintAnno
}

func init() {
	core.Register(core.Class{
		Name: "PaintSwitch", Ports: "1/1-", Processing: "h/h",
		New: func() core.Element { return new(PaintSwitch) },
		Doc: core.Doc{
			Synopsis: "PaintSwitch([ANNO])",
			Summary:  "sends packet stream to output chosen by paint annotation",
			Description: `Sends each packet to the output whose number is its paint value. Paint
255 sends it to every output (the original to output 0, clones to the
others). A paint with no matching output drops the packet (counted).`,
			Ports:    "input 0 (push); outputs 0..N-1 (push)",
			Args:     []core.Item{annoItem},
			Handlers: []core.Item{{Name: "drops", Text: "read: packets whose paint had no output"}},
			Example: `ps :: PaintSwitch;
ps[0] -> ToDevice(eth0); ps[1] -> ToDevice(eth1);`,
		},
	})
}

func (e *PaintSwitch) Configure(a *core.Args) error {
	e.anno = paintField
	return a.Parse(core.Pos("ANNO", e.anno.set))
}

func (e *PaintSwitch) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	nout := e.NOutputs()
	for _, p := range b.P[:b.N] {
		switch c := int(e.anno.get(p)); {
		case c < nout:
			e.Emit(ctx, c, p)
		case c == paintAll:
			e.emitAll(ctx, p)
		default:
			e.Drop(ctx, p)
		}
	}
	b.Reset()
	e.Flush(ctx)
}

// emitAll sends p to output 0 and clones to the other outputs.
func (e *PaintSwitch) emitAll(ctx *core.Ctx, p *packet.Packet) {
	for i := 1; i < e.NOutputs(); i++ {
		e.Emit(ctx, i, ctx.Pool.Clone(p))
	}
	e.Emit(ctx, 0, p)
}

func (e *PaintSwitch) Handlers() []core.Handler { return []core.Handler{drops(&e.Base)} }
