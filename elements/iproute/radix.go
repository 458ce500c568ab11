package iproute

import (
	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// RadixIPLookup routes packets through a Table (multibit trie): constant
// lookup cost whatever the number of routes.
type RadixIPLookup struct {
	lookupBase
	t *Table
}

func (e *RadixIPLookup) Configure(a *core.Args) error {
	e.t = NewTable()
	e.eng = e.t
	return e.configureRoutes(a)
}

func (e *RadixIPLookup) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	t := e.t
	for _, p := range b.P[:b.N] {
		v := t.find(addrU32(p.Anno.DstIP))
		if v == 0 {
			e.noRoute++
			e.Drop(ctx, p)
			continue
		}
		r := &t.entries[v-1]
		if r.hasGW {
			p.Anno.DstIP = r.gw4
		}
		e.Emit(ctx, r.Out, p)
	}
	b.N = 0
	e.Flush(ctx)
}

// Table exposes the element's route table (for the verifier and tests).
func (e *RadixIPLookup) Table() *Table { return e.t }

// TakeState keeps run-time route changes across a hot reconfiguration
// when the configuration string is unchanged (see lookupBase.takeRoutes).
func (e *RadixIPLookup) TakeState(old core.Element) {
	o, ok := old.(*RadixIPLookup)
	if !ok {
		return
	}
	fresh := NewTable()
	if e.takeRoutes(&o.lookupBase, fresh) {
		e.t = fresh
	}
}

func init() {
	core.Register(core.Class{
		Name: "RadixIPLookup", Ports: "1/-", Processing: "h/h",
		New: func() core.Element {
			e := new(RadixIPLookup)
			e.mutable = true
			return e
		},
		Doc: core.Doc{
			Synopsis: "RadixIPLookup(ADDR/MASK [GW] OUT, ...)",
			Summary:  "IP routing lookup through a multibit trie",
			Description: "Looks up the destination IP annotation of each packet in a route table and emits it " +
				"on the output of the most specific matching route. " + routeArgsDoc + "\n\n" +
				"The table is a multibit trie: a 65536-way root indexed by the top 16 address bits, then " +
				"16-way levels of 4 bits, with prefixes expanded over the slots they cover, so a lookup reads " +
				"at most five slots and never backtracks. It holds hundreds of thousands of routes; adding or " +
				"removing one touches only the slots under its prefix. Packets that match no route are " +
				"dropped and counted (no_route).\n\n" +
				"Routes changed at run time survive a hot reconfiguration that keeps this element with an " +
				"unchanged configuration string; if the configuration string changed, the new configuration " +
				"is authoritative and run-time changes are dropped.",
			Ports:    portsDoc,
			Args:     []core.Item{{Name: "ROUTE", Text: "`ADDR/MASK [GW] OUT`, any number; OUT must be an existing output"}},
			Handlers: handlerDocs(true),
			Example: "rt :: RadixIPLookup(10.0.0.0/8 0, 10.1.0.0/16 10.0.0.1 1, 0.0.0.0/0 192.168.1.1 2);\n" +
				"// read rt.lookup 10.1.2.3   -> \"1 10.0.0.1\"\n" +
				"// write rt.ctrl \"remove 10.1.0.0/16\\nadd 10.2.0.0/16 1\"",
		},
	})
}
