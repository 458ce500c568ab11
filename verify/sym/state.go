package sym

import (
	"fmt"
	"sort"
	"sync"

	"flowbox/appliance/core"
)

// Layer indexes the header positions.
const (
	L2 = iota // Ethernet (the MAC annotation)
	L3        // IP (the network annotation)
	L4        // transport (the transport annotation)
)

// Unset marks an absent header position.
const Unset int32 = -1

// Headroom is where packet data starts in the symbolic buffer, as in the
// runtime's packet pool.
const Headroom = 128

// Field is a header field: Len bytes at absolute offset Off holding Val.
// Len 0 is the payload: a blob from Off to the end of the packet.
type Field struct {
	Off  int32
	Len  int32
	Name string
	Val  Expr
}

func (f Field) end() int32 {
	if f.Len == 0 {
		return 1 << 30
	}
	return f.Off + f.Len
}

// Snap is the packet as seen at one point of a path.
type Snap struct {
	Mem  []Field
	Head int32
	Anno [3]int32
	Hdr  [3]int32
	Meta map[string]Expr
}

// Hop is one element visit: arrival on In (with the packet then) and
// departure on Out (-1 when the path ended inside the element).
type Hop struct {
	Elem, Class string
	In, Out     int
	At, Left    Snap
}

// State is a symbolic packet on one path: header fields at absolute byte
// offsets, the data start, the runtime's header annotations (Anno), where
// the verifier knows the headers to be (Hdr, used by requirements), a
// metadata map for annotations and per-flow state pushed into the packet,
// the path's constraints and its history. Mem and Meta are copied on
// write, so snapshots and clones share them safely.
type State struct {
	Mem  []Field
	Head int32
	Anno [3]int32
	Hdr  [3]int32
	Meta map[string]Expr
	S    *Solver
	// Trail is the path so far (newest hop first, shared by forks).
	Trail *Trail
	// Init is the packet as injected.
	Init Snap
}

// Vars is the variable registry.
func (s *State) Vars() *Vars { return s.S.vars }

// Clone forks the state.
func (s *State) Clone() *State {
	c := *s
	c.S = s.S.Clone()
	return &c
}

// Snapshot captures the packet now.
func (s *State) Snapshot() Snap {
	return Snap{Mem: s.Mem, Head: s.Head, Anno: s.Anno, Hdr: s.Hdr, Meta: s.Meta}
}

// Meta returns the metadata value under key.
func (s *State) GetMeta(key string) (Expr, bool) {
	e, ok := s.Meta[key]
	return e, ok
}

// SetMeta sets (copying the map first) a metadata value.
func (s *State) SetMeta(key string, e Expr) {
	m := make(map[string]Expr, len(s.Meta)+1)
	for k, v := range s.Meta {
		m[k] = v
	}
	m[key] = e
	s.Meta = m
}

// DelMeta removes a metadata key.
func (s *State) DelMeta(key string) {
	if _, ok := s.Meta[key]; !ok {
		return
	}
	m := make(map[string]Expr, len(s.Meta))
	for k, v := range s.Meta {
		if k != key {
			m[k] = v
		}
	}
	s.Meta = m
}

// AnnoAt returns the annotation position of layer l if it is usable (set
// and not before the data start), as Packet.Network() etc. do.
func (s *State) AnnoAt(l int) (int32, bool) {
	a := s.Anno[l]
	return a, a >= 0 && a >= s.Head
}

// find returns the index of the field containing absolute byte b, or -1.
func findField(mem []Field, b int32) int {
	i := sort.Search(len(mem), func(i int) bool { return mem[i].end() > b })
	if i < len(mem) && mem[i].Off <= b {
		return i
	}
	return -1
}

// MemError is a memory-safety error: an access to bytes that hold no
// header field, or one the model cannot represent.
type MemError struct {
	Msg string
	// Unrepresentable marks accesses the symbolic packet cannot express
	// (a read across fields): the path is then unprovable, not an error.
	Unrepresentable bool
}

func (e *MemError) Error() string { return e.Msg }

