package lua

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"flowbox/appliance/proto"

	glua "github.com/yuin/gopher-lua"
)

// ---- shared helpers ----

func ipv4Of(L *glua.LState) (*slot, []byte) {
	s := self(L)
	if s.ipOff < 0 {
		L.RaiseError("packet no longer holds an IPv4 header")
	}
	return s, s.p.Data()[s.ipOff:]
}

func ipv4W(L *glua.LState) (*slot, []byte, []byte) {
	s, _ := ipv4Of(L)
	d := s.writable(L)
	return s, d, d[s.ipOff:]
}

func ipv6Of(L *glua.LState) (*slot, []byte) {
	s := self(L)
	if s.ip6Off < 0 {
		L.RaiseError("packet no longer holds an IPv6 header")
	}
	return s, s.p.Data()[s.ip6Off:]
}

func l4Of(L *glua.LState, want uint8) (*slot, []byte) {
	s := self(L)
	if s.l4Proto != want && !(want == proto.ProtoICMP && s.l4Proto == proto.ProtoICMPv6) {
		L.RaiseError("packet no longer holds this transport header")
	}
	return s, s.p.Data()[s.l4Off : s.l4Off+s.l4Len]
}

func l4W(L *glua.LState, want uint8) (*slot, []byte) {
	s, _ := l4Of(L, want)
	d := s.writable(L)
	return s, d[s.l4Off : s.l4Off+s.l4Len]
}

// Field getter makers: the getter of a size-byte (1, 2 or 4) big-endian
// field at off in a view's header, the table form of the views' many
// one-field getters. Not inlined, like getData.

//go:noinline
func ethField(off, size int) glua.LGFunction {
	return func(L *glua.LState) int {
		s := ethOf(L)
		L.Push(bigEndian(s.p.Data()[s.macOff+off:], size))
		return 1
	}
}

//go:noinline
func ipv4Field(off, size int) glua.LGFunction {
	return func(L *glua.LState) int { _, ip := ipv4Of(L); L.Push(bigEndian(ip[off:], size)); return 1 }
}

//go:noinline
func ipv6Field(off, size int) glua.LGFunction {
	return func(L *glua.LState) int { _, ip := ipv6Of(L); L.Push(bigEndian(ip[off:], size)); return 1 }
}

// l4Field makes the getter of a field of transport header want.
//
//go:noinline
func l4Field(want uint8, off, size int) glua.LGFunction {
	return func(L *glua.LState) int { _, t := l4Of(L, want); L.Push(bigEndian(t[off:], size)); return 1 }
}

// sumOffset is where the transport checksum lives, -1 if absent/unused.
func (s *slot) sumOffset(seg []byte) int {
	switch s.l4Proto {
	case proto.ProtoTCP:
		return proto.TCPOffSum
	case proto.ProtoUDP:
		if binary.BigEndian.Uint16(seg[proto.UDPOffSum:]) == 0 {
			return -1 // UDP over IPv4 without checksum
		}
		return proto.UDPOffSum
	case proto.ProtoICMPv6:
		return 2
	}
	return -1
}

// l4Adjust16 updates the transport checksum for a 16-bit word change that
// the checksum covers (ports, pseudo-header words, TCP fields).
func (s *slot) l4Adjust16(d []byte, old, new uint16, pseudo bool) {
	if s.l4Off < 0 || old == new {
		return
	}
	seg := d[s.l4Off : s.l4Off+s.l4Len]
	if pseudo && s.l4Proto == proto.ProtoICMP {
		return // ICMPv4 has no pseudo-header
	}
	off := s.sumOffset(seg)
	if off < 0 {
		if s.l4Proto != proto.ProtoICMP {
			return
		}
		off = proto.ICMPOffSum
	}
	proto.UpdateSum16(seg[off:], old, new)
	if s.l4Proto == proto.ProtoUDP && binary.BigEndian.Uint16(seg[off:]) == 0 {
		binary.BigEndian.PutUint16(seg[off:], 0xffff)
	}
}

func (s *slot) l4Adjust32(d []byte, old, new uint32, pseudo bool) {
	s.l4Adjust16(d, uint16(old>>16), uint16(new>>16), pseudo)
	s.l4Adjust16(d, uint16(old), uint16(new), pseudo)
}

