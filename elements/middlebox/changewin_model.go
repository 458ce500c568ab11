package middlebox

import (
	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// TCP options live in the symbolic payload (the verifier's transport
// header is the fixed 20 bytes), so a rewritten option is a payload that
// may have changed: a fresh payload, with the path marked approximate
// (the option may be absent, leaving the payload as it was).
func freshOptions(x *sym.Ctx, s *sym.State) {
	for i := len(s.Mem) - 1; i >= 0; i-- {
		if f := s.Mem[i]; f.Len == 0 {
			s.Put(f.Off, 0, f.Name, s.Vars().New(x.Elem+".payload", 0))
			s.S.Approx = true
			return
		}
	}
}

// synOnly runs fn on the SYN segments of tcp and emits the others.
func synOnly(x *sym.Ctx, port int, tcp *sym.State, l4 int32, fn func(*sym.State)) {
	fl, err := tcp.Load(l4+13, 1)
	if err != nil {
		x.Fail(tcp, err)
		return
	}
	if no := tcp.Fork(sym.MaskedIs(fl, 0x02, sym.EQ, 0)); no != nil {
		x.Emit(port, no)
	}
	if syn := tcp.Fork(sym.MaskedIs(fl, 0x02, sym.NE, 0)); syn != nil {
		fn(syn)
		x.Emit(port, syn)
	}
}

func init() {
	sym.SetModel("ChangeWin", sym.Model(func(e core.Element) (sym.Behavior, error) {
		c := e.(*ChangeWin)
		return sym.Push(func(x *sym.Ctx, port int, s *sym.State) {
			tcp, other, ip := tcpPaths(x, s)
			for _, o := range other {
				x.Emit(port, o)
			}
			if tcp == nil {
				return
			}
			l4 := ip + 20
			if c.win >= 0 {
				if err := tcp.Store(l4+14, 2, sym.Const(16, uint32(c.win))); err != nil {
					x.Fail(tcp, err)
					return
				}
			}
			if c.scale < 0 {
				x.Emit(port, tcp)
				return
			}
			synOnly(x, port, tcp, l4, func(t *sym.State) { freshOptions(x, t) })
		}), nil
	}))
	sym.SetModel("ChangeMSS", sym.Model(func(e core.Element) (sym.Behavior, error) {
		return sym.Push(func(x *sym.Ctx, port int, s *sym.State) {
			tcp, other, ip := tcpPaths(x, s)
			for _, o := range other {
				x.Emit(port, o)
			}
			if tcp == nil {
				return
			}
			synOnly(x, port, tcp, ip+20, func(t *sym.State) { freshOptions(x, t) })
		}), nil
	}))
}