// Load reads n (1-4) bytes at absolute offset off, which must lie in the
// data and within one field.
func (s *State) Load(off, n int32) (Expr, error) {
	if off < s.Head {
		return Expr{}, &MemError{Msg: fmt.Sprintf("read of %d bytes at %d before the packet data (%d)", n, off, s.Head)}
	}
	i := findField(s.Mem, off)
	if i < 0 {
		return Expr{}, &MemError{Msg: fmt.Sprintf("read of %d bytes at data offset %d: no header there", n, off-s.Head)}
	}
	f := s.Mem[i]
	if off+n > f.end() {
		return Expr{}, &MemError{Msg: fmt.Sprintf("read of %d bytes at data offset %d spans fields", n, off-s.Head), Unrepresentable: true}
	}
	if f.Len == 0 {
		return s.S.Derived(f.Val.V, off-f.Off, n), nil
	}
	if off == f.Off && n == f.Len {
		return f.Val, nil
	}
	lo := uint8(8 * (f.Off + f.Len - off - n))
	return f.Val.Extract(lo, uint8(8*n)), nil
}

// Field returns the field starting at absolute offset off.
func (s *State) Field(off int32) (Field, bool) {
	i := findField(s.Mem, off)
	if i < 0 || s.Mem[i].Off != off {
		return Field{}, false
	}
	return s.Mem[i], true
}

// Store writes e over the field that is exactly [off, off+n).
func (s *State) Store(off, n int32, e Expr) error {
	if off < s.Head {
		return &MemError{Msg: fmt.Sprintf("write at %d before the packet data", off)}
	}
	i := findField(s.Mem, off)
	if i < 0 || s.Mem[i].Off != off || s.Mem[i].Len != n {
		return &MemError{Msg: fmt.Sprintf("write of %d bytes at data offset %d: not a header field", n, off-s.Head), Unrepresentable: i >= 0}
	}
	mem := append([]Field(nil), s.Mem...)
	mem[i].Val = e
	s.Mem = mem
	return nil
}

// Put allocates field name of n bytes at off holding e, replacing whatever
// fields overlap it (as writing a new header over the headroom does).
func (s *State) Put(off, n int32, name string, e Expr) {
	mem := make([]Field, 0, len(s.Mem)+1)
	nf := Field{Off: off, Len: n, Name: name, Val: e}
	placed := false
	for _, f := range s.Mem {
		if f.Off < nf.end() && off < f.end() {
			continue // overwritten
		}
		if !placed && f.Off >= off {
			mem = append(mem, nf)
			placed = true
		}
		mem = append(mem, f)
	}
	if !placed {
		mem = append(mem, nf)
	}
	s.Mem = mem
}

// Layout is one header layout: fields at offsets from a header start.
type Layout []struct {
	Off, Len int32
	Name     string
}

// Header layouts used for injected packets and encapsulation.
var (
	EtherLayout = Layout{{0, 4, "eth dst"}, {4, 2, "eth dst lo"}, {6, 4, "eth src"}, {10, 2, "eth src lo"}, {12, 2, "ethertype"}}
	IPLayout    = Layout{{0, 1, "ver/ihl"}, {1, 1, "tos"}, {2, 2, "ip len"}, {4, 2, "ip id"}, {6, 2, "frag"},
		{8, 1, "ttl"}, {9, 1, "proto"}, {10, 2, "ip sum"}, {12, 4, "src"}, {16, 4, "dst"}}
	// L4Layout covers TCP, UDP and ICMP at once: UDP length/checksum and
	// ICMP type/code/checksum are parts of these fields.
	L4Layout = Layout{{0, 2, "src port"}, {2, 2, "dst port"}, {4, 4, "seq"}, {8, 4, "ack"}, {12, 1, "tcp off"},
		{13, 1, "tcp flags"}, {14, 2, "win"}, {16, 2, "l4 sum"}, {18, 2, "urg"}}
	UDPLayout = Layout{{0, 2, "src port"}, {2, 2, "dst port"}, {4, 2, "udp len"}, {6, 2, "udp sum"}}
)

// Size is the layout's length in bytes.
func (l Layout) Size() int32 {
	last := l[len(l)-1]
	return last.Off + last.Len
}

