package enforcer

import (
	"fmt"

	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// The model keeps the peers of a path as metadata ELEM.peer#k (the sources
// of inbound packets on that path); time is not modelled, so a peer stays
// authorized (In-Net's caveat about timeouts).
func init() {
	sym.SetModel("ChangeEnforcer", sym.Model(func(e core.Element) (sym.Behavior, error) {
		c := e.(*ChangeEnforcer)
		var wl sym.Set
		for _, p := range c.allow {
			wl = wl.Union(sym.Range(p.addr, p.addr|^p.mask))
		}
		return sym.Push(func(x *sym.Ctx, port int, s *sym.State) {
			inbound := port%2 == 0
			// ipOf: the annotation when it holds an IPv4 header, else
			// after an Ethernet header of type IPv4 (version 4)
			var located []*sym.State
			var at []int32
			nonIP := func(t *sym.State, arp bool) {
				if inbound || arp {
					x.Emit(port, t)
				} else {
					x.Drop(t, "not IP")
				}
			}
			eth := s
			if a, ok := s.AnnoAt(sym.L3); ok {
				if vh, err := s.Load(a, 1); err == nil {
					if t := s.Fork(sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40)); t != nil {
						located, at = append(located, t), append(at, a)
					}
					eth = s.Fork(sym.MaskedIs(vh, 0xf0, sym.NE, 0x40))
				}
			}
			if eth != nil {
				et, err := eth.Load(eth.Head+12, 2)
				vh, err2 := eth.Load(eth.Head+14, 1)
				switch {
				case err != nil:
					nonIP(eth, false)
				default:
					if arp := eth.Fork(sym.InSet(et, sym.Point(0x0806))); arp != nil {
						nonIP(arp, true)
					}
					if other := eth.Fork(sym.NotInSet(et, sym.Point(0x0800).Union(sym.Point(0x0806)))); other != nil {
						nonIP(other, false)
					}
					if err2 != nil {
						if t := eth.Fork(sym.InSet(et, sym.Point(0x0800))); t != nil {
							nonIP(t, false)
						}
						break
					}
					if t := eth.Fork(sym.All(sym.InSet(et, sym.Point(0x0800)), sym.MaskedIs(vh, 0xf0, sym.NE, 0x40))); t != nil {
						nonIP(t, false)
					}
					if t := eth.Fork(sym.All(sym.InSet(et, sym.Point(0x0800)), sym.MaskedIs(vh, 0xf0, sym.EQ, 0x40))); t != nil {
						located, at = append(located, t), append(at, eth.Head+14)
					}
				}
			}
			for i, t := range located {
				enforce(x, c, wl, port, inbound, t, at[i])
			}
		}), nil
	}))
}

func enforce(x *sym.Ctx, c *ChangeEnforcer, wl sym.Set, port int, inbound bool, s *sym.State, ip int32) {
	{
		{
			src, ok := s.MustLoad(x, ip+sym.IPSrc, 4)
			if !ok {
				return
			}
			dst, ok := s.MustLoad(x, ip+sym.IPDst, 4)
			if !ok {
				return
			}
			var peers []sym.Expr
			for k := 0; ; k++ {
				p, ok := s.GetMeta(fmt.Sprintf("%s.peer#%d", x.Elem, k))
				if !ok {
					break
				}
				peers = append(peers, p)
			}
			if inbound {
				if bad := s.Fork(sym.NotInSet(dst, sym.Point(c.addr))); bad != nil {
					x.Drop(bad, "not for the module")
				}
				if s = s.Fork(sym.InSet(dst, sym.Point(c.addr))); s != nil {
					s.SetMeta(fmt.Sprintf("%s.peer#%d", x.Elem, len(peers)), src)
					x.Emit(port, s)
				}
				return
			}
			// one of: equal to A / equal to peer k (and none of the earlier)
			oneOf := func(s *sym.State, v sym.Expr, cands []sym.Expr, set sym.Set) (ok []*sym.State, bad *sym.State) {
				if !set.Empty() {
					if t := s.Fork(sym.InSet(v, set)); t != nil {
						ok = append(ok, t)
					}
					s = s.Fork(sym.NotInSet(v, set))
					if s == nil {
						return ok, nil
					}
				}
				for i, cnd := range cands {
					i, cnd := i, cnd
					if t := s.Fork(func(t *sym.State) bool {
						for _, prev := range cands[:i] {
							if !t.S.Ne(v, prev) {
								return false
							}
						}
						return t.S.Eq(v, cnd)
					}); t != nil {
						ok = append(ok, t)
					}
				}
				bad = s.Fork(func(t *sym.State) bool {
					for _, cnd := range cands {
						if !t.S.Ne(v, cnd) {
							return false
						}
					}
					return true
				})
				return ok, bad
			}
			okSrc, spoof := oneOf(s, src, peers, sym.Point(c.addr))
			if spoof != nil {
				x.Drop(spoof, "spoofed source")
			}
			for _, t := range okSrc {
				if c.defaultOn {
					x.Emit(port, t)
					continue
				}
				okDst, unauth := oneOf(t, dst, peers, wl)
				if unauth != nil {
					x.Drop(unauth, "unauthorized destination")
				}
				for _, u := range okDst {
					x.Emit(port, u)
				}
			}
		}
	}
}
