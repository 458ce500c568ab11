package sym

import "fmt"

// IP header field offsets.
const (
	IPVerIHL = 0
	IPTOS    = 1
	IPLen    = 2
	IPID     = 4
	IPFrag   = 6
	IPTTL    = 8
	IPProto  = 9
	IPSum    = 10
	IPSrc    = 12
	IPDst    = 16
)

// Net returns the usable network annotation (absolute) or an error.
func (s *State) Net() (int32, error) {
	ip, ok := s.AnnoAt(L3)
	if !ok {
		return 0, &MemError{Msg: "no IP header annotation"}
	}
	return ip, nil
}

// MustLoad loads or reports a memory error through x; ok false means the
// path has ended.
func (s *State) MustLoad(x *Ctx, off, n int32) (Expr, bool) {
	e, err := s.Load(off, n)
	if err != nil {
		x.Fail(s, err)
		return Expr{}, false
	}
	return e, true
}

// Cases forks s into the branches where cond holds and where it does not
// (nil when infeasible).
func (s *State) Cases(cond func(*State) bool, neg func(*State) bool) (yes, no *State) {
	return s.Fork(cond), s.Fork(neg)
}

// InSet / NotInSet are constraint helpers for Fork.
func InSet(e Expr, set Set) func(*State) bool {
	return func(c *State) bool { return c.S.In(e, set) }
}

// NotInSet constrains e outside set.
func NotInSet(e Expr, set Set) func(*State) bool {
	return func(c *State) bool { return c.S.In(e, set.Complement(e.W)) }
}

// MaskedIs constrains (e & mask) op v.
func MaskedIs(e Expr, mask uint32, op Cmp, v uint32) func(*State) bool {
	return func(c *State) bool {
		set, exact := Masked(e.W, mask, op, v)
		if !exact {
			c.S.Approx = true
		}
		return c.S.In(e, set)
	}
}

// All joins constraints.
func All(fs ...func(*State) bool) func(*State) bool {
	return func(c *State) bool {
		for _, f := range fs {
			if !f(c) {
				return false
			}
		}
		return true
	}
}

// FirstFragment splits on "fragment offset is 0" (ports present).
func (s *State) FirstFragment(ip int32) (yes, no *State, err error) {
	fr, err := s.Load(ip+IPFrag, 2)
	if err != nil {
		return nil, nil, err
	}
	yes, no = s.Cases(MaskedIs(fr, 0x1fff, EQ, 0), MaskedIs(fr, 0x1fff, NE, 0))
	return yes, no, nil
}

// Fresh stores a new variable into the field at off (a value the model
// does not track, such as a recomputed checksum).
func (s *State) Fresh(off, n int32, name string) error {
	return s.Store(off, n, s.Vars().New(name, uint8(8*n)))
}

// U32 formats an IPv4 address value.
func U32(v uint32) string {
	return fmt.Sprintf("%d.%d.%d.%d", v>>24, v>>16&0xff, v>>8&0xff, v&0xff)
}

// free reports whether variable v is unconstrained and unrelated to any
// other (so its bytes may be re-read as differently shaped fields).
func (s *Solver) free(v int32) bool {
	if _, ok := s.link[v]; ok {
		return false
	}
	if _, ok := s.dom[v]; ok {
		return false
	}
	for _, l := range s.link {
		if l.root == v {
			return false
		}
	}
	for _, n := range s.neqs {
		if n.a.V == v || n.b.V == v {
			return false
		}
	}
	for k := range s.derived {
		if k.blob == v {
			return false
		}
	}
	return true
}

// RetypeIP makes the bytes at off an IPv4 header followed by a transport
// header and a payload, when they are not already: the packet's original
// (unconstrained, unused) fields from off on are re-read as fresh
// variables of that shape. This is how a symbolic packet gets an inner
// header when a tunnel is decapsulated. It reports whether the bytes at
// off now hold an IP header.
func (s *State) RetypeIP(off int32) bool {
	if f, ok := s.Field(off); ok && f.Name == "ver/ihl" || ok && f.Name == "quoted ver/ihl" {
		return true
	}
	i := findField(s.Mem, off)
	if i < 0 {
		return false
	}
	if s.Mem[i].Off != off && s.Mem[i].Len != 0 {
		return false
	}
	used := map[int32]int{}
	for _, f := range s.Mem {
		used[f.Val.V]++
	}
	for _, e := range s.Meta {
		used[e.V]++
	}
	for _, f := range s.Mem[i:] {
		if f.Val.V == 0 {
			return false
		}
		if used[f.Val.V] > 1 || !s.S.free(f.Val.V) {
			return false
		}
	}
	s.Mem = append([]Field(nil), s.Mem[:i]...)
	prefix := fmt.Sprintf("inner%d ", off-s.Head)
	s.PutLayout(off, IPLayout, prefix, nil)
	vh, _ := s.Load(off, 1)
	s.S.In(vh, mustMasked(8, 0x0f, EQ, 5))
	s.PutLayout(off+20, L4Layout, prefix, nil)
	s.Put(off+40, 0, "payload", s.Vars().New(prefix+"payload", 0))
	return true
}
