package standard

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// Elements that never change packets or choose among outputs: symbolically
// the identity (queues hold packets for a while; time is not modelled).
func init() {
	for _, c := range []string{"Queue", "SimpleQueue", "Unqueue", "TimedUnqueue", "Counter", "AverageCounter", "Null", "Print"} {
		sym.SetModel(c, sym.Identity)
	}
	sym.SetModel("Discard", sym.Model(func(core.Element) (sym.Behavior, error) {
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) { x.Drop(s, "discarded") }), nil
	}))
	sym.SetModel("Idle", sym.Model(func(core.Element) (sym.Behavior, error) {
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) { x.Drop(s, "Idle never emits") }), nil
	}))
	sym.SetModel("Switch", sym.Model(func(e core.Element) (sym.Behavior, error) {
		sw := e.(*Switch)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			if sw.output < 0 {
				x.Drop(s, "switch output -1")
				return
			}
			x.Emit(sw.output, s)
		}), nil
	}))
	// Outputs chosen by a hash or in turn: any output is possible.
	anyOutput := sym.Model(func(core.Element) (sym.Behavior, error) {
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			for i := 1; i < x.NOut; i++ {
				x.Emit(i, s.Clone())
			}
			x.Emit(0, s)
		}), nil
	})
	sym.SetModel("RoundRobinSwitch", anyOutput)
	sym.SetModel("HashSwitch", anyOutput)
	sym.SetModel("RandomSample", sym.Model(func(e core.Element) (sym.Behavior, error) {
		r := e.(*RandomSample)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			if !r.active || r.prob >= 1 {
				x.Emit(0, s)
				return
			}
			if r.prob > 0 {
				x.Emit(0, s.Clone())
			}
			if x.NOut > 1 {
				x.Emit(1, s)
			} else {
				x.Drop(s, "not sampled")
			}
		}), nil
	}))
}

// Pull schedulers pass packets from any input to output 0 unchanged.
func init() {
	sym.SetModel("PrioSched", sym.Model(schedModel))
	sym.SetModel("RoundRobinSched", sym.Model(schedModel))
}

func schedModel(core.Element) (sym.Behavior, error) {
	return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) { x.Emit(0, s) }), nil
}