func checkPrefix(L *glua.LState, n int) netip.Prefix {
	if ud, ok := L.Get(n).(*glua.LUserData); ok {
		if p, ok := ud.Value.(*prefixVal); ok {
			return p.p
		}
	}
	if s, ok := L.Get(n).(glua.LString); ok {
		p, err := parsePrefix(string(s))
		if err != nil {
			L.ArgError(n, err.Error())
		}
		return p
	}
	L.ArgError(n, "prefix expected (net.prefix(...) or string)")
	return netip.Prefix{}
}

// ---- Ethernet ----

var ethMethods = map[string]glua.LGFunction{
	"src":  func(L *glua.LState) int { s := ethOf(L); L.Push(macString(s.p.Data()[s.macOff+6:])); return 1 },
	"dst":  func(L *glua.LState) int { s := ethOf(L); L.Push(macString(s.p.Data()[s.macOff:])); return 1 },
	"type": ethField(12, 2),
	"set_src": func(L *glua.LState) int {
		s := ethOf(L)
		m := checkMAC(L, 2)
		copy(s.writable(L)[s.macOff+6:], m[:])
		return 0
	},
	"set_dst": func(L *glua.LState) int {
		s := ethOf(L)
		m := checkMAC(L, 2)
		copy(s.writable(L)[s.macOff:], m[:])
		return 0
	},
}

func ethOf(L *glua.LState) *slot {
	s := self(L)
	if s.macOff < 0 {
		L.RaiseError("packet no longer holds an Ethernet header")
	}
	return s
}

func checkMAC(L *glua.LState, n int) [6]byte {
	str := L.CheckString(n)
	var m [6]byte
	var b [6]int
	if k, err := fmt.Sscanf(str, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]); err != nil || k != 6 {
		L.ArgError(n, fmt.Sprintf("bad Ethernet address %q", str))
	}
	for i, v := range b {
		if v < 0 || v > 255 {
			L.ArgError(n, fmt.Sprintf("bad Ethernet address %q", str))
		}
		m[i] = byte(v)
	}
	return m
}

// ---- IPv4 ----

var ipv4Methods = map[string]glua.LGFunction{
	"src":     func(L *glua.LState) int { _, ip := ipv4Of(L); L.Push(ip4String(ip[proto.IPOffSrc:])); return 1 },
	"dst":     func(L *glua.LState) int { _, ip := ipv4Of(L); L.Push(ip4String(ip[proto.IPOffDst:])); return 1 },
	"src_u32": ipv4Field(proto.IPOffSrc, 4),
	"dst_u32": ipv4Field(proto.IPOffDst, 4),
	"src_in": func(L *glua.LState) int {
		_, ip := ipv4Of(L)
		return pushBool(L, checkPrefix(L, 2).Contains(netip.AddrFrom4([4]byte(ip[proto.IPOffSrc:proto.IPOffSrc+4]))))
	},
	"dst_in": func(L *glua.LState) int {
		_, ip := ipv4Of(L)
		return pushBool(L, checkPrefix(L, 2).Contains(netip.AddrFrom4([4]byte(ip[proto.IPOffDst:proto.IPOffDst+4]))))
	},
	"set_src":  func(L *glua.LState) int { setIPv4Addr(L, proto.IPOffSrc); return 0 },
	"set_dst":  func(L *glua.LState) int { setIPv4Addr(L, proto.IPOffDst); return 0 },
	"proto":    ipv4Field(proto.IPOffProto, 1),
	"ttl":      ipv4Field(proto.IPOffTTL, 1),
	"tos":      ipv4Field(proto.IPOffTOS, 1),
	"len":      ipv4Field(proto.IPOffLen, 2),
	"id":       ipv4Field(proto.IPOffID, 2),
	"hlen":     func(L *glua.LState) int { _, ip := ipv4Of(L); L.Push(num(proto.IPv4HeaderLen(ip))); return 1 },
	"checksum": ipv4Field(proto.IPOffSum, 2),
	"checksum_ok": func(L *glua.LState) int {
		_, ip := ipv4Of(L)
		return pushBool(L, proto.Checksum(ip[:proto.IPv4HeaderLen(ip)]) == 0)
	},
	"df": func(L *glua.LState) int {
		_, ip := ipv4Of(L)
		return pushBool(L, proto.U16(ip, proto.IPOffFrag)&proto.IPFlagDF != 0)
	},
	"is_fragment": func(L *glua.LState) int { _, ip := ipv4Of(L); return pushBool(L, proto.IsFragment(ip)) },
	"set_ttl": func(L *glua.LState) int {
		v := checkRange(L, 2, 0, 255)
		_, _, ip := ipv4W(L)
		old := proto.U16(ip, proto.IPOffTTL)
		ip[proto.IPOffTTL] = byte(v)
		proto.UpdateSum16(ip[proto.IPOffSum:], old, proto.U16(ip, proto.IPOffTTL))
		return 0
	},
	"dec_ttl": func(L *glua.LState) int {
		_, _, ip := ipv4W(L)
		if ip[proto.IPOffTTL] > 0 {
			old := proto.U16(ip, proto.IPOffTTL)
			ip[proto.IPOffTTL]--
			proto.UpdateSum16(ip[proto.IPOffSum:], old, proto.U16(ip, proto.IPOffTTL))
		}
		L.Push(num(int(ip[proto.IPOffTTL])))
		return 1
	},
	"set_tos": func(L *glua.LState) int {
		v := checkRange(L, 2, 0, 255)
		_, _, ip := ipv4W(L)
		old := proto.U16(ip, 0)
		ip[proto.IPOffTOS] = byte(v)
		proto.UpdateSum16(ip[proto.IPOffSum:], old, proto.U16(ip, 0))
		return 0
	},
	"set_id": func(L *glua.LState) int {
		v := checkRange(L, 2, 0, 0xffff)
		_, _, ip := ipv4W(L)
		old := proto.U16(ip, proto.IPOffID)
		proto.Put16(ip, proto.IPOffID, uint16(v))
		proto.UpdateSum16(ip[proto.IPOffSum:], old, uint16(v))
		return 0
	},
}

