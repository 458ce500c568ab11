package middlebox

import (
	"fmt"
	"strconv"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// ChangeDSCP rewrites the DiffServ code point, keeping the ECN bits.
type ChangeDSCP struct {
	core.Base
	counters
	dscp uint8
}

func init() {
	core.Register(core.Class{
		Name: "ChangeDSCP", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(ChangeDSCP) },
		Doc: core.Doc{
			Synopsis: "ChangeDSCP(DSCP)",
			Summary:  "rewrites the IP DiffServ code point (a remarking box)",
			Description: `Models a box that remarks (or bleaches, DSCP 0) the DiffServ field: the
upper six bits of the IP TOS byte become DSCP; the two ECN bits are kept
(see ChangeECN). Every IPv4 packet is remarked, fragments included. The
header checksum is updated incrementally (RFC 1624). Packets without a
consistent IPv4 header annotation are dropped and counted.`,
			Ports: "input 0: annotated IP packets; output 0: the same packets, remarked",
			Args:  []core.Item{{Name: "DSCP", Text: "integer 0-63, the code point (mandatory)"}},
			Handlers: handlerDocs(
				core.Item{Name: "dscp", Text: "read/write: the code point"},
			),
			Example: "CheckIPHeader -> ChangeDSCP(0) -> ...   // bleach DSCP",
		},
	})
}

// Configure parses DSCP.
func (c *ChangeDSCP) Configure(a *core.Args) error {
	return a.Parse(core.Pos("DSCP", c.dscpValue).Required())
}

func (c *ChangeDSCP) dscpValue(s string) error {
	v, err := strconv.ParseUint(s, 0, 8)
	if err != nil || v > 63 {
		return fmt.Errorf("expected DSCP 0-63, got %q", s)
	}
	c.dscp = uint8(v)
	return nil
}

// Process rewrites a batch in place.
func (c *ChangeDSCP) Process(ctx *core.Ctx, b *packet.Batch) { processBatch(ctx, c, b) }

func (c *ChangeDSCP) rewrite(ctx *core.Ctx, p *packet.Packet) bool {
	return rewriteTOS(ctx, &c.Base, &c.counters, p, 0x03, c.dscp<<2)
}

// rewriteTOS sets the TOS bits outside keep to set (IP-level elements).
func rewriteTOS(ctx *core.Ctx, base *core.Base, c *counters, p *packet.Packet, keep, set uint8) bool {
	ip, _, _, ok := ipHeader(p)
	if !ok {
		base.Drop(ctx, p)
		return false
	}
	tos := ip[1]&keep | set
	if tos == ip[1] {
		return true
	}
	p.Writable(ctx.Pool)
	setTOS(p.Network(), tos)
	c.changed++
	return true
}

// Handlers exposes the code point and the counters.
func (c *ChangeDSCP) Handlers() []core.Handler {
	return append([]core.Handler{
		core.ReadWrite("dscp", func() string { return strconv.Itoa(int(c.dscp)) }, c.dscpValue),
	}, c.counters.handlers(&c.Base)...)
}
