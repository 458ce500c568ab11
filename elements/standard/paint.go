package standard

import (
	"fmt"
	"strconv"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// paintAnno says which annotation holds a paint color: the Paint byte
// (default) or one of the user slots (ANNO USER0..USER3), chosen once at
// configuration so the packet loop never looks a name up.
type paintAnno int

const paintField paintAnno = -1

var annoItem = core.Item{Name: "ANNO", Text: "PAINT (default) or USER0..USER3: annotation holding the color"}

func (a *paintAnno) set(s string) error {
	switch u := strings.ToUpper(strings.TrimSpace(s)); {
	case u == "PAINT" || u == "PAINT_ANNO":
		*a = paintField
	case len(u) == 5 && strings.HasPrefix(u, "USER") && u[4] >= '0' && u[4] < '0'+packet.UserSlots:
		*a = paintAnno(u[4] - '0')
	default:
		return fmt.Errorf("expected PAINT or USER0..USER%d, got %q", packet.UserSlots-1, s)
	}
	return nil
}

func (a paintAnno) get(p *packet.Packet) uint8 {
	if a == paintField {
		return p.Anno.Paint
	}
	return uint8(p.Anno.User[a])
}

func (a paintAnno) String() string {
	if a == paintField {
		return "PAINT"
	}
	return "USER" + strconv.Itoa(int(a))
}

// Paint sets the paint annotation of every packet to COLOR.
type Paint struct {
	core.Base
	color uint8
	anno  paintAnno
}

func init() {
	core.Register(core.Class{
		Name: "Paint", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(Paint) },
		Doc: core.Doc{
			Synopsis: "Paint(COLOR[, ANNO])",
			Summary:  "sets packets' paint annotations",
			Description: `Sets the one-byte paint annotation of each packet to COLOR. PaintSwitch,
PaintTee and CheckPaint act on it later; a router typically paints packets
with the interface they arrived on.`,
			Ports: "input 0 -> output 0, agnostic",
			Args: []core.Item{
				{Name: "COLOR", Text: "integer 0-255 (required)"},
				annoItem,
			},
			Handlers: []core.Item{{Name: "color", Text: "read/write: COLOR"}},
			Example:  "FromDevice(eth0) -> Paint(1) -> ...",
		},
	})
}

func (e *Paint) Configure(a *core.Args) error {
	e.anno = paintField
	return a.Parse(core.Pos("COLOR", core.Uint8(&e.color)).Required(), core.Pos("ANNO", e.anno.set))
}

func (e *Paint) Process(_ *core.Ctx, b *packet.Batch) {
	c := e.color
	if e.anno == paintField {
		for _, p := range b.P[:b.N] {
			p.Anno.Paint = c
		}
		return
	}
	slot := int(e.anno)
	for _, p := range b.P[:b.N] {
		p.Anno.User[slot] = uint64(c)
	}
}

func (e *Paint) Handlers() []core.Handler {
	return []core.Handler{core.ReadWrite("color", func() string { return strconv.Itoa(int(e.color)) },
		func(s string) error { return core.Uint8(&e.color)(strings.TrimSpace(s)) })}
}
