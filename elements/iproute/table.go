// Package iproute holds the IPv4 route lookup elements (LinearIPLookup,
// StaticIPLookup, RadixIPLookup) and Table, the longest-prefix-match
// structure RadixIPLookup uses, exported so the verifier can reuse it.
package iproute

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Route is one routing-table entry: packets whose destination falls in
// Prefix leave on output Out, with the destination annotation rewritten to
// GW when GW is valid.
type Route struct {
	Prefix netip.Prefix
	GW     netip.Addr // invalid (zero) when the route has no gateway
	Out    int
}

// String renders the route as it is configured: "ADDR/LEN [GW] OUT".
func (r Route) String() string {
	if r.GW.IsValid() {
		return fmt.Sprintf("%s %s %d", r.Prefix, r.GW, r.Out)
	}
	return fmt.Sprintf("%s %d", r.Prefix, r.Out)
}

// ErrExists and ErrNotFound are returned by Table.Add and Table.Remove.
var (
	ErrExists   = errors.New("route already exists")
	ErrNotFound = errors.New("route not found")
)

// The trie: a 65536-way root indexed by the top 16 address bits, then
// 16-way nodes, one per further 4 bits (at most four levels below the
// root), so a lookup touches at most five cache lines. Prefixes whose
// length is not a stride boundary are expanded over the slots they cover
// (controlled prefix expansion); each slot remembers only the best route
// covering it, so lookup never backtracks.
const (
	rootBits   = 16
	strideBits = 4
	fanout     = 1 << strideBits
	childFlag  = 1 << 31
)

// slot values: 0 = no route; childFlag|n = child node n; otherwise
// route index + 1.

// entry is a stored route plus its precomputed packet-path form.
type entry struct {
	Route
	gw4   [4]byte
	hasGW bool
	live  bool
}

// Table is an IPv4 longest-prefix-match table. Lookup is allocation free;
// Add and Remove run on the control plane. The zero value is not usable:
// call NewTable.
type Table struct {
	root       []uint32
	nodes      []uint32 // child nodes, fanout slots each
	freeNodes  []uint32
	entries    []entry // slot value v refers to entries[v-1]
	freeRoutes []uint32
	byPrefix   map[netip.Prefix]uint32 // control plane only: prefix -> entry index
}

// NewTable returns an empty table.
func NewTable() *Table {
	return &Table{root: make([]uint32, 1<<rootBits), byPrefix: map[netip.Prefix]uint32{}}
}

// Len is the number of routes.
func (t *Table) Len() int { return len(t.byPrefix) }

func addrU32(a [4]byte) uint32 {
	return uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
}

// find returns the slot value of the best route for dst (0 if none). It is
// the packet path: no allocation, no map.
func (t *Table) find(dst uint32) uint32 {
	v := t.root[dst>>(32-rootBits)]
	shift := 32 - rootBits - strideBits
	for v&childFlag != 0 {
		v = t.nodes[int(v&^childFlag)*fanout+int(dst>>shift&(fanout-1))]
		shift -= strideBits
	}
	return v
}

// Lookup returns the longest-prefix route for an IPv4 address.
func (t *Table) Lookup(a netip.Addr) (Route, bool) {
	if !a.Is4() {
		return Route{}, false
	}
	v := t.find(addrU32(a.As4()))
	if v == 0 {
		return Route{}, false
	}
	return t.entries[v-1].Route, true
}

// Get returns the route stored for exactly prefix p.
func (t *Table) Get(p netip.Prefix) (Route, bool) {
	i, ok := t.byPrefix[p.Masked()]
	if !ok {
		return Route{}, false
	}
	return t.entries[i].Route, true
}

// Routes lists the routes in table order (insertion order, with removed
// slots reused by later additions).
func (t *Table) Routes() []Route {
	out := make([]Route, 0, len(t.byPrefix))
	for i := range t.entries {
		if t.entries[i].live {
			out = append(out, t.entries[i].Route)
		}
	}
	return out
}

