package ip

import (
	"encoding/binary"

	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// putIP writes a new IPv4 header at the data start from a 20-byte
// template (length, ID and checksum become fresh values).
func putIP(s *sym.State, hdr []byte, dstAnno bool, name string) {
	vals := map[string]sym.Expr{
		"ver/ihl": sym.Const(8, uint32(hdr[0])),
		"tos":     sym.Const(8, uint32(hdr[1])),
		"frag":    sym.Const(16, uint32(binary.BigEndian.Uint16(hdr[6:]))),
		"ttl":     sym.Const(8, uint32(hdr[8])),
		"proto":   sym.Const(8, uint32(hdr[9])),
		"src":     sym.Const(32, binary.BigEndian.Uint32(hdr[12:])),
		"dst":     sym.Const(32, binary.BigEndian.Uint32(hdr[16:])),
	}
	if dstAnno {
		if d, ok := s.GetMeta("dst anno"); ok {
			vals["dst"] = d
		}
	}
	s.PutLayout(s.Head, sym.IPLayout, name+".", vals)
	s.Anno[sym.L3], s.Anno[sym.L4] = s.Head, s.Head+20
	s.Hdr[sym.L3], s.Hdr[sym.L4] = s.Head, s.Head+20
	s.SetMeta("dst anno", vals["dst"])
}

// Tunnels keep the inner header: the new header is written in front of
// the old fields, which keep their variables.
func init() {
	sym.SetModel("IPEncap", sym.Model(func(e core.Element) (sym.Behavior, error) {
		en := e.(*IPEncap)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			if s.Head < 20 {
				x.Drop(s, "no headroom")
				return
			}
			s.Head -= 20
			putIP(s, en.hdr[:], en.dstAnno, x.Elem)
			x.Emit(0, s)
		}), nil
	}))
	sym.SetModel("UDPIPEncap", sym.Model(func(e core.Element) (sym.Behavior, error) {
		u := e.(*UDPIPEncap)
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			if s.Head < udpIPHeaderLen {
				x.Drop(s, "no headroom")
				return
			}
			s.Head -= udpIPHeaderLen
			putIP(s, u.hdr[:20], u.dstAnno, x.Elem)
			s.PutLayout(s.Head+20, sym.UDPLayout, x.Elem+".", map[string]sym.Expr{
				"src port": sym.Const(16, uint32(binary.BigEndian.Uint16(u.hdr[20:]))),
				"dst port": sym.Const(16, uint32(binary.BigEndian.Uint16(u.hdr[22:]))),
			})
			if !u.checksum {
				_ = s.Store(s.Head+26, 2, sym.Const(16, 0))
			}
			x.Emit(0, s)
		}), nil
	}))
	sym.SetModel("StripIPHeader", sym.Model(func(core.Element) (sym.Behavior, error) {
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			off, ok := s.AnnoAt(sym.L4)
			if !ok {
				ip, err := s.Net()
				if err != nil {
					x.Drop(s, "no IP header annotation")
					return
				}
				off = ip + 20
			}
			s.Head = off
			x.Emit(0, s)
		}), nil
	}))
}
