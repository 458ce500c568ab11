package middlebox

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// Models of the IP-level middlebox elements (ChangeDSCP, ChangeECN,
// ChangeIPID) and helpers shared by the TCP-level ones.
//
// Every element here works on the IP header annotation (ipHeader): a
// packet without one, or whose header there is not IPv4 with IHL >= 5, is
// dropped. The total-length checks of ipHeader are not modelled (the
// verifier assumes consistent lengths, as CheckIPHeader's model does).

// ipPaths forks s like ipHeader: it drops packets without a usable IPv4
// header annotation and returns the rest (nil when none) and the header's
// offset.
func ipPaths(x *sym.Ctx, s *sym.State) (*sym.State, int32) {
	ip, ok := s.AnnoAt(sym.L3)
	if !ok {
		x.Drop(s, "no IP header annotation")
		return nil, 0
	}
	vh, err := s.Load(ip, 1)
	if err != nil {
		x.Drop(s, "no IP header")
		return nil, ip
	}
	if bad := s.Fork(sym.MaskedIs(vh, 0xf0, sym.NE, 0x40)); bad != nil {
		x.Drop(bad, "bad IP header")
	}
	if bad := s.Fork(sym.All(sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40), sym.MaskedIs(vh, 0x0f, sym.LT, 5))); bad != nil {
		x.Drop(bad, "bad IP header length")
	}
	return s.Fork(sym.All(sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40), sym.MaskedIs(vh, 0x0f, sym.GE, 5))), ip
}

// untouchedOr forks s like the TCP elements' packet path: other packets,
// and TCP segments whose header byte at offset field (from the TCP header)
// satisfies byte&mask pass val, leave unchanged on output 0; the segments
// the element does change are returned (nil if none) with the IP and TCP
// header offsets.
func untouchedOr(x *sym.Ctx, s *sym.State, field int32, mask uint8, pass sym.Cmp, val uint8) (t *sym.State, ip, l4 int32) {
	tcp, other, ip := tcpPaths(x, s)
	for _, o := range other {
		x.Emit(0, o)
	}
	if tcp == nil {
		return nil, ip, 0
	}
	l4 = ip + 20
	b, ok := tcp.MustLoad(x, l4+field, 1)
	if !ok {
		return nil, ip, l4
	}
	if keep := tcp.Fork(sym.MaskedIs(b, uint32(mask), pass, uint32(val))); keep != nil {
		x.Emit(0, keep)
	}
	return tcp.Fork(sym.MaskedIs(b, uint32(mask), pass.Negate(), uint32(val))), ip, l4
}

// freshField stores a new variable (named after the element) into the
// field [off, off+n): a value the element changes in a way the model does
// not track. A field the packet does not hold there makes the path
// approximate.
func freshField(x *sym.Ctx, s *sym.State, off, n int32, name string) sym.Expr {
	e := s.Vars().New(x.Elem+"."+name, uint8(8*n))
	if err := s.Store(off, n, e); err != nil {
		s.S.Approx = true
	}
	return e
}

// freshPayload replaces the payload blob (the last field: TCP options and
// data, as the verifier's transport header is the fixed 20 bytes) with a
// new blob. It does not mark the path approximate: callers do when the
// new payload is not exactly "some other bytes".
func freshPayload(x *sym.Ctx, s *sym.State) {
	for i := len(s.Mem) - 1; i >= 0; i-- {
		if f := s.Mem[i]; f.Len == 0 {
			s.Put(f.Off, 0, f.Name, s.Vars().New(x.Elem+".payload", 0))
			return
		}
	}
	s.S.Approx = true
}

// freshFrom replaces every field at or after off (option fields another
// model inserted, and the payload) with new values: the element may have
// rewritten any of them. The path is marked approximate.
func freshFrom(x *sym.Ctx, s *sym.State, off int32) {
	for _, f := range s.Mem {
		if f.Off < off {
			continue
		}
		if f.Len == 0 {
			s.Put(f.Off, 0, f.Name, s.Vars().New(x.Elem+".payload", 0))
			continue
		}
		freshField(x, s, f.Off, f.Len, f.Name)
	}
	s.S.Approx = true
}

// setTOSBits forks s on the two ECN bits of the TOS byte at ip+1 and
// stores, in each branch, the byte with the bits outside keep set to set
// (keep is 0x03 for ChangeDSCP, 0xfc for ChangeECN). The result is exact:
// for ChangeDSCP each branch's TOS is a constant; for ChangeECN the new
// TOS is the old one plus (ecn - old ECN), which cannot carry into the DSCP
// bits, so it stays bound to the old value.
func setTOSBits(x *sym.Ctx, s *sym.State, ip int32, keep, set uint8) {
	tos, ok := s.MustLoad(x, ip+sym.IPTOS, 1)
	if !ok {
		return
	}
	for k := uint32(0); k < 4; k++ {
		t := s.Fork(sym.MaskedIs(tos, 0x03, sym.EQ, k))
		if t == nil {
			continue
		}
		var nt sym.Expr
		if keep == 0x03 {
			nt = sym.Const(8, uint32(set)|k)
		} else {
			var ok bool
			nt, ok = tos.Add(uint32(set) - k)
			if !ok {
				// an extracted or opaque TOS: a value with the right ECN
				// bits, unrelated to the old DSCP
				nt = t.Vars().New(x.Elem+".tos", 8)
				t.S.In(nt, mustSet(nt.W, 0x03, sym.EQ, uint32(set)))
				t.S.Approx = true
			}
		}
		if err := t.Store(ip+sym.IPTOS, 1, nt); err != nil {
			x.Fail(t, err)
			continue
		}
		x.Emit(0, t)
	}
}

func mustSet(w uint8, mask uint32, op sym.Cmp, v uint32) sym.Set {
	set, _ := sym.Masked(w, mask, op, v)
	return set
}

func init() {
	sym.SetModel("ChangeDSCP", sym.Model(func(e core.Element) (sym.Behavior, error) {
		c := e.(*ChangeDSCP)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			if s, ip := ipPaths(x, s); s != nil {
				setTOSBits(x, s, ip, 0x03, c.dscp<<2)
			}
		}), nil
	}))
	sym.SetModel("ChangeECN", sym.Model(func(e core.Element) (sym.Behavior, error) {
		c := e.(*ChangeECN)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			if s, ip := ipPaths(x, s); s != nil {
				setTOSBits(x, s, ip, 0xfc, c.ecn)
			}
		}), nil
	}))
	// ChangeIPID: a fixed ID is a constant; RANDOM and INCREMENT give a
	// value that depends on the packet's turn (or the generator), a fresh
	// variable. The IP checksum is updated: it becomes a fresh value too.
	sym.SetModel("ChangeIPID", sym.Model(func(e core.Element) (sym.Behavior, error) {
		c := e.(*ChangeIPID)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			s, ip := ipPaths(x, s)
			if s == nil {
				return
			}
			id := sym.Const(16, uint32(c.id))
			if c.random || c.increment {
				id = s.Vars().New(x.Elem+".ip id", 16)
			}
			if err := s.Store(ip+sym.IPID, 2, id); err != nil {
				x.Fail(s, err)
				return
			}
			freshField(x, s, ip+sym.IPSum, 2, "ip sum")
			x.Emit(0, s)
		}), nil
	}))
}
