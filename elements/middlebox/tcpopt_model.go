package middlebox

import (
	"encoding/binary"

	"flowbox/appliance/core"
	"flowbox/verify/sym"
)

// TCP options in the verifier: the symbolic transport header is the fixed
// 20 bytes, so the options of an injected segment are the first bytes of
// its payload blob (their data offset, "tcp off", is tracked).
//
// AddTCPOpt is modelled exactly: the option (padded with NOPs) becomes
// constant 4-byte "tcp opt" fields right after the fixed header, the old
// payload blob (old options and data) follows it unchanged, the data
// offset grows by the option's words and the IP length by its bytes. As in
// the runtime the headers move back into the headroom (into the tailroom
// when the symbolic buffer has no headroom left), annotations following
// them. A segment whose header would exceed 60 bytes passes unchanged.
//
// RemoveTCPOpt cannot see into the option bytes of a blob: a segment
// without options (data offset 5) passes unchanged exactly; one with
// options may have some overwritten with NOPs, so its option bytes and
// payload become fresh values and the path is approximate (const payload
// answers UNPROVABLE there, never SATISFIED).

// insertFields inserts the fixed fields ins (at offsets relative to at,
// covering grow bytes) at absolute offset at of s, moving the bytes before
// at back by grow (headroom) or the bytes from at on forward (tailroom).
// It reports false when at is not a field boundary.
func insertFields(s *sym.State, at, grow int32, ins []sym.Field) bool {
	if f, ok := s.Field(at); !ok || f.Off != at {
		return false
	}
	for _, f := range s.Mem {
		if f.Off >= s.Head && f.Off < at && f.Len == 0 {
			return false
		}
	}
	var mem []sym.Field
	if s.Head-grow >= 0 {
		for _, f := range s.Mem {
			switch {
			case f.Off < s.Head:
				if f.Len != 0 && f.Off+f.Len <= s.Head-grow {
					mem = append(mem, f) // stale headroom bytes not overwritten
				}
			case f.Off < at:
				f.Off -= grow
				mem = append(mem, f)
			}
		}
		for _, f := range ins {
			f.Off += at - grow
			mem = append(mem, f)
		}
		for _, f := range s.Mem {
			if f.Off >= at {
				mem = append(mem, f)
			}
		}
		s.Head -= grow
		for l := range s.Anno {
			if s.Anno[l] >= 0 {
				s.Anno[l] -= grow
			}
			if s.Hdr[l] != sym.Unset && s.Hdr[l] < at {
				s.Hdr[l] -= grow
			}
		}
	} else {
		for _, f := range s.Mem {
			if f.Off < at {
				mem = append(mem, f)
			}
		}
		for _, f := range ins {
			f.Off += at
			mem = append(mem, f)
		}
		for _, f := range s.Mem {
			if f.Off >= at {
				f.Off += grow
				mem = append(mem, f)
			}
		}
		for l := range s.Hdr {
			if s.Hdr[l] != sym.Unset && s.Hdr[l] >= at {
				s.Hdr[l] += grow
			}
		}
	}
	s.Mem = mem
	return true
}

func init() {
	sym.SetModel("AddTCPOpt", sym.Model(func(e core.Element) (sym.Behavior, error) {
		t := e.(*AddTCPOpt)
		grow := int32((len(t.opt) + 3) &^ 3)
		padded := make([]byte, grow)
		copy(padded, t.opt)
		for i := len(t.opt); i < len(padded); i++ {
			padded[i] = optNOP
		}
		var ins []sym.Field
		for i := int32(0); i < grow; i += 4 {
			ins = append(ins, sym.Field{Off: i, Len: 4, Name: "tcp opt", Val: sym.Const(32, binary.BigEndian.Uint32(padded[i:]))})
		}
		// largest data offset byte (high nibble) that leaves room
		maxOff := uint32((maxTCPHeader-grow)/4) << 4
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			tcp, other, ip := tcpPaths(x, s)
			for _, o := range other {
				x.Emit(0, o)
			}
			if tcp == nil {
				return
			}
			l4 := ip + 20
			if t.synOnly {
				fl, ok := tcp.MustLoad(x, l4+13, 1)
				if !ok {
					return
				}
				if no := tcp.Fork(sym.MaskedIs(fl, 0x02, sym.EQ, 0)); no != nil {
					x.Emit(0, no)
				}
				if tcp = tcp.Fork(sym.MaskedIs(fl, 0x02, sym.NE, 0)); tcp == nil {
					return
				}
			}
			off, ok := tcp.MustLoad(x, l4+12, 1)
			if !ok {
				return
			}
			if full := tcp.Fork(sym.MaskedIs(off, 0xf0, sym.GT, maxOff)); full != nil {
				x.Emit(0, full) // no room: unchanged
			}
			if tcp = tcp.Fork(sym.MaskedIs(off, 0xf0, sym.LE, maxOff)); tcp == nil {
				return
			}
			// the nibble cannot overflow: adding to the byte is exact
			noff, ok := off.Add(uint32(grow/4) << 4)
			if !ok {
				noff = tcp.Vars().New(x.Elem+".tcp off", 8)
				tcp.S.Approx = true
			}
			if err := tcp.Store(l4+12, 1, noff); err != nil {
				x.Fail(tcp, err)
				return
			}
			if ln, err := tcp.Load(ip+sym.IPLen, 2); err == nil {
				if nl, ok := ln.Add(uint32(grow)); ok {
					_ = tcp.Store(ip+sym.IPLen, 2, nl)
				} else {
					freshField(x, tcp, ip+sym.IPLen, 2, "ip len")
					tcp.S.Approx = true
				}
			}
			freshField(x, tcp, ip+sym.IPSum, 2, "ip sum")
			freshField(x, tcp, l4+16, 2, "l4 sum")
			if !insertFields(tcp, l4+20, grow, ins) {
				freshFrom(x, tcp, l4+20)
			}
			x.Emit(0, tcp)
		}), nil
	}))
	sym.SetModel("RemoveTCPOpt", sym.Model(func(e core.Element) (sym.Behavior, error) {
		return sym.Push(func(x *sym.Ctx, _ int, s *sym.State) {
			// No options (data offset 5): nothing to remove.
			opts, _, l4 := untouchedOr(x, s, 12, 0xf0, sym.EQ, 0x50)
			if opts != nil {
				freshFrom(x, opts, l4+20)
				freshField(x, opts, l4+16, 2, "l4 sum")
				x.Emit(0, opts)
			}
		}), nil
	}))
}