func setIPv4Addr(L *glua.LState, off int) {
	a := checkIPv4(L, 2)
	s, d, ip := ipv4W(L)
	old := proto.U32(ip, off)
	proto.Put32(ip, off, a)
	proto.UpdateSum32(ip[proto.IPOffSum:], old, a)
	s.l4Adjust32(d, old, a, true)
}

// ---- IPv6 ----

var ipv6Methods = map[string]glua.LGFunction{
	"src": func(L *glua.LState) int { _, ip := ipv6Of(L); L.Push(ip6String(ip[8:24])); return 1 },
	"dst": func(L *glua.LState) int { _, ip := ipv6Of(L); L.Push(ip6String(ip[24:40])); return 1 },
	"src_in": func(L *glua.LState) int {
		_, ip := ipv6Of(L)
		return pushBool(L, checkPrefix(L, 2).Contains(netip.AddrFrom16([16]byte(ip[8:24]))))
	},
	"dst_in": func(L *glua.LState) int {
		_, ip := ipv6Of(L)
		return pushBool(L, checkPrefix(L, 2).Contains(netip.AddrFrom16([16]byte(ip[24:40]))))
	},
	"set_src":     func(L *glua.LState) int { setIPv6Addr(L, 8); return 0 },
	"set_dst":     func(L *glua.LState) int { setIPv6Addr(L, 24); return 0 },
	"proto":       ipv6Field(6, 1),
	"next_header": ipv6Field(6, 1),
	"ttl":         ipv6Field(7, 1),
	"hop_limit":   ipv6Field(7, 1),
	"tclass":      func(L *glua.LState) int { _, ip := ipv6Of(L); L.Push(num(int(proto.U16(ip, 0)>>4) & 0xff)); return 1 },
	"tos":         func(L *glua.LState) int { _, ip := ipv6Of(L); L.Push(num(int(proto.U16(ip, 0)>>4) & 0xff)); return 1 },
	"flow_label": func(L *glua.LState) int {
		_, ip := ipv6Of(L)
		L.Push(num64(uint64(proto.U32(ip, 0) & 0xfffff)))
		return 1
	},
	"plen":          ipv6Field(4, 2),
	"set_ttl":       setHopLimit,
	"set_hop_limit": setHopLimit,
	"set_tclass":    setTClass,
	"set_tos":       setTClass,
}

func setHopLimit(L *glua.LState) int {
	v := checkRange(L, 2, 0, 255)
	s, _ := ipv6Of(L)
	s.writable(L)[s.ip6Off+7] = byte(v)
	return 0
}

