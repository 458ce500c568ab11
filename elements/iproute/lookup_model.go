package iproute

import (
	"fmt"
	"sort"

	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// routeBranch is the set of destinations whose longest-prefix match is a
// route to one (output, gateway) pair.
type routeBranch struct {
	out   int
	gw    uint32
	hasGW bool
	dsts  sym.Set
}

// lpmPartition splits the IPv4 space by longest-prefix match: one branch
// per (output, gateway), plus the addresses no route covers.
func lpmPartition(routes []Route) (branches []routeBranch, none sym.Set) {
	type span struct {
		lo, hi uint64
		r      int
	}
	rs := make([]span, 0, len(routes))
	for i, r := range routes {
		if !r.Prefix.Addr().Is4() || r.Out < 0 {
			continue
		}
		a := r.Prefix.Masked().Addr().As4()
		lo := uint64(a[0])<<24 | uint64(a[1])<<16 | uint64(a[2])<<8 | uint64(a[3])
		hi := lo + (uint64(1) << uint(32-r.Prefix.Bits())) - 1
		rs = append(rs, span{lo, hi, i})
	}
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].lo != rs[j].lo {
			return rs[i].lo < rs[j].lo
		}
		return rs[i].hi > rs[j].hi
	})
	type key struct {
		out   int
		gw    uint32
		hasGW bool
	}
	acc := map[key][]sym.Iv{}
	var order []key
	var noneIvs []sym.Iv
	emit := func(lo, hi uint64, r int) {
		if lo > hi {
			return
		}
		iv := sym.Iv{Lo: uint32(lo), Hi: uint32(hi)}
		if r < 0 {
			noneIvs = append(noneIvs, iv)
			return
		}
		rt := routes[r]
		k := key{out: rt.Out}
		if rt.GW.IsValid() && rt.GW.Is4() {
			g := rt.GW.As4()
			k.gw, k.hasGW = uint32(g[0])<<24|uint32(g[1])<<16|uint32(g[2])<<8|uint32(g[3]), true
		}
		if _, ok := acc[k]; !ok {
			order = append(order, k)
		}
		acc[k] = append(acc[k], iv)
	}
	var stack []span
	pos := uint64(0)
	top := func() int {
		if len(stack) == 0 {
			return -1
		}
		return stack[len(stack)-1].r
	}
	for _, r := range rs {
		for len(stack) > 0 && stack[len(stack)-1].hi < r.lo {
			t := stack[len(stack)-1]
			emit(pos, t.hi, t.r)
			pos = t.hi + 1
			stack = stack[:len(stack)-1]
		}
		if r.lo > pos {
			emit(pos, r.lo-1, top())
			pos = r.lo
		}
		stack = append(stack, r)
	}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		emit(pos, t.hi, t.r)
		pos = t.hi + 1
		stack = stack[:len(stack)-1]
	}
	emit(pos, 0xffffffff, -1)
	for _, k := range order {
		branches = append(branches, routeBranch{out: k.out, gw: k.gw, hasGW: k.hasGW, dsts: sym.Set(acc[k]).Union(nil)})
	}
	return branches, sym.Set(noneIvs).Union(nil)
}

// lookupModel forks on the destination annotation: one branch per egress
// (output, gateway), each constrained to the addresses whose longest
// matching prefix leads there.
func lookupModel(routes []Route) sym.Behavior {
	branches, none := lpmPartition(routes)
	return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
		dst, ok := s.GetMeta("dst anno")
		if !ok {
			dst = sym.Const(32, 0)
		}
		for _, b := range branches {
			t := s.Fork(sym.InSet(dst, b.dsts))
			if t == nil {
				continue
			}
			if b.hasGW {
				t.SetMeta("dst anno", sym.Const(32, b.gw))
			}
			x.Emit(b.out, t)
		}
		if !none.Empty() {
			if t := s.Fork(sym.InSet(dst, none)); t != nil {
				x.Drop(t, fmt.Sprintf("no route (%d routes)", len(routes)))
			}
		}
	})
}

func init() {
	for _, c := range []string{"LinearIPLookup", "StaticIPLookup", "RadixIPLookup"} {
		sym.SetModel(c, sym.Model(func(e core.Element) (sym.Behavior, error) {
			o, ok := e.(interface{ routes() []Route })
			if !ok {
				return nil, fmt.Errorf("unexpected element type %T", e)
			}
			return lookupModel(o.routes()), nil
		}))
	}
}

func (l *lookupBase) routes() []Route { return l.eng.Routes() }
