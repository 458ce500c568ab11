package ether

import (
	"encoding/binary"
	"strconv"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// EtherEncap prepends an Ethernet header.
type EtherEncap struct {
	core.Base
	dst, src  [6]byte
	etherType uint16
}

func init() {
	core.Register(core.Class{
		Name: "EtherEncap", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(EtherEncap) },
		Doc: core.Doc{
			Synopsis: "EtherEncap(ETHERTYPE, SRC, DST)",
			Summary:  "encapsulates packets in an Ethernet header",
			Description: `Prepends a 14-byte Ethernet header (destination DST, source SRC, type
ETHERTYPE) using the packet's headroom, so nothing is copied. ETHERTYPE is
given in host order, like 0x0800 for IPv4. The Ethernet header annotation
is set. Packets without 14 bytes of headroom are dropped (counted).`,
			Ports: "input 0: any packets (usually IP); output 0: Ethernet frames",
			Args: []core.Item{
				{Name: "ETHERTYPE", Text: "16-bit integer, the frame type (mandatory)"},
				{Name: "SRC", Text: "Ethernet address, the source (mandatory)"},
				{Name: "DST", Text: "Ethernet address, the destination (mandatory)"},
			},
			Handlers: []core.Item{
				{Name: "src", Text: "read/write: source address"},
				{Name: "dst", Text: "read/write: destination address"},
				{Name: "ethertype", Text: "read/write: frame type (read back in decimal)"},
				{Name: "drops", Text: "read: packets dropped for lack of headroom"},
			},
			Example: "IPEncap(udp, 10.0.0.1, 10.0.0.2) -> EtherEncap(0x0800, 00:11:22:33:44:55, 66:77:88:99:aa:bb) -> ToDevice(eth0)",
		},
	})
}

// Configure parses the arguments.
func (e *EtherEncap) Configure(a *core.Args) error {
	return a.Parse(
		core.Pos("ETHERTYPE", etherTypeValue(&e.etherType)).Required(),
		core.Pos("SRC", macValue(&e.src)).Required(),
		core.Pos("DST", macValue(&e.dst)).Required(),
	)
}

// Process encapsulates every packet of the batch.
func (e *EtherEncap) Process(ctx *core.Ctx, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		if !p.Push(ctx.Pool, headerLen) {
			e.Drop(ctx, p)
			continue
		}
		h := p.Writable(ctx.Pool)
		copy(h[0:6], e.dst[:])
		copy(h[6:12], e.src[:])
		binary.BigEndian.PutUint16(h[12:14], e.etherType)
		p.SetMacAt(0)
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
}

// Handlers exposes the header fields.
func (e *EtherEncap) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadWrite("src", func() string { return formatMAC(e.src) }, macValue(&e.src)),
		core.ReadWrite("dst", func() string { return formatMAC(e.dst) }, macValue(&e.dst)),
		core.ReadWrite("ethertype", func() string { return strconv.Itoa(int(e.etherType)) }, etherTypeValue(&e.etherType)),
		core.ReadUint("drops", &e.Drops),
	}
}
