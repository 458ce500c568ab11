package standard

import (
	"strconv"

	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// paintKey is the metadata key the verifier keeps an annotation under.
func (a paintAnno) key() string {
	if a == paintField {
		return "paint"
	}
	return "user" + strconv.Itoa(int(a))
}

// paintOf returns the 8-bit paint value a packet carries in annotation a.
func paintOf(s *sym.State, a paintAnno) sym.Expr {
	if e, ok := s.GetMeta(a.key()); ok {
		return e
	}
	return sym.Const(8, 0)
}

func init() {
	sym.SetModel("Paint", sym.Model(func(e core.Element) (sym.Behavior, error) {
		p := e.(*Paint)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			s.SetMeta(p.anno.key(), sym.Const(8, uint32(p.color)))
			x.Emit(0, s)
		}), nil
	}))
	sym.SetModel("PaintSwitch", sym.Model(func(e core.Element) (sym.Behavior, error) {
		p := e.(*PaintSwitch)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			c := paintOf(s, p.anno)
			n := x.NOut
			for i := 0; i < n; i++ {
				if t := s.Fork(sym.InSet(c, sym.Point(uint32(i)))); t != nil {
					x.Emit(i, t)
				}
			}
			if t := s.Fork(sym.InSet(c, sym.Point(paintAll))); t != nil {
				for i := 1; i < n; i++ {
					x.Emit(i, t.Clone())
				}
				x.Emit(0, t)
			}
			rest := sym.Range(uint32(n), paintAll-1)
			if n > paintAll {
				rest = nil
			}
			if t := s.Fork(sym.InSet(c, rest)); t != nil && !rest.Empty() {
				x.Drop(t, "no output for the paint color")
			}
		}), nil
	}))
	sym.SetModel("PaintTee", sym.Model(func(e core.Element) (sym.Behavior, error) {
		p := e.(*PaintTee)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			c := paintOf(s, p.anno)
			if t := s.Fork(sym.InSet(c, sym.Point(uint32(p.color)))); t != nil {
				x.Emit(1, t)
			}
			x.Emit(0, s)
		}), nil
	}))
}