// Clone returns an independent copy of the table.
func (t *Table) Clone() *Table {
	c := &Table{
		root:       slices.Clone(t.root),
		nodes:      slices.Clone(t.nodes),
		freeNodes:  slices.Clone(t.freeNodes),
		entries:    slices.Clone(t.entries),
		freeRoutes: slices.Clone(t.freeRoutes),
		byPrefix:   make(map[netip.Prefix]uint32, len(t.byPrefix)),
	}
	for k, v := range t.byPrefix {
		c.byPrefix[k] = v
	}
	return c
}

func checkRoute(r Route) (Route, error) {
	if !r.Prefix.IsValid() || !r.Prefix.Addr().Is4() {
		return r, fmt.Errorf("expected IPv4 prefix, got %v", r.Prefix)
	}
	if r.GW.IsValid() && !r.GW.Is4() {
		return r, fmt.Errorf("expected IPv4 gateway, got %v", r.GW)
	}
	if r.Out < 0 {
		return r, fmt.Errorf("bad output port %d", r.Out)
	}
	r.Prefix = r.Prefix.Masked()
	return r, nil
}

// Add inserts r; it fails with ErrExists if a route for the same prefix is
// already present.
func (t *Table) Add(r Route) error {
	r, err := checkRoute(r)
	if err != nil {
		return err
	}
	if _, dup := t.byPrefix[r.Prefix]; dup {
		return ErrExists
	}
	t.insert(r)
	return nil
}

// Set inserts r, replacing any route for the same prefix; it returns the
// replaced route.
func (t *Table) Set(r Route) (old Route, replaced bool, err error) {
	r, err = checkRoute(r)
	if err != nil {
		return Route{}, false, err
	}
	if i, ok := t.byPrefix[r.Prefix]; ok {
		// Same prefix, same slots: updating the entry in place is enough.
		old = t.entries[i].Route
		t.entries[i] = makeEntry(r)
		return old, true, nil
	}
	t.insert(r)
	return Route{}, false, nil
}

// Remove deletes the route for prefix p and returns it.
func (t *Table) Remove(p netip.Prefix) (Route, error) {
	p = p.Masked()
	i, ok := t.byPrefix[p]
	if !ok {
		return Route{}, ErrNotFound
	}
	old := t.entries[i].Route
	delete(t.byPrefix, p)
	// Slots that held this route fall back to the best remaining route
	// covering the whole prefix: any longer route would already own them.
	var parent uint32
	for l := p.Bits() - 1; l >= 0; l-- {
		if j, ok := t.byPrefix[netip.PrefixFrom(p.Addr(), l).Masked()]; ok {
			parent = j + 1
			break
		}
	}
	t.replaceIn(p, i+1, parent)
	t.entries[i] = entry{}
	t.freeRoutes = append(t.freeRoutes, i)
	return old, nil
}

func makeEntry(r Route) entry {
	e := entry{Route: r, live: true}
	if r.GW.IsValid() {
		e.gw4, e.hasGW = r.GW.As4(), true
	}
	return e
}

func (t *Table) newEntry(r Route) uint32 {
	var i uint32
	if n := len(t.freeRoutes); n > 0 {
		i = t.freeRoutes[n-1]
		t.freeRoutes = t.freeRoutes[:n-1]
		t.entries[i] = makeEntry(r)
	} else {
		i = uint32(len(t.entries))
		t.entries = append(t.entries, makeEntry(r))
	}
	t.byPrefix[r.Prefix] = i
	return i
}

func (t *Table) insert(r Route) {
	v := t.newEntry(r) + 1
	t.walk(r.Prefix, func(slot *uint32) {
		t.claim(slot, v, r.Prefix.Bits())
	})
}

// walk calls fn for each slot the prefix covers completely, creating child
// nodes on the way down for prefixes longer than the root stride. Slot
// pointers are only valid during the call (nodes may grow afterwards).
func (t *Table) walk(p netip.Prefix, fn func(slot *uint32)) {
	addr := addrU32(p.Addr().As4())
	bits := p.Bits()
	if bits <= rootBits {
		first := addr >> (32 - rootBits)
		for k := uint32(0); k < 1<<(rootBits-bits); k++ {
			fn(&t.root[first+k])
		}
		return
	}
	// Descend: the root slot and each level's slot on the prefix's path
	// get a child node if they hold a leaf.
	slotNode, slotIdx := -1, int(addr>>(32-rootBits))
	depth := rootBits
	for depth+strideBits < bits {
		n := t.childOf(slotNode, slotIdx)
		depth += strideBits
		slotNode, slotIdx = int(n), int(addr>>(32-depth)&(fanout-1))
	}
	n := t.childOf(slotNode, slotIdx)
	depth += strideBits
	first := int(addr >> (32 - depth) & (fanout - 1))
	for k := 0; k < 1<<(depth-bits); k++ {
		fn(&t.nodes[int(n)*fanout+first+k])
	}
}

