package icmp

import (
	"encoding/binary"

	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// The error is a new packet: a fresh IP header from SRC to the offending
// packet's source, an ICMP header, and the offending IP header and
// transport header quoted with their variables (the quoted payload is a
// new blob: it is truncated).
func init() {
	sym.SetModel("ICMPError", sym.Model(func(el core.Element) (sym.Behavior, error) {
		e := el.(*ICMPError)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			ip, err := s.Net()
			if err != nil {
				x.Drop(s, "no IP header annotation")
				return
			}
			vh, ok := s.MustLoad(x, ip, 1)
			if !ok {
				return
			}
			if bad := s.Fork(sym.MaskedIs(vh, 0xf0, sym.NE, 0x40)); bad != nil {
				x.Drop(bad, "malformed offending packet")
			}
			if s = s.Fork(sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40)); s == nil {
				return
			}
			first, later, err := s.FirstFragment(ip)
			if err != nil {
				x.Fail(s, err)
				return
			}
			if later != nil {
				x.Drop(later, "not answered: later fragment")
			}
			if first == nil {
				return
			}
			s = first
			src, _ := s.Load(ip+sym.IPSrc, 4)
			dst, _ := s.Load(ip+sym.IPDst, 4)
			pr, _ := s.Load(ip+sym.IPProto, 1)
			single := sym.Range(0x01000000, 0x7effffff).Union(sym.Range(0x80000000, 0xdfffffff))
			var badSrc sym.Set
			for _, a := range e.badAddrs {
				badSrc = badSrc.Union(sym.Point(a))
			}
			okDst := sym.Range(0, 0xdfffffff).Union(sym.Range(0xf0000000, 0xfffffffe))
			for _, a := range e.badAddrs {
				okDst = okDst.Intersect(sym.Point(a).Complement(32))
			}
			okSrc := single.Intersect(badSrc.Complement(32))
			good := s.Fork(sym.All(sym.InSet(src, okSrc), sym.InSet(dst, okDst)))
			for _, bad := range []*sym.State{
				s.Fork(sym.NotInSet(src, okSrc)),
				s.Fork(sym.All(sym.InSet(src, okSrc), sym.NotInSet(dst, okDst))),
			} {
				if bad != nil {
					x.Drop(bad, "not answered: source or destination not a single host")
				}
			}
			if good == nil {
				return
			}
			s = good
			if m, ok := s.AnnoAt(sym.L2); ok {
				if b0, err := s.Load(m, 1); err == nil {
					if mc := s.Fork(sym.MaskedIs(b0, 1, sym.EQ, 1)); mc != nil {
						x.Drop(mc, "not answered: link-level broadcast")
					}
					if s = s.Fork(sym.MaskedIs(b0, 1, sym.EQ, 0)); s == nil {
						return
					}
				}
			}
			if icmpPkt := s.Fork(sym.InSet(pr, sym.Point(1))); icmpPkt != nil {
				t, _ := icmpPkt.Load(ip+20, 1)
				errTypes := sym.Point(3).Union(sym.Point(4)).Union(sym.Point(5)).Union(sym.Point(11)).Union(sym.Point(12))
				if q := icmpPkt.Fork(sym.InSet(t, errTypes)); q != nil {
					x.Drop(q, "not answered: ICMP error")
				}
				if q := icmpPkt.Fork(sym.NotInSet(t, errTypes)); q != nil {
					x.Emit(0, build(e, x, q, ip, src))
				}
			}
			if other := s.Fork(sym.NotInSet(pr, sym.Point(1))); other != nil {
				x.Emit(0, build(e, x, other, ip, src))
			}
		}), nil
	}))
}

func build(e *ICMPError, x *sym.Ctx, s *sym.State, ip int32, src sym.Expr) *sym.State {
	q := s.Clone()
	// the quote: the offending IP and transport headers, moved after the
	// new 28 bytes, keeping their variables
	var quoted []sym.Field
	for _, f := range s.Mem {
		if f.Off >= ip && f.Len > 0 {
			quoted = append(quoted, f)
		}
	}
	q.Mem = nil
	base := int32(sym.Headroom)
	q.Head = base
	for _, f := range quoted {
		q.Put(base+28+f.Off-ip, f.Len, "quoted "+f.Name, f.Val)
	}
	if len(quoted) > 0 {
		last := quoted[len(quoted)-1]
		q.Put(base+28+last.Off+last.Len-ip, 0, "payload", q.Vars().New(x.Elem+".quote", 0))
	}
	vals := map[string]sym.Expr{
		"ver/ihl": sym.Const(8, 0x45), "tos": sym.Const(8, 0), "frag": sym.Const(16, 0),
		"ttl": sym.Const(8, errTTL), "proto": sym.Const(8, 1),
		"src": sym.Const(32, binary.BigEndian.Uint32(e.src[:])), "dst": src,
	}
	q.PutLayout(base, sym.IPLayout, x.Elem+".", vals)
	q.Put(base+20, 1, "icmp type", sym.Const(8, uint32(e.icmpType)))
	q.Put(base+21, 1, "icmp code", sym.Const(8, uint32(e.icmpCode)))
	q.Put(base+22, 2, "l4 sum", q.Vars().New(x.Elem+".sum", 16))
	q.Put(base+24, 4, "icmp rest", q.Vars().New(x.Elem+".rest", 32))
	q.Anno = [3]int32{sym.Unset, base, base + 20}
	q.Hdr = [3]int32{sym.Unset, base, base + 20}
	q.SetMeta("dst anno", src)
	return q
}
