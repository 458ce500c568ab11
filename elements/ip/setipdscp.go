package ip

import (
	"fmt"
	"strconv"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// SetIPDSCP sets the differentiated-services code point of IP packets.
type SetIPDSCP struct {
	core.Base
	dscp uint8
}

func init() {
	core.Register(core.Class{
		Name: "SetIPDSCP", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(SetIPDSCP) },
		Doc: core.Doc{
			Synopsis: "SetIPDSCP(DSCP)",
			Summary:  "sets the IP DSCP field",
			Description: `Sets the upper six bits of the IP TOS byte to DSCP, keeping the two ECN
bits, and updates the header checksum incrementally (RFC 1624). Expects the
network-header annotation; packets without a consistent IP header are
dropped (counted).`,
			Ports: "input 0: annotated IP packets; output 0: the same packets, remarked",
			Args:  []core.Item{{Name: "DSCP", Text: "integer 0-63, the code point (mandatory)"}},
			Handlers: []core.Item{
				{Name: "dscp", Text: "read/write: the code point"},
				{Name: "drops", Text: "read: malformed packets dropped"},
			},
			Example: "CheckIPHeader -> SetIPDSCP(46) -> ...",
		},
	})
}

// Configure parses DSCP.
func (s *SetIPDSCP) Configure(a *core.Args) error {
	return a.Parse(core.Pos("DSCP", s.dscpValue).Required())
}

func (s *SetIPDSCP) dscpValue(v string) error {
	var d uint8
	if err := core.Uint8(&d)(v); err != nil || d > 63 {
		return fmt.Errorf("expected DSCP 0-63, got %q", v)
	}
	s.dscp = d
	return nil
}

// Process remarks every packet of the batch.
func (s *SetIPDSCP) Process(ctx *core.Ctx, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		ip, _, _, ok := writableHeader(ctx, p)
		if !ok {
			s.Drop(ctx, p)
			continue
		}
		// The TOS byte shares a 16-bit checksum word with version/IHL.
		old := uint16(ip[0])<<8 | uint16(ip[proto.IPOffTOS])
		ip[proto.IPOffTOS] = s.dscp<<2 | ip[proto.IPOffTOS]&0x03
		proto.UpdateSum16(ip[proto.IPOffSum:], old, uint16(ip[0])<<8|uint16(ip[proto.IPOffTOS]))
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
}

// Handlers exposes the code point and drop count.
func (s *SetIPDSCP) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadWrite("dscp", func() string { return strconv.Itoa(int(s.dscp)) }, s.dscpValue),
		core.ReadUint("drops", &s.Drops),
	}
}
