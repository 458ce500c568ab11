package middlebox

import (
	"errors"
	"fmt"
	"strconv"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// ChangeWin rewrites the TCP window field and the window-scale option.
type ChangeWin struct {
	core.Base
	counters
	win   int // -1: leave the window field
	scale int // -1: leave the window-scale option
}

func init() {
	core.Register(core.Class{
		Name: "ChangeWin", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return &ChangeWin{win: -1, scale: -1} },
		Doc: core.Doc{
			Synopsis: "ChangeWin([WIN, SCALE])",
			Summary:  "rewrites the TCP receive window and window-scale option",
			Description: `Models a box that rewrites flow-control fields. With WIN, the 16-bit
window field of every TCP segment becomes WIN. With SCALE, the shift count
of the window-scale option (kind 3, length 3) of SYN segments becomes SCALE
(an absent option is not added). At least one of them must be given.

Checksums are updated incrementally (RFC 1624). Non-TCP packets and
fragments pass unchanged. Packets without a consistent IPv4 header
annotation are dropped and counted; TCP segments with an inconsistent data
offset pass unchanged and are counted as malformed; a malformed option
list ends the option search.`,
			Ports: "input 0: annotated IP packets; output 0: the same packets, windows rewritten",
			Args: []core.Item{
				{Name: "WIN", Text: "integer 0-65535, the window to write into every segment"},
				{Name: "SCALE", Text: "integer 0-255, the window-scale shift to write into SYNs"},
			},
			Handlers: handlerDocs(
				core.Item{Name: "win", Text: "read/write: WIN (-1: unset)"},
				core.Item{Name: "scale", Text: "read/write: SCALE (-1: unset)"},
			),
			Example: "CheckIPHeader -> ChangeWin(WIN 1024, SCALE 0) -> ...",
		},
	})
}

// Configure parses the arguments.
func (c *ChangeWin) Configure(a *core.Args) error {
	if err := a.Parse(core.Pos("WIN", c.winValue), core.Key("SCALE", c.scaleValue)); err != nil {
		return err
	}
	if c.win < 0 && c.scale < 0 {
		return errors.New("WIN or SCALE required")
	}
	return nil
}

func intIn(dst *int, lo, hi int, what string) core.Value {
	return func(s string) error {
		v, err := strconv.Atoi(s)
		if err != nil || v < lo || v > hi {
			return fmt.Errorf("expected %s %d-%d, got %q", what, lo, hi, s)
		}
		*dst = v
		return nil
	}
}

func (c *ChangeWin) winValue(s string) error   { return intIn(&c.win, -1, 65535, "window")(s) }
func (c *ChangeWin) scaleValue(s string) error { return intIn(&c.scale, -1, 255, "shift")(s) }

// Process rewrites a batch in place.
func (c *ChangeWin) Process(ctx *core.Ctx, b *packet.Batch) { processBatch(ctx, c, b) }

func (c *ChangeWin) rewrite(ctx *core.Ctx, p *packet.Packet) bool {
	s, work, keep := classify(ctx, &c.Base, &c.counters, p)
	if !work {
		return keep
	}
	needWin := c.win >= 0 && proto.U16(s.tcp, proto.TCPOffWin) != uint16(c.win)
	off := -1
	if c.scale >= 0 && s.flags()&proto.TCPSyn != 0 {
		if o, n := findOpt(&s, optWScale); o >= 0 && n == 3 && s.tcp[o+2] != byte(c.scale) {
			off = o
		}
	}
	if !needWin && off < 0 {
		return true
	}
	s = writableTCP(ctx, p)
	if needWin {
		set16(&s, proto.TCPOffWin, uint16(c.win))
	}
	if off >= 0 {
		old := optSum(&s)
		s.tcp[off+2] = byte(c.scale)
		updateRegion(tcpSum(&s), old, optSum(&s))
	}
	c.changed++
	return true
}

// Handlers exposes the settings and the counters.
func (c *ChangeWin) Handlers() []core.Handler {
	return append([]core.Handler{
		core.ReadWrite("win", func() string { return strconv.Itoa(c.win) }, c.winValue),
		core.ReadWrite("scale", func() string { return strconv.Itoa(c.scale) }, c.scaleValue),
	}, c.counters.handlers(&c.Base)...)
}