func (t *Table) slotPtr(node, idx int) *uint32 {
	if node < 0 {
		return &t.root[idx]
	}
	return &t.nodes[node*fanout+idx]
}

// childOf returns the child node under slot (node, idx), creating it
// filled with the slot's current leaf when the slot is a leaf.
func (t *Table) childOf(node, idx int) uint32 {
	v := *t.slotPtr(node, idx)
	if v&childFlag != 0 {
		return v &^ childFlag
	}
	n := t.allocNode(v)
	*t.slotPtr(node, idx) = childFlag | n
	return n
}

func (t *Table) allocNode(fill uint32) uint32 {
	var n uint32
	if k := len(t.freeNodes); k > 0 {
		n = t.freeNodes[k-1]
		t.freeNodes = t.freeNodes[:k-1]
	} else {
		n = uint32(len(t.nodes) / fanout)
		t.nodes = append(t.nodes, make([]uint32, fanout)...)
	}
	s := t.nodes[int(n)*fanout : int(n+1)*fanout]
	for i := range s {
		s[i] = fill
	}
	return n
}

// claim gives slot (and everything below it) to route v of length bits
// wherever the current owner is a shorter (less specific) route.
func (t *Table) claim(slot *uint32, v uint32, bits int) {
	cur := *slot
	if cur&childFlag != 0 {
		n := int(cur &^ childFlag)
		for k := 0; k < fanout; k++ {
			t.claim(&t.nodes[n*fanout+k], v, bits)
		}
		return
	}
	if cur == 0 || t.entries[cur-1].Prefix.Bits() <= bits {
		*slot = v
	}
}

// replaceIn rewrites every slot under prefix p holding route old to hold
// repl, freeing child nodes that become uniform.
func (t *Table) replaceIn(p netip.Prefix, old, repl uint32) {
	t.walk(p, func(slot *uint32) { t.replace(slot, old, repl) })
	t.collapsePath(p)
}

func (t *Table) replace(slot *uint32, old, repl uint32) {
	cur := *slot
	if cur&childFlag != 0 {
		n := int(cur &^ childFlag)
		for k := 0; k < fanout; k++ {
			t.replace(&t.nodes[n*fanout+k], old, repl)
		}
		if u, ok := t.uniform(n); ok {
			t.freeNode(n)
			*slot = u
		}
		return
	}
	if cur == old {
		*slot = repl
	}
}

// collapsePath frees the nodes on p's path that became uniform leaves,
// deepest first, so churn does not leak nodes.
func (t *Table) collapsePath(p netip.Prefix) {
	addr := addrU32(p.Addr().As4())
	type step struct{ node, idx int }
	var path [8]step
	n := 0
	node, idx := -1, int(addr>>(32-rootBits))
	depth := rootBits
	for {
		v := *t.slotPtr(node, idx)
		if v&childFlag == 0 || depth >= p.Bits() {
			break
		}
		path[n] = step{node, idx}
		n++
		node = int(v &^ childFlag)
		depth += strideBits
		idx = int(addr >> (32 - depth) & (fanout - 1))
	}
	for n > 0 {
		n--
		s := path[n]
		child := int(*t.slotPtr(s.node, s.idx) &^ childFlag)
		u, ok := t.uniform(child)
		if !ok {
			return
		}
		t.freeNode(child)
		*t.slotPtr(s.node, s.idx) = u
	}
}

// uniform reports whether node n holds the same leaf in every slot.
func (t *Table) uniform(n int) (uint32, bool) {
	s := t.nodes[n*fanout : (n+1)*fanout]
	for _, v := range s {
		if v != s[0] || v&childFlag != 0 {
			return 0, false
		}
	}
	return s[0], true
}

func (t *Table) freeNode(n int) { t.freeNodes = append(t.freeNodes, uint32(n)) }