func setTClass(L *glua.LState) int {
	v := checkRange(L, 2, 0, 255)
	s, _ := ipv6Of(L)
	ip := s.writable(L)[s.ip6Off:]
	w := proto.U32(ip, 0)
	w = w&^(0xff<<20) | uint32(v)<<20
	proto.Put32(ip, 0, w)
	return 0
}

func setIPv6Addr(L *glua.LState, off int) {
	str := L.CheckString(2)
	a, err := netip.ParseAddr(str)
	if err != nil || !a.Is6() {
		L.ArgError(2, fmt.Sprintf("bad IPv6 address %q", str))
	}
	n := a.As16()
	s, _ := ipv6Of(L)
	d := s.writable(L)
	ip := d[s.ip6Off:]
	// The pseudo-header holds the source and the final destination: with
	// a routing header (segments left) that is not the IPv6 destination.
	inPseudo := off == 8 || s.ip6Dst == s.ip6Off+off
	for i := 0; i < 16; i += 2 {
		old := proto.U16(ip, off+i)
		nw := binary.BigEndian.Uint16(n[i:])
		proto.Put16(ip, off+i, nw)
		if inPseudo {
			s.l4Adjust16(d, old, nw, true)
		}
	}
}

func ip6String(b []byte) glua.LString {
	return glua.LString(netip.AddrFrom16([16]byte(b)).String())
}

// ---- TCP ----

