package middlebox

import (
	"fmt"
	"strconv"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// ChangeECN rewrites the two ECN bits of the IP header.
type ChangeECN struct {
	core.Base
	counters
	ecn uint8
}

var ecnNames = map[string]uint8{"not-ect": 0, "notect": 0, "ect1": 1, "ect(1)": 1, "ect0": 2, "ect(0)": 2, "ce": 3}

func init() {
	core.Register(core.Class{
		Name: "ChangeECN", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(ChangeECN) },
		Doc: core.Doc{
			Synopsis: "ChangeECN(ECN)",
			Summary:  "rewrites the IP ECN field",
			Description: `Models a box that clears (ECN 0, the common case) or sets the explicit
congestion notification bits, the two low bits of the IP TOS byte; the
DSCP is kept (see ChangeDSCP). Every IPv4 packet is rewritten, fragments
included. The header checksum is updated incrementally (RFC 1624). Packets
without a consistent IPv4 header annotation are dropped and counted.`,
			Ports: "input 0: annotated IP packets; output 0: the same packets, ECN rewritten",
			Args:  []core.Item{{Name: "ECN", Text: "0-3 or not-ect, ect1, ect0, ce: the codepoint (mandatory)"}},
			Handlers: handlerDocs(
				core.Item{Name: "ecn", Text: "read/write: the codepoint (0-3)"},
			),
			Example: "CheckIPHeader -> ChangeECN(not-ect) -> ...   // bleach ECN",
		},
	})
}

// Configure parses ECN.
func (c *ChangeECN) Configure(a *core.Args) error {
	return a.Parse(core.Pos("ECN", c.ecnValue).Required())
}

func (c *ChangeECN) ecnValue(s string) error {
	if v, ok := ecnNames[strings.ToLower(s)]; ok {
		c.ecn = v
		return nil
	}
	v, err := strconv.ParseUint(s, 0, 8)
	if err != nil || v > 3 {
		return fmt.Errorf("expected ECN 0-3, not-ect, ect1, ect0 or ce, got %q", s)
	}
	c.ecn = uint8(v)
	return nil
}

// Process rewrites a batch in place.
func (c *ChangeECN) Process(ctx *core.Ctx, b *packet.Batch) { processBatch(ctx, c, b) }

func (c *ChangeECN) rewrite(ctx *core.Ctx, p *packet.Packet) bool {
	return rewriteTOS(ctx, &c.Base, &c.counters, p, 0xfc, c.ecn)
}

// Handlers exposes the codepoint and the counters.
func (c *ChangeECN) Handlers() []core.Handler {
	return append([]core.Handler{
		core.ReadWrite("ecn", func() string { return strconv.Itoa(int(c.ecn)) }, c.ecnValue),
	}, c.counters.handlers(&c.Base)...)
}
