package ether

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// EtherRewrite overwrites the addresses of an existing Ethernet header.
type EtherRewrite struct {
	core.Base
	addrs [12]byte // destination then source, as they sit in the header
}

func init() {
	core.Register(core.Class{
		Name: "EtherRewrite", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(EtherRewrite) },
		Doc: core.Doc{
			Synopsis: "EtherRewrite(SRC, DST)",
			Summary:  "rewrites Ethernet source and destination",
			Description: `Expects frames starting with an Ethernet header and sets its source to SRC
and destination to DST, keeping the type. Unlike EtherEncap it adds no
header. Frames shorter than an Ethernet header are dropped (counted).`,
			Ports: "input 0: Ethernet frames; output 0: rewritten frames",
			Args: []core.Item{
				{Name: "SRC", Text: "Ethernet address, the new source (mandatory)"},
				{Name: "DST", Text: "Ethernet address, the new destination (mandatory)"},
			},
			Handlers: []core.Item{
				{Name: "src", Text: "read/write: source address"},
				{Name: "dst", Text: "read/write: destination address"},
				{Name: "drops", Text: "read: runt frames dropped"},
			},
			Example: "FromDevice(eth0) -> EtherRewrite(00:11:22:33:44:55, 66:77:88:99:aa:bb) -> ToDevice(eth1)",
		},
	})
}

func (r *EtherRewrite) src() *[6]byte { return (*[6]byte)(r.addrs[6:12]) }
func (r *EtherRewrite) dst() *[6]byte { return (*[6]byte)(r.addrs[0:6]) }

// Configure parses the arguments.
func (r *EtherRewrite) Configure(a *core.Args) error {
	return a.Parse(
		core.Pos("SRC", macValue(r.src())).Required(),
		core.Pos("DST", macValue(r.dst())).Required(),
	)
}

// Process rewrites every frame of the batch.
func (r *EtherRewrite) Process(ctx *core.Ctx, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		if p.Len() < headerLen {
			r.Drop(ctx, p)
			continue
		}
		copy(p.Writable(ctx.Pool), r.addrs[:])
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
}

// Handlers exposes the addresses.
func (r *EtherRewrite) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadWrite("src", func() string { return formatMAC(*r.src()) }, macValue(r.src())),
		core.ReadWrite("dst", func() string { return formatMAC(*r.dst()) }, macValue(r.dst())),
		core.ReadUint("drops", &r.Drops),
	}
}
