package ether

import (
	"encoding/binary"

	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// putMACs writes destination and source addresses at the data start.
func putMACs(s *sym.State, dst, src [6]byte, name string) {
	s.Put(s.Head, 4, "eth dst", sym.Const(32, binary.BigEndian.Uint32(dst[:4])))
	s.Put(s.Head+4, 2, "eth dst lo", sym.Const(16, uint32(binary.BigEndian.Uint16(dst[4:]))))
	s.Put(s.Head+6, 4, "eth src", sym.Const(32, binary.BigEndian.Uint32(src[:4])))
	s.Put(s.Head+10, 2, "eth src lo", sym.Const(16, uint32(binary.BigEndian.Uint16(src[4:]))))
}

// sameShape reports whether the fields covering [a, a+n) and [b, b+n) are
// laid out identically, returning their indices.
func swapRanges(s *sym.State, a, b, n int32) bool {
	var fa, fb []sym.Field
	for off := a; off < a+n; {
		f, ok := s.Field(off)
		if !ok || f.Len == 0 || off+f.Len > a+n {
			return false
		}
		fa = append(fa, f)
		off += f.Len
	}
	for off := b; off < b+n; {
		f, ok := s.Field(off)
		if !ok || f.Len == 0 || off+f.Len > b+n {
			return false
		}
		fb = append(fb, f)
		off += f.Len
	}
	if len(fa) != len(fb) {
		return false
	}
	for i := range fa {
		if fa[i].Len != fb[i].Len {
			return false
		}
	}
	for i := range fa {
		_ = s.Store(fa[i].Off, fa[i].Len, fb[i].Val)
		_ = s.Store(fb[i].Off, fb[i].Len, fa[i].Val)
	}
	return true
}

func init() {
	sym.SetModel("EtherEncap", sym.Model(func(e core.Element) (sym.Behavior, error) {
		en := e.(*EtherEncap)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			if s.Head < headerLen {
				x.Drop(s, "no headroom")
				return
			}
			s.Head -= headerLen
			putMACs(s, en.dst, en.src, x.Elem)
			s.Put(s.Head+12, 2, "ethertype", sym.Const(16, uint32(en.etherType)))
			s.Anno[sym.L2], s.Hdr[sym.L2] = s.Head, s.Head
			x.Emit(0, s)
		}), nil
	}))
	sym.SetModel("EtherMirror", sym.Model(func(core.Element) (sym.Behavior, error) {
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			if _, err := s.Load(s.Head+11, 1); err != nil {
				x.Drop(s, "runt frame")
				return
			}
			if !swapRanges(s, s.Head, s.Head+6, 6) {
				x.Fail(s, &sym.MemError{Msg: "EtherMirror: the first 12 bytes are not two addresses"})
				return
			}
			x.Emit(0, s)
		}), nil
	}))
	sym.SetModel("EtherRewrite", sym.Model(func(e core.Element) (sym.Behavior, error) {
		r := e.(*EtherRewrite)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			if _, err := s.Load(s.Head+13, 1); err != nil {
				x.Drop(s, "runt frame")
				return
			}
			putMACs(s, [6]byte(r.addrs[:6]), [6]byte(r.addrs[6:]), x.Elem)
			x.Emit(0, s)
		}), nil
	}))
}