var tcpMethods = map[string]glua.LGFunction{
	"sport":     l4Field(proto.ProtoTCP, 0, 2),
	"dport":     l4Field(proto.ProtoTCP, 2, 2),
	"set_sport": func(L *glua.LState) int { setL4Port(L, proto.ProtoTCP, 0); return 0 },
	"set_dport": func(L *glua.LState) int { setL4Port(L, proto.ProtoTCP, 2); return 0 },
	"seq":       l4Field(proto.ProtoTCP, proto.TCPOffSeq, 4),
	"ack":       l4Field(proto.ProtoTCP, proto.TCPOffAck, 4),
	"set_seq":   func(L *glua.LState) int { setTCP32(L, proto.TCPOffSeq); return 0 },
	"set_ack":   func(L *glua.LState) int { setTCP32(L, proto.TCPOffAck); return 0 },
	"flags":     l4Field(proto.ProtoTCP, proto.TCPOffFlags, 1),
	"has_flags": func(L *glua.LState) int {
		_, t := l4Of(L, proto.ProtoTCP)
		m := byte(checkRange(L, 2, 0, 255))
		return pushBool(L, t[proto.TCPOffFlags]&m == m)
	},
	"set_flags": func(L *glua.LState) int {
		v := checkRange(L, 2, 0, 255)
		s, t := l4W(L, proto.ProtoTCP)
		old := proto.U16(t, proto.TCPOffDataOff)
		t[proto.TCPOffFlags] = byte(v)
		proto.UpdateSum16(t[proto.TCPOffSum:], old, proto.U16(t, proto.TCPOffDataOff))
		_ = s
		return 0
	},
	"win": l4Field(proto.ProtoTCP, proto.TCPOffWin, 2),
	"set_win": func(L *glua.LState) int {
		v := checkRange(L, 2, 0, 0xffff)
		_, t := l4W(L, proto.ProtoTCP)
		old := proto.U16(t, proto.TCPOffWin)
		proto.Put16(t, proto.TCPOffWin, uint16(v))
		proto.UpdateSum16(t[proto.TCPOffSum:], old, uint16(v))
		return 0
	},
	"hlen": func(L *glua.LState) int {
		_, t := l4Of(L, proto.ProtoTCP)
		L.Push(num(int(t[proto.TCPOffDataOff]>>4) * 4))
		return 1
	},
	"checksum": l4Field(proto.ProtoTCP, proto.TCPOffSum, 2),
	"checksum_ok": func(L *glua.LState) int {
		s, _ := l4Of(L, proto.ProtoTCP)
		return pushBool(L, l4ChecksumOK(s))
	},
	"payload_offset": func(L *glua.LState) int {
		s, t := l4Of(L, proto.ProtoTCP)
		L.Push(num(s.l4Off + int(t[proto.TCPOffDataOff]>>4)*4))
		return 1
	},
	"payload_len": func(L *glua.LState) int {
		s, t := l4Of(L, proto.ProtoTCP)
		L.Push(num(s.l4Len - int(t[proto.TCPOffDataOff]>>4)*4))
		return 1
	},
	// option(kind) returns the option's data (without kind/length) as a
	// string, or nil when absent.
	"option": func(L *glua.LState) int {
		_, t := l4Of(L, proto.ProtoTCP)
		data, _, ok := tcpOption(t, byte(checkRange(L, 2, 0, 255)))
		if !ok {
			L.Push(glua.LNil)
		} else {
			L.Push(glua.LString(data))
		}
		return 1
	},
	"has_option": func(L *glua.LState) int {
		_, t := l4Of(L, proto.ProtoTCP)
		_, _, ok := tcpOption(t, byte(checkRange(L, 2, 0, 255)))
		return pushBool(L, ok)
	},
	// options() lists the options as {kind=, len=, data=} tables.
	"options": func(L *glua.LState) int {
		_, t := l4Of(L, proto.ProtoTCP)
		out := L.NewTable()
		walkTCPOptions(t, func(kind byte, data []byte) bool {
			o := L.NewTable()
			o.RawSetString("kind", num(int(kind)))
			o.RawSetString("len", num(len(data)+2))
			o.RawSetString("data", glua.LString(data))
			out.Append(o)
			return true
		})
		L.Push(out)
		return 1
	},
	"mss": func(L *glua.LState) int {
		_, t := l4Of(L, proto.ProtoTCP)
		if d, _, ok := tcpOption(t, 2); ok && len(d) == 2 {
			L.Push(num(int(binary.BigEndian.Uint16(d))))
		} else {
			L.Push(glua.LNil)
		}
		return 1
	},
	// set_mss(v) rewrites an existing MSS option; returns false if absent.
	"set_mss": func(L *glua.LState) int {
		v := checkRange(L, 2, 0, 0xffff)
		s, t := l4Of(L, proto.ProtoTCP)
		d, pos, ok := tcpOption(t, 2)
		if !ok || len(d) != 2 {
			return pushBool(L, false)
		}
		_, t = l4W(L, proto.ProtoTCP)
		_ = s
		old := proto.U16(t, pos+2)
		proto.Put16(t, pos+2, uint16(v))
		if (pos+2)%2 == 0 {
			proto.UpdateSum16(t[proto.TCPOffSum:], old, uint16(v))
		} else {
			// odd alignment: recompute
			sl := self(L)
			fixChecksums(sl)
		}
		return pushBool(L, true)
	},
	"wscale": func(L *glua.LState) int {
		_, t := l4Of(L, proto.ProtoTCP)
		if d, _, ok := tcpOption(t, 3); ok && len(d) == 1 {
			L.Push(num(int(d[0])))
		} else {
			L.Push(glua.LNil)
		}
		return 1
	},
	"sack_permitted": func(L *glua.LState) int {
		_, t := l4Of(L, proto.ProtoTCP)
		_, _, ok := tcpOption(t, 4)
		return pushBool(L, ok)
	},
	// timestamps() returns tsval, tsecr or nil.
	"timestamps": func(L *glua.LState) int {
		_, t := l4Of(L, proto.ProtoTCP)
		if d, _, ok := tcpOption(t, 8); ok && len(d) == 8 {
			L.Push(num64(uint64(binary.BigEndian.Uint32(d))))
			L.Push(num64(uint64(binary.BigEndian.Uint32(d[4:]))))
			return 2
		}
		L.Push(glua.LNil)
		return 1
	},
}

func setTCP32(L *glua.LState, off int) {
	v := uint32(checkRange(L, 2, 0, 0xffffffff))
	_, t := l4W(L, proto.ProtoTCP)
	old := proto.U32(t, off)
	proto.Put32(t, off, v)
	proto.UpdateSum32(t[proto.TCPOffSum:], old, v)
}

func setL4Port(L *glua.LState, want uint8, off int) {
	v := uint16(checkRange(L, 2, 0, 0xffff))
	s, _ := l4Of(L, want)
	d := s.writable(L)
	t := d[s.l4Off:]
	old := proto.U16(t, off)
	proto.Put16(t, off, v)
	s.l4Adjust16(d, old, v, false)
}

// walkTCPOptions calls f for each option (kind, data) but NOP until it
// returns false, EOL, or a malformed option.
func walkTCPOptions(t []byte, f func(kind byte, data []byte) bool) {
	end := proto.TCPHeaderEnd(t)
	for i, n := proto.TCPMinHeaderLen, 0; i < end; i += n {
		var k byte
		var ok bool
		if k, n, ok = proto.NextTCPOption(t, i, end); !ok || k == proto.TCPOptEOL {
			return
		}
		if k != proto.TCPOptNOP && !f(k, t[i+2:i+n]) {
			return
		}
	}
}

