package ip

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// ttlVerdict is DecIPTTL's decision for one packet.
type ttlVerdict uint8

const (
	ttlForward ttlVerdict = iota
	ttlExpired
	ttlMalformed
)

// DecIPTTL decrements the IP time-to-live, diverting expired packets.
type DecIPTTL struct {
	core.Base
	active    bool
	multicast bool
	expired   uint64
}

func init() {
	core.Register(core.Class{
		Name: "DecIPTTL", Ports: "1/1-2", Processing: "a/ah",
		New: func() core.Element { return &DecIPTTL{active: true, multicast: true} },
		Doc: core.Doc{
			Synopsis: "DecIPTTL([ACTIVE, MULTICAST])",
			Summary:  "decrements the IP time-to-live field",
			Description: `Expects packets with the network-header annotation set (CheckIPHeader or
MarkIPHeader). A packet whose TTL is 0 or 1 has expired: it goes to output
1 if it exists (usually to ICMPError(..., timeexceeded)) and is dropped
otherwise. Other packets get TTL-1 and their header checksum updated
incrementally (RFC 1624), so a valid checksum stays valid.

With MULTICAST false, multicast packets pass unchanged. With ACTIVE false
every packet passes unchanged. Packets without a usable IP header
annotation are dropped and counted in Base drops, never sent to output 1.`,
			Ports: "input 0: annotated IP packets; output 0: decremented packets; output 1 (optional): expired packets",
			Args: []core.Item{
				{Name: "ACTIVE", Text: "boolean, decrement at all (default true)"},
				{Name: "MULTICAST", Text: "boolean, decrement multicast packets too (default true)"},
			},
			Handlers: []core.Item{
				{Name: "drops", Text: "read: packets whose TTL expired"},
				{Name: "active", Text: "read/write: the ACTIVE setting"},
			},
			Example: "dec :: DecIPTTL; dec[1] -> ICMPError(10.0.0.1, timeexceeded) -> rt;",
		},
	})
}

// Configure parses the arguments.
func (d *DecIPTTL) Configure(a *core.Args) error {
	return a.Parse(
		core.Pos("ACTIVE", core.Bool(&d.active)),
		core.Pos("MULTICAST", core.Bool(&d.multicast)),
	)
}

// Process decrements TTLs in place; expired packets leave on output 1 (or
// are dropped without it). The runtime adapts it to push and pull.
func (d *DecIPTTL) Process(ctx *core.Ctx, b *packet.Batch) {
	if !d.active {
		return
	}
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		switch d.decrement(ctx, p) {
		case ttlExpired:
			d.expired++
			d.Reject(ctx, p)
			continue
		case ttlMalformed:
			d.Drop(ctx, p)
			continue
		}
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
}

func (d *DecIPTTL) decrement(ctx *core.Ctx, p *packet.Packet) ttlVerdict {
	ip := p.Network()
	if len(ip) < proto.IPv4MinHeaderLen {
		return ttlMalformed
	}
	if !d.multicast && ip[proto.IPOffDst]&0xf0 == 0xe0 {
		return ttlForward
	}
	ttl := ip[proto.IPOffTTL]
	if ttl <= 1 {
		return ttlExpired
	}
	p.Writable(ctx.Pool)
	ip = p.Network()
	// TTL shares a 16-bit checksum word with the protocol byte.
	old := uint16(ttl)<<8 | uint16(ip[proto.IPOffProto])
	ip[proto.IPOffTTL] = ttl - 1
	proto.UpdateSum16(ip[proto.IPOffSum:], old, old-0x100)
	return ttlForward
}

// Handlers exposes the expired count and the active switch.
func (d *DecIPTTL) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("drops", &d.expired),
		core.ReadWrite("active", func() string { return boolText(d.active) },
			func(s string) error { return core.Bool(&d.active)(s) }),
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
