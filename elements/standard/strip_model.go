package standard

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

func init() {
	// Strip moves the data start forward; the bytes stay in the buffer
	// (fields keep their absolute offsets), so Unstrip brings them back.
	sym.SetModel("Strip", sym.Model(func(e core.Element) (sym.Behavior, error) {
		n := int32(e.(*Strip).n)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			s.Head += n
			x.Emit(0, s)
		}), nil
	}))
	sym.SetModel("Unstrip", sym.Model(func(e core.Element) (sym.Behavior, error) {
		n := int32(e.(*Unstrip).n)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			if s.Head < n {
				x.Drop(s, "not enough headroom")
				return
			}
			s.Head -= n
			x.Emit(0, s)
		}), nil
	}))
}