// tcpOption finds option kind; pos is its offset in the TCP header.
func tcpOption(t []byte, kind byte) (data []byte, pos int, ok bool) {
	end := proto.TCPHeaderEnd(t)
	for i, n := proto.TCPMinHeaderLen, 0; i < end; i += n {
		var k byte
		var good bool
		if k, n, good = proto.NextTCPOption(t, i, end); !good || k == proto.TCPOptEOL {
			return nil, 0, false
		}
		if k == kind && k != proto.TCPOptNOP {
			return t[i+2 : i+n], i, true
		}
	}
	return nil, 0, false
}

// l4ChecksumOK verifies the transport checksum from scratch.
func l4ChecksumOK(s *slot) bool {
	d := s.p.Data()
	seg := d[s.l4Off : s.l4Off+s.l4Len]
	if s.ipOff >= 0 {
		ip := d[s.ipOff:]
		if s.l4Proto == proto.ProtoICMP {
			return proto.Checksum(seg) == 0
		}
		if s.l4Proto == proto.ProtoUDP && proto.U16(seg, proto.UDPOffSum) == 0 {
			return true
		}
		return proto.Fold(proto.Sum(seg, proto.PseudoSum(ip, s.l4Proto, len(seg)))) == 0
	}
	return proto.Fold(proto.Sum(seg, ip6PseudoSum(s, d, len(seg)))) == 0
}

// ---- UDP ----

var udpMethods = map[string]glua.LGFunction{
	"sport":     l4Field(proto.ProtoUDP, 0, 2),
	"dport":     l4Field(proto.ProtoUDP, 2, 2),
	"set_sport": func(L *glua.LState) int { setL4Port(L, proto.ProtoUDP, 0); return 0 },
	"set_dport": func(L *glua.LState) int { setL4Port(L, proto.ProtoUDP, 2); return 0 },
	"len":       l4Field(proto.ProtoUDP, proto.UDPOffLen, 2),
	"checksum":  l4Field(proto.ProtoUDP, proto.UDPOffSum, 2),
	"checksum_ok": func(L *glua.LState) int {
		s, _ := l4Of(L, proto.ProtoUDP)
		return pushBool(L, l4ChecksumOK(s))
	},
	"payload_offset": func(L *glua.LState) int { s, _ := l4Of(L, proto.ProtoUDP); L.Push(num(s.l4Off + 8)); return 1 },
	"payload_len":    func(L *glua.LState) int { s, _ := l4Of(L, proto.ProtoUDP); L.Push(num(s.l4Len - 8)); return 1 },
}

// ---- ICMP / ICMPv6 ----

var icmpMethods = map[string]glua.LGFunction{
	"type":     l4Field(proto.ProtoICMP, 0, 1),
	"code":     l4Field(proto.ProtoICMP, 1, 1),
	"checksum": l4Field(proto.ProtoICMP, 2, 2),
	"checksum_ok": func(L *glua.LState) int {
		s, _ := l4Of(L, proto.ProtoICMP)
		return pushBool(L, l4ChecksumOK(s))
	},
	"id":       echoField(4),
	"seq":      echoField(6),
	"set_type": func(L *glua.LState) int { setICMPByte(L, 0); return 0 },
	"set_code": func(L *glua.LState) int { setICMPByte(L, 1); return 0 },
}

// echoField makes the getter of the 16-bit echo field at off (identifier
// or sequence number): nil when the ICMP header is too short to hold it.
//
//go:noinline
func echoField(off int) glua.LGFunction {
	return func(L *glua.LState) int {
		if _, c := l4Of(L, proto.ProtoICMP); len(c) >= 8 {
			L.Push(num(int(proto.U16(c, off))))
		} else {
			L.Push(glua.LNil)
		}
		return 1
	}
}

func setICMPByte(L *glua.LState, off int) {
	v := byte(checkRange(L, 2, 0, 255))
	s, c := l4W(L, proto.ProtoICMP)
	old := proto.U16(c, 0)
	c[off] = v
	_ = s
	proto.UpdateSum16(c[2:], old, proto.U16(c, 0))
}