// Offset returns the offset of the named field in the layout.
func (l Layout) Offset(name string) (int32, int32, bool) {
	for _, f := range l {
		if f.Name == name {
			return f.Off, f.Len, true
		}
	}
	return 0, 0, false
}

// PutLayout allocates a header at off with fresh variables named
// prefix+field, or with the given values when vals has the field.
func (s *State) PutLayout(off int32, l Layout, prefix string, vals map[string]Expr) {
	for _, f := range l {
		e, ok := vals[f.Name]
		if !ok {
			e = s.S.vars.New(prefix+f.Name, uint8(8*f.Len))
		}
		s.Put(off+f.Off, f.Len, f.Name, e)
	}
}

// Packet kinds for NewPacket.
const (
	EtherFrame = iota // Ethernet + IP + transport + payload; MAC annotation set
	IPPacket          // IP + transport + payload at the data start, IP annotations set (after Strip(14) + CheckIPHeader)
)

// NewPacket builds an unconstrained symbolic packet of the given kind:
// every field is a fresh variable (IPv4 without options: IHL is 5).
func NewPacket(vs *Vars, kind int, prefix string) *State {
	s := &State{S: NewSolver(vs), Anno: [3]int32{Unset, Unset, Unset}, Hdr: [3]int32{Unset, Unset, Unset}}
	s.Meta = map[string]Expr{"paint": Const(8, 0), "dst anno": Const(32, 0)}
	off := int32(Headroom)
	s.Head = off
	if kind == EtherFrame {
		s.PutLayout(off, EtherLayout, prefix, nil)
		s.Hdr[L2] = off // FromDevice sets no MAC annotation
		off += 14
	}
	s.Hdr[L3] = off
	s.PutLayout(off, IPLayout, prefix, nil)
	vh, _ := s.Load(off, 1)
	s.S.In(vh, mustMasked(8, 0x0f, EQ, 5))
	s.Hdr[L4] = off + 20
	s.PutLayout(off+20, L4Layout, prefix, nil)
	s.Put(off+40, 0, "payload", vs.New(prefix+"payload", 0))
	if kind == IPPacket {
		s.Anno[L3], s.Anno[L4] = off, off+20
		dst, _ := s.Load(off+16, 4)
		s.Meta["dst anno"] = dst
	}
	s.Init = s.Snapshot()
	return s
}

func mustMasked(w uint8, mask uint32, op Cmp, v uint32) Set {
	set, _ := Masked(w, mask, op, v)
	return set
}

// Ctx is what a model's Push reports its results to.
type Ctx struct {
	Elem  string
	Class string
	NOut  int
	Out   func(port int, s *State)
	Stop  func(s *State, kind Outcome, reason string)
	Shout func(s *State, key string) // unused hook for tracing
}

// Outcome is how a path ends.
type Outcome uint8

const (
	Delivered  Outcome = iota // left through an exit (ToDevice) or reached the goal
	Dropped                   // an element dropped it (with a reason)
	Infeasible                // pruned: no packet takes this path
	Failed                    // memory-safety error or loop
	Unprovable                // an element without a model, or an opaque one
)

func (o Outcome) String() string {
	return [...]string{"delivered", "dropped", "infeasible", "error", "unprovable"}[o]
}

// Emit sends s out of output port.
func (x *Ctx) Emit(port int, s *State) {
	if s.S.Dead() {
		x.Stop(s, Infeasible, "constraints unsatisfiable")
		return
	}
	if port < 0 || port >= x.NOut {
		x.Stop(s, Dropped, fmt.Sprintf("output %d not connected", port))
		return
	}
	x.Out(port, s)
}

// Drop ends the path with a drop reason.
func (x *Ctx) Drop(s *State, reason string) { x.Stop(s, Dropped, reason) }

// Fail ends the path with a memory-safety or model error.
func (x *Ctx) Fail(s *State, err error) {
	if me, ok := err.(*MemError); ok && me.Unrepresentable {
		x.Stop(s, Unprovable, err.Error())
		return
	}
	x.Stop(s, Failed, err.Error())
}

// Opaque ends the path as unprovable.
func (x *Ctx) Opaque(s *State, reason string) { x.Stop(s, Unprovable, reason) }

