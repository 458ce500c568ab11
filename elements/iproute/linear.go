package iproute

import (
	"net/netip"
	"slices"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// linearTable keeps routes in a slice and scans it per packet: the right
// structure for the handful of routes a host or small router has, where a
// scan over one or two cache lines beats any trie.
type linearTable struct {
	routes []Route       // table order (what `table` prints)
	scan   []linearEntry // most specific first, so the first match wins
}

type linearEntry struct {
	addr, mask uint32
	out        int32
	hasGW      bool
	gw         [4]byte
	route      int // index in routes
}

func prefixMask(bits int) uint32 {
	if bits == 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}

func (t *linearTable) index(p netip.Prefix) int {
	return slices.IndexFunc(t.routes, func(r Route) bool { return r.Prefix == p })
}

// rebuild recomputes the scan order after a control-plane change.
func (t *linearTable) rebuild() {
	t.scan = t.scan[:0]
	for i, r := range t.routes {
		e := linearEntry{addr: addrU32(r.Prefix.Addr().As4()), mask: prefixMask(r.Prefix.Bits()), out: int32(r.Out), route: i}
		if r.GW.IsValid() {
			e.hasGW, e.gw = true, r.GW.As4()
		}
		t.scan = append(t.scan, e)
	}
	slices.SortStableFunc(t.scan, func(a, b linearEntry) int {
		return int(b.mask>>1) - int(a.mask>>1) // longer mask first
	})
}

func (t *linearTable) Add(r Route) error {
	r, err := checkRoute(r)
	if err != nil {
		return err
	}
	if t.index(r.Prefix) >= 0 {
		return ErrExists
	}
	t.routes = append(t.routes, r)
	t.rebuild()
	return nil
}

func (t *linearTable) Set(r Route) (Route, bool, error) {
	r, err := checkRoute(r)
	if err != nil {
		return Route{}, false, err
	}
	if i := t.index(r.Prefix); i >= 0 {
		old := t.routes[i]
		t.routes[i] = r
		t.rebuild()
		return old, true, nil
	}
	t.routes = append(t.routes, r)
	t.rebuild()
	return Route{}, false, nil
}

func (t *linearTable) Remove(p netip.Prefix) (Route, error) {
	i := t.index(p.Masked())
	if i < 0 {
		return Route{}, ErrNotFound
	}
	old := t.routes[i]
	t.routes = slices.Delete(t.routes, i, i+1)
	t.rebuild()
	return old, nil
}

func (t *linearTable) Get(p netip.Prefix) (Route, bool) {
	if i := t.index(p.Masked()); i >= 0 {
		return t.routes[i], true
	}
	return Route{}, false
}

func (t *linearTable) Lookup(a netip.Addr) (Route, bool) {
	if !a.Is4() {
		return Route{}, false
	}
	i := t.find(addrU32(a.As4()))
	if i < 0 {
		return Route{}, false
	}
	return t.routes[t.scan[i].route], true
}

func (t *linearTable) Routes() []Route { return slices.Clone(t.routes) }

// find returns the index in scan of the most specific match, or -1.
func (t *linearTable) find(dst uint32) int {
	for i := range t.scan {
		if dst&t.scan[i].mask == t.scan[i].addr {
			return i
		}
	}
	return -1
}

// linearElement is the packet path shared by LinearIPLookup and
// StaticIPLookup.
type linearElement struct {
	lookupBase
	t *linearTable
}

func (e *linearElement) Configure(a *core.Args) error {
	e.t = &linearTable{}
	e.eng = e.t
	return e.configureRoutes(a)
}

func (e *linearElement) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	for _, p := range b.P[:b.N] {
		i := e.t.find(addrU32(p.Anno.DstIP))
		if i < 0 {
			e.noRoute++
			e.Drop(ctx, p)
			continue
		}
		r := &e.t.scan[i]
		if r.hasGW {
			p.Anno.DstIP = r.gw
		}
		e.Emit(ctx, int(r.out), p)
	}
	b.N = 0
	e.Flush(ctx)
}

// LinearIPLookup is a route table searched linearly; routes can be changed
// at run time.
type LinearIPLookup struct{ linearElement }

// StaticIPLookup is LinearIPLookup without the handlers that change routes.
type StaticIPLookup struct{ linearElement }

// TakeState keeps run-time route changes across a hot reconfiguration
// when the configuration string is unchanged (see lookupBase.takeRoutes).
func (e *LinearIPLookup) TakeState(old core.Element) {
	o, ok := old.(*LinearIPLookup)
	if !ok {
		return
	}
	fresh := &linearTable{}
	if e.takeRoutes(&o.lookupBase, fresh) {
		e.t = fresh
	}
}

func init() {
	core.Register(core.Class{
		Name: "LinearIPLookup", Ports: "1/-", Processing: "h/h",
		New: func() core.Element {
			e := new(LinearIPLookup)
			e.mutable = true
			return e
		},
		Doc: core.Doc{
			Synopsis: "LinearIPLookup(ADDR/MASK [GW] OUT, ...)",
			Summary:  "IP routing lookup through a linear scan of the routes",
			Description: "Looks up the destination IP annotation of each packet in a route table and emits it " +
				"on the output of the most specific matching route. " + routeArgsDoc + "\n\n" +
				"The table is scanned from the most specific route down, so the cost grows with the number of " +
				"routes: use RadixIPLookup beyond a few dozen routes. Packets that match no route are dropped " +
				"and counted (no_route). Routes can be changed at run time; when a hot reconfiguration keeps " +
				"this element with an unchanged configuration string, the run-time changes are kept, otherwise " +
				"the new configuration replaces them.",
			Ports:    portsDoc,
			Args:     []core.Item{{Name: "ROUTE", Text: "`ADDR/MASK [GW] OUT`, any number; OUT must be an existing output"}},
			Handlers: handlerDocs(true),
			Example: "rt :: LinearIPLookup(18.26.4.24/32 0, 18.26.4.0/24 1, 0.0.0.0/0 18.26.4.1 1);\n" +
				"// write rt.add 10.0.0.0/8 18.26.4.2 1",
		},
	})
	core.Register(core.Class{
		Name: "StaticIPLookup", Ports: "1/-", Processing: "h/h",
		New: func() core.Element { return new(StaticIPLookup) },
		Doc: core.Doc{
			Synopsis: "StaticIPLookup(ADDR/MASK [GW] OUT, ...)",
			Summary:  "IP routing lookup in a fixed table",
			Description: "LinearIPLookup whose routes are fixed by the configuration: it has no add, set, " +
				"remove or ctrl handlers. " + routeArgsDoc + " Packets that match no route are dropped and " +
				"counted (no_route).",
			Ports:    portsDoc,
			Args:     []core.Item{{Name: "ROUTE", Text: "`ADDR/MASK [GW] OUT`, any number; OUT must be an existing output"}},
			Handlers: handlerDocs(false),
			Example:  "StaticIPLookup(10.0.0.0/8 0, 0.0.0.0/0 192.168.1.1 1)",
		},
	})
}
