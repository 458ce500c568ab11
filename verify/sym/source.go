package sym

// Where a symbolic packet is injected, its layout must be the one the
// start element really emits; a requirement may start at a device, at a
// packet generator or anywhere inside a configuration:
//
//   - a packet generator (an element without inputs, such as RatedSource)
//     declares what it emits through its model: the behaviour implements
//     Source. DataSource is the usual one: a fixed frame, read as Ethernet
//     + IPv4 + transport + payload, its header fields the frame's bytes;
//   - FromDevice emits unconstrained Ethernet frames (NewPacket(EtherFrame));
//   - any other element: package verify explores from the devices and
//     generators with unconstrained packets of their layouts, takes the
//     shapes (header positions and fields) the packet has where it leaves
//     the start element, and injects a fresh packet of each (Generalize).

// Source is implemented by the behaviour of a packet generator: Emitted
// builds the packet it emits on output port.
type Source interface {
	Behavior
	Emitted(vs *Vars, port int) *State
}

// DataSource is the behaviour of a generator that emits copies of Data.
type DataSource struct{ Data []byte }

// Push implements Behavior: a generator has no inputs.
func (DataSource) Push(x *Ctx, _ int, s *State) { x.Drop(s, "a packet generator has no input") }

// Emitted implements Source.
func (d DataSource) Emitted(vs *Vars, _ int) *State { return FramePacket(vs, d.Data, "") }

// FramePacket builds the symbolic packet of the concrete frame data: the
// EtherFrame layout with every header field that data covers set to its
// bytes. Fields past the end of a short frame stay unconstrained, and so
// does the payload (it is one blob): an over-approximation. An IPv4 header
// with options (IHL != 5) does not fit the layout: only the Ethernet and
// fixed IP fields are set and the packet is marked approximate.
func FramePacket(vs *Vars, data []byte, prefix string) *State {
	s := NewPacket(vs, EtherFrame, prefix)
	limit := int32(len(data))
	if len(data) > 14 && data[12] == 0x08 && data[13] == 0x00 && data[14]>>4 == 4 && data[14]&0x0f != 5 {
		limit = min(limit, 14+20)
		s.S.Approx = true
	}
	mem := append([]Field(nil), s.Mem...)
	for i, f := range mem {
		rel := f.Off - s.Head
		if f.Len == 0 || rel+f.Len > limit {
			continue
		}
		var v uint32
		for _, b := range data[rel : rel+f.Len] {
			v = v<<8 | uint32(b)
		}
		mem[i].Val = Const(uint8(8*f.Len), v)
	}
	s.Mem = mem
	s.Init = s.Snapshot()
	return s
}

// Generalize returns a fresh packet of the shape of sn: the same data
// start, annotations, header positions and fields, every field a new
// unconstrained variable (an IPv4 header keeps IHL 5, which the layout
// assumes). Metadata starts as on a new packet: paint 0, the destination
// annotation the IP destination when the IP header is annotated, else 0;
// no flow state.
func Generalize(vs *Vars, sn Snap, prefix string) *State {
	s := &State{S: NewSolver(vs), Head: sn.Head, Anno: sn.Anno, Hdr: sn.Hdr}
	s.Mem = make([]Field, len(sn.Mem))
	for i, f := range sn.Mem {
		f.Val = vs.New(prefix+f.Name, uint8(8*f.Len))
		s.Mem[i] = f
		if f.Name == "ver/ihl" {
			s.S.In(f.Val, mustMasked(8, 0x0f, EQ, 5))
		}
	}
	dst := Const(32, 0)
	if ip, ok := s.AnnoAt(L3); ok {
		if e, err := s.Load(ip+IPDst, 4); err == nil {
			dst = e
		}
	}
	s.Meta = map[string]Expr{"paint": Const(8, 0), "dst anno": dst}
	s.Init = s.Snapshot()
	return s
}

// Shape is a comparable summary of a snapshot's layout (for telling
// distinct layouts apart).
func (sn Snap) Shape() string {
	b := make([]byte, 0, 16*len(sn.Mem)+32)
	app := func(v int32) { b = append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v)) }
	app(sn.Head)
	for _, a := range sn.Anno {
		app(a)
	}
	for _, h := range sn.Hdr {
		app(h)
	}
	for _, f := range sn.Mem {
		app(f.Off)
		app(f.Len)
		b = append(b, f.Name...)
		b = append(b, 0)
	}
	return string(b)
}