// Behavior is the symbolic behaviour of one configured element.
type Behavior interface {
	// Push processes s arriving on input port in, reporting every
	// resulting path to x (Emit, Drop, Fail, Opaque). It may fork s.
	Push(x *Ctx, in int, s *State)
}

// Push adapts a function to Behavior.
type Push func(x *Ctx, in int, s *State)

// Push implements Behavior.
func (f Push) Push(x *Ctx, in int, s *State) { f(x, in, s) }

// Model builds the behaviour of a configured element. Element packages
// register one per class with core.SetModel(class, sym.Model(...)).
type Model func(e core.Element) (Behavior, error)

// Opaque marks a class whose behaviour cannot be modelled (scripts).
type Opaque struct{ Reason string }

// Identity forwards input i to output i unchanged.
var Identity Model = func(core.Element) (Behavior, error) {
	return Push(func(x *Ctx, in int, s *State) {
		if x.NOut == 1 {
			x.Emit(0, s)
			return
		}
		x.Emit(in, s)
	}), nil
}

// Fork tries each branch on its own clone; fn applies constraints and
// returns false when they are unsatisfiable.
func (s *State) Fork(fn func(*State) bool) *State {
	c := s.Clone()
	if !fn(c) || c.S.Dead() || !c.S.Feasible() {
		return nil
	}
	return c
}

var (
	regMu  sync.Mutex
	models = map[string]any{}
)

// SetModel registers the model of class (a Model or an Opaque) with
// core.SetModel and in this package's registry, so a model may be
// registered before its class is (init order within a package follows
// file names).
func SetModel(class string, m any) {
	regMu.Lock()
	models[class] = m
	regMu.Unlock()
	core.SetModel(class, m)
}

// ModelFor returns the model registered for class: the class's Model
// field, else this registry's entry.
func ModelFor(class string) any {
	if c := core.Lookup(class); c != nil && c.Model != nil {
		return c.Model
	}
	regMu.Lock()
	defer regMu.Unlock()
	return models[class]
}

// Trail is a path's history as a persistent list: forks share their
// common prefix, so extending a path never copies it. Marked hops (the
// ones requirements may name) are chained for fast matching.
type Trail struct {
	Hop
	Prev     *Trail
	First    *Trail // the path's first hop
	Depth    int    // hops so far, this one included
	Marked   bool   // a watched hop
	LastMark *Trail // nearest marked hop at or before this one
	PrevMark *Trail // for a marked hop: the marked hop before it
}

// PushHop extends the path.
func (s *State) PushHop(h Hop, marked bool) {
	t := &Trail{Hop: h, Prev: s.Trail, Depth: 1, Marked: marked}
	t.First = t
	if s.Trail != nil {
		t.Depth = s.Trail.Depth + 1
		t.LastMark = s.Trail.LastMark
		t.First = s.Trail.First
	}
	if marked {
		t.PrevMark = t.LastMark
		t.LastMark = t
	}
	s.Trail = t
}

// SetLeft records that the packet leaves the current hop on port out.
func (s *State) SetLeft(out int) {
	old := s.Trail
	t := *old
	t.Out, t.Left = out, s.Snapshot()
	if t.First == old {
		t.First = &t
	}
	if t.Marked {
		t.LastMark = &t
	}
	s.Trail = &t
}

// Last is the newest hop (nil before any).
func (s *State) Last() *Hop {
	if s.Trail == nil {
		return nil
	}
	return &s.Trail.Hop
}

// Hops lists the path oldest first.
func (s *State) Hops() []Hop {
	n := 0
	if s.Trail != nil {
		n = s.Trail.Depth
	}
	out := make([]Hop, n)
	for t := s.Trail; t != nil; t = t.Prev {
		if t.Depth-1 < len(out) && t.Depth >= 1 {
			out[t.Depth-1] = t.Hop
		}
	}
	return out
}

// Marks lists the marked hops oldest first.
func (s *State) Marks() []*Trail {
	var out []*Trail
	if s.Trail == nil {
		return nil
	}
	for t := s.Trail.LastMark; t != nil; t = t.PrevMark {
		out = append(out, t)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
