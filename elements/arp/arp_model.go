package arp

import (
	"encoding/binary"

	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// The verifier's symbolic packets are IPv4 (over Ethernet or bare); an ARP
// body is not a layout it tracks. So:
//
// ARPResponder: frames whose ethertype is not ARP are never answered and
// leave on output 1 (dropped without it), exactly. An ARP frame may or may
// not be a request for a configured address: its path ends unprovable.
//
// ARPQuerier, input 0 (IP packets): the destination annotation picks the
// next hop. 0 is dropped; the limited and configured broadcast addresses
// get the broadcast MAC (exact); multicast gets 01:00:5e plus the low 23
// bits (the low 16 exact, the third byte a fresh value: approximate); any
// other address is resolved through the ARP table, which is state the
// verifier does not have: the frame leaves on output 0 with a fresh
// destination MAC (a learned unicast address) — or is held and dropped
// when no reply comes. The ARP queries it sends are new packets, not this
// one's path. Input 1 (ARP replies) only updates the table: the path ends
// there (dropped).
func init() {
	sym.SetModel("ARPResponder", sym.Model(func(core.Element) (sym.Behavior, error) {
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			et, err := s.Load(s.Head+12, 2)
			if err != nil {
				if _, e2 := s.Load(s.Head+11, 1); e2 != nil {
					// shorter than an Ethernet header: not ARP
					reject(x, s, "not an ARP request")
					return
				}
				x.Opaque(s, "ethertype not representable")
				return
			}
			reject(x, s.Fork(sym.NotInSet(et, sym.Point(0x0806))), "not an ARP request")
			if a := s.Fork(sym.InSet(et, sym.Point(0x0806))); a != nil {
				x.Opaque(a, "ARP frames are not modelled (the reply depends on the ARP body)")
			}
		}), nil
	}))
	sym.SetModel("ARPQuerier", sym.Model(func(e core.Element) (sym.Behavior, error) {
		q := e.(*ARPQuerier)
		return sym.Push(func(x *sym.Ctx, port int, s *sym.State) {
			if port != 0 {
				x.Drop(s, "ARP reply learned (the table is not modelled)")
				return
			}
			dst, ok := s.GetMeta("dst anno")
			if !ok {
				dst = sym.Const(32, 0)
			}
			send := func(t *sym.State, hi, lo sym.Expr) {
				if t.Head < 14 {
					x.Drop(t, "no headroom")
					return
				}
				t.Head -= 14
				t.Put(t.Head, 4, "eth dst", hi)
				t.Put(t.Head+4, 2, "eth dst lo", lo)
				t.Put(t.Head+6, 4, "eth src", sym.Const(32, binary.BigEndian.Uint32(q.eth[:4])))
				t.Put(t.Head+10, 2, "eth src lo", sym.Const(16, uint32(binary.BigEndian.Uint16(q.eth[4:]))))
				t.Put(t.Head+12, 2, "ethertype", sym.Const(16, 0x0800))
				t.Anno[sym.L2], t.Hdr[sym.L2] = t.Head, t.Head
				x.Emit(0, t)
			}
			if z := s.Fork(sym.InSet(dst, sym.Point(0))); z != nil {
				x.Drop(z, "no destination annotation")
			}
			bcast := sym.Point(0xffffffff).Union(sym.Point(q.bcast))
			if b := s.Fork(sym.InSet(dst, bcast)); b != nil {
				send(b, sym.Const(32, 0xffffffff), sym.Const(16, 0xffff))
			}
			mcast := sym.Range(0xe0000000, 0xefffffff).Intersect(bcast.Complement(32))
			if m := s.Fork(sym.InSet(dst, mcast)); m != nil {
				hi := m.Vars().New(x.Elem+".eth dst", 32)
				m.S.In(hi, sym.Range(0x01005e00, 0x01005e7f))
				m.S.Approx = true
				send(m, hi, dst.Extract(0, 16))
			}
			uni := sym.Point(0).Union(bcast).Union(sym.Range(0xe0000000, 0xefffffff)).Complement(32)
			if u := s.Fork(sym.InSet(dst, uni)); u != nil {
				x.Drop(u.Clone(), "unresolved: held until an ARP reply that does not come")
				hi := u.Vars().New(x.Elem+".eth dst", 32)
				if unicast, exact := sym.Masked(32, 0x01000000, sym.EQ, 0); exact {
					u.S.In(hi, unicast) // learned: never a group address
				}
				send(u, hi, u.Vars().New(x.Elem+".eth dst lo", 16))
			}
		}), nil
	}))
}

func reject(x *sym.Ctx, s *sym.State, why string) {
	if s == nil {
		return
	}
	if x.NOut > 1 {
		x.Emit(1, s)
		return
	}
	x.Drop(s, why)
}
