package middlebox

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// tcpPaths forks s like parseTCP: (TCP segments, other packets), dropping
// packets without a usable IP header (parseTCP reads the IP header
// annotation; a packet without one is dropped). ip is the header's offset.
func tcpPaths(x *sym.Ctx, s *sym.State) (tcp *sym.State, other []*sym.State, ip int32) {
	ip, ok := s.AnnoAt(sym.L3)
	if !ok {
		x.Drop(s, "no IP header annotation")
		return nil, nil, 0
	}
	vh, err := s.Load(ip, 1)
	if err != nil {
		x.Drop(s, "no IP header")
		return nil, nil, ip
	}
	pr, err1 := s.Load(ip+sym.IPProto, 1)
	fr, err2 := s.Load(ip+sym.IPFrag, 2)
	off, err3 := s.Load(ip+32, 1)
	if err1 != nil || err2 != nil || err3 != nil {
		x.Drop(s, "short IP header")
		return nil, nil, ip
	}
	if bad := s.Fork(sym.MaskedIs(vh, 0xf0, sym.NE, 0x40)); bad != nil {
		x.Drop(bad, "bad IP header")
	}
	if s = s.Fork(sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40)); s == nil {
		return nil, nil, ip
	}
	isTCP := sym.All(sym.InSet(pr, sym.Point(6)), sym.MaskedIs(fr, 0x3fff, sym.EQ, 0), sym.MaskedIs(off, 0xf0, sym.GE, 0x50))
	tcp = s.Fork(isTCP)
	// everything else passes unchanged (other protocols, fragments,
	// malformed TCP): disjoint pieces of the complement
	for _, o := range []*sym.State{
		s.Fork(sym.NotInSet(pr, sym.Point(6))),
		s.Fork(sym.All(sym.InSet(pr, sym.Point(6)), sym.MaskedIs(fr, 0x3fff, sym.NE, 0))),
		s.Fork(sym.All(sym.InSet(pr, sym.Point(6)), sym.MaskedIs(fr, 0x3fff, sym.EQ, 0), sym.MaskedIs(off, 0xf0, sym.LT, 0x50))),
	} {
		if o != nil {
			other = append(other, o)
		}
	}
	return tcp, other, ip
}

// ChangeSeq adds DELTA to sequence numbers forward and subtracts it from
// acknowledgments of reverse ACK segments. A RANDOM delta is a different
// unknown per connection: the sum is not representable, so the shifted
// field becomes a fresh value and the path is marked approximate.
func init() {
	sym.SetModel("ChangeSeq", sym.Model(func(e core.Element) (sym.Behavior, error) {
		c := e.(*ChangeSeq)
		return sym.Push(func(x *sym.Ctx, port int, s *sym.State) {
			emit := func(t *sym.State) { x.Emit(port, t) }
			tcp, other, ip := tcpPaths(x, s)
			for _, o := range other {
				emit(o)
			}
			if tcp == nil {
				return
			}
			l4 := ip + 20
			shift := func(t *sym.State, off int32, d uint32) {
				v, err := t.Load(off, 4)
				if err != nil {
					x.Fail(t, err)
					return
				}
				nv, ok := v.Add(d)
				if c.random || !ok {
					nv = t.Vars().New(x.Elem+".shifted", 32)
					t.S.Approx = true
				}
				_ = t.Store(off, 4, nv)
				emit(t)
			}
			if c.delta == 0 && !c.random {
				emit(tcp)
				return
			}
			if port == 0 {
				shift(tcp, l4+4, uint32(c.delta))
				return
			}
			fl, err := tcp.Load(l4+13, 1)
			if err != nil {
				x.Fail(tcp, err)
				return
			}
			if noAck := tcp.Fork(sym.MaskedIs(fl, 0x10, sym.EQ, 0)); noAck != nil {
				emit(noAck)
			}
			if ack := tcp.Fork(sym.MaskedIs(fl, 0x10, sym.NE, 0)); ack != nil {
				shift(ack, l4+8, -uint32(c.delta))
			}
		}), nil
	}))
}
