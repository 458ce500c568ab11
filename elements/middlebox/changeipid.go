package middlebox

import (
	"errors"
	"strconv"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// ChangeIPID rewrites the IP identification field.
type ChangeIPID struct {
	core.Base
	counters
	id        uint16
	random    bool
	increment bool
	next      uint16
}

func init() {
	core.Register(core.Class{
		Name: "ChangeIPID", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(ChangeIPID) },
		Doc: core.Doc{
			Synopsis: "ChangeIPID([ID, RANDOM, INCREMENT])",
			Summary:  "rewrites the IP identification field",
			Description: `Models a box (a NAT, a scrubber) that rewrites the IPv4 identification of
every packet: to ID; or with RANDOM true to a pseudo-random value per
packet; or with INCREMENT true to a counter starting at ID and increasing
by one per packet (a global counter, as old stacks and NATs use).
Exactly one mode applies; ID alone means the fixed value.

Fragments are rewritten too (a real box reassembling first would be
needed to keep them consistent; this one models the ones that do not).
The header checksum is updated incrementally (RFC 1624). Packets without a
consistent IPv4 header annotation are dropped and counted.`,
			Ports: "input 0: annotated IP packets; output 0: the same packets, IP ID rewritten",
			Args: []core.Item{
				{Name: "ID", Text: "integer 0-65535, the value (or INCREMENT's first value; default 0)"},
				{Name: "RANDOM", Text: "boolean, write a pseudo-random ID per packet (default false)"},
				{Name: "INCREMENT", Text: "boolean, write ID, ID+1, ... (default false)"},
			},
			Handlers: handlerDocs(
				core.Item{Name: "id", Text: "read/write: ID (writing it restarts INCREMENT)"},
			),
			Example: "CheckIPHeader -> ChangeIPID(RANDOM true) -> ...",
		},
	})
}

// Configure parses the arguments.
func (c *ChangeIPID) Configure(a *core.Args) error {
	if err := a.Parse(
		core.Pos("ID", c.idValue),
		core.Key("RANDOM", core.Bool(&c.random)),
		core.Key("INCREMENT", core.Bool(&c.increment)),
	); err != nil {
		return err
	}
	if c.random && c.increment {
		return errors.New("RANDOM and INCREMENT are exclusive")
	}
	return nil
}

func (c *ChangeIPID) idValue(s string) error {
	if err := core.Uint16(&c.id)(s); err != nil {
		return err
	}
	c.next = c.id
	return nil
}

// Process rewrites a batch in place.
func (c *ChangeIPID) Process(ctx *core.Ctx, b *packet.Batch) { processBatch(ctx, c, b) }

func (c *ChangeIPID) rewrite(ctx *core.Ctx, p *packet.Packet) bool {
	if _, _, _, ok := ipHeader(p); !ok {
		c.Drop(ctx, p)
		return false
	}
	id := c.id
	switch {
	case c.random:
		id = uint16(ctx.Rand())
	case c.increment:
		id = c.next
		c.next++
	}
	p.Writable(ctx.Pool)
	ip := p.Network()
	old := proto.U16(ip, proto.IPOffID)
	if old == id {
		return true
	}
	proto.Put16(ip, proto.IPOffID, id)
	proto.UpdateSum16(ip[proto.IPOffSum:], old, id)
	c.changed++
	return true
}

// Handlers exposes the ID and the counters.
func (c *ChangeIPID) Handlers() []core.Handler {
	return append([]core.Handler{
		core.ReadWrite("id", func() string { return strconv.Itoa(int(c.id)) }, c.idValue),
	}, c.counters.handlers(&c.Base)...)
}
