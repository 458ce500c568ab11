package ip

import (
	"fmt"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// MarkIPHeader sets the network and transport header annotations without
// checking anything beyond what it needs to read the header length.
type MarkIPHeader struct {
	core.Base
	offset int
}

func init() {
	core.Register(core.Class{
		Name: "MarkIPHeader", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(MarkIPHeader) },
		Doc: core.Doc{
			Synopsis: "MarkIPHeader([OFFSET])",
			Summary:  "sets the IP header annotations",
			Description: `Marks the IPv4 header as starting OFFSET bytes into the packet data and
the transport header as following it (using the IHL field). Unlike
CheckIPHeader it validates nothing and sets no destination annotation.
Packets too short to hold a 20-byte header at OFFSET, or whose IHL is below
20 or runs past the data, cannot be marked and are dropped (counted).`,
			Ports: "input 0: IP packets; output 0: the same packets, annotated",
			Args:  []core.Item{{Name: "OFFSET", Text: "integer, byte offset of the IP header (default 0)"}},
			Handlers: []core.Item{
				{Name: "drops", Text: "read: packets dropped because the header did not fit"},
			},
			Example: "FromDevice(eth0) -> Strip(14) -> MarkIPHeader -> Print(ip) -> Discard",
		},
	})
}

// Configure parses OFFSET.
func (m *MarkIPHeader) Configure(a *core.Args) error {
	if err := a.Parse(core.Pos("OFFSET", core.Int(&m.offset))); err != nil {
		return err
	}
	if m.offset < 0 {
		return fmt.Errorf("OFFSET: must be >= 0")
	}
	return nil
}

// Process annotates each packet of the batch.
func (m *MarkIPHeader) Process(ctx *core.Ctx, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		if !m.mark(p) {
			m.Drop(ctx, p)
			continue
		}
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
}

func (m *MarkIPHeader) mark(p *packet.Packet) bool {
	d := p.Data()
	if len(d) < m.offset+20 {
		return false
	}
	hlen := int(d[m.offset]&0x0f) << 2
	if hlen < 20 || m.offset+hlen > len(d) {
		return false
	}
	p.SetNetworkAt(m.offset)
	p.SetTransportAt(m.offset + hlen)
	return true
}

// Handlers exposes the drop count.
func (m *MarkIPHeader) Handlers() []core.Handler {
	return []core.Handler{core.ReadUint("drops", &m.Drops)}
}
