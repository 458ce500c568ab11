package standard

import (
	"strconv"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// PaintTee copies packets of one paint color to output 1.
type PaintTee struct {
	core.Base
	color uint8
	anno  paintAnno
}

func init() {
	core.Register(core.Class{
		Name: "PaintTee", Ports: "1/2", Processing: "a/ah",
		New: func() core.Element { return new(PaintTee) },
		Doc: core.Doc{
			Synopsis: "PaintTee(COLOR[, ANNO])",
			Summary:  "duplicates packets with given paint annotation",
			Description: `Every packet continues on output 0. Packets whose paint equals COLOR are
also cloned (copy-on-write) to output 1. Routers use it to notice packets
leaving on the interface they came in on (ICMP redirects).`,
			Ports: "input 0 -> output 0, agnostic; output 1 (push) the copies",
			Args: []core.Item{
				{Name: "COLOR", Text: "integer 0-255 (required)"},
				annoItem,
			},
			Handlers: []core.Item{{Name: "color", Text: "read/write: COLOR"}},
			Example: `pt :: PaintTee(1);
... -> pt -> ToDevice(eth1);
pt[1] -> ICMPError(18.26.4.24, redirect, host) -> ...`,
		},
	})
}

func (e *PaintTee) Configure(a *core.Args) error {
	e.anno = paintField
	return a.Parse(core.Pos("COLOR", core.Uint8(&e.color)).Required(), core.Pos("ANNO", e.anno.set))
}

// Process clones matching packets to output 1; the batch itself moves on
// unchanged. Only scratch batch 1 is used: the pull adapter owns scratch 0.
func (e *PaintTee) Process(ctx *core.Ctx, b *packet.Batch) {
	for _, p := range b.P[:b.N] {
		if e.anno.get(p) == e.color {
			e.Emit(ctx, 1, ctx.Pool.Clone(p))
		}
	}
	e.Output(1).Push(ctx, e.Scratch(1))
}

func (e *PaintTee) Handlers() []core.Handler {
	return []core.Handler{core.ReadWrite("color", func() string { return strconv.Itoa(int(e.color)) },
		func(s string) error { return core.Uint8(&e.color)(strings.TrimSpace(s)) })}
}
