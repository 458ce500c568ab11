package standard

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

func init() {
	// Tee duplicates: every output gets its own copy (a separate path).
	sym.SetModel("Tee", sym.Model(func(core.Element) (sym.Behavior, error) {
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			for i := 1; i < x.NOut; i++ {
				x.Emit(i, s.Clone())
			}
			x.Emit(0, s)
		}), nil
	}))
}
