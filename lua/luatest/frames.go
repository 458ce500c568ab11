// Package luatest builds test frames and runs Lua test files
// (lua/testdata/*_test.lua, scripts' tests) as Go subtests.
package luatest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"flowbox/appliance/proto"
)

// Frame describes a test frame: Ethernet + IPv4/IPv6 + TCP/UDP/ICMP.
type Frame struct {
	Src, Dst       string // IP addresses (IPv6 if they contain ':')
	SrcMAC, DstMAC [6]byte
	VLAN           uint16 // 0: untagged
	Proto          uint8  // proto.ProtoTCP/UDP/ICMP/ICMPv6
	TTL, TOS       uint8
	ID             uint16
	Sport, Dport   uint16
	Flags          uint8  // TCP flags
	Seq, Ack       uint32 // TCP
	Win            uint16
	Options        []byte // TCP options (padded to 4 bytes)
	ICMPType       uint8
	ICMPCode       uint8
	ICMPID         uint16
	ICMPSeq        uint16
	Payload        []byte
	NoUDPChecksum  bool
	FragOffset     uint16 // IPv4/IPv6 fragment offset (8-byte units)
	MoreFragments  bool
	// Ext6 lists IPv6 extension headers to put between the IPv6 header
	// and the transport header, in order: 0 hop-by-hop, 43 routing, 60
	// destination options (8 bytes each, PadN), 44 fragment (with
	// FragOffset, MoreFragments and ID).
	Ext6 []uint8
	// Route6, when set, makes the routing header an SRH (type 4) with one
	// segment, Route6, and segments left 1: the transport checksum uses
	// it as the pseudo-header destination. Otherwise the routing header
	// is type 4 with no segments and segments left 0.
	Route6 string
}

// Build renders the frame with correct checksums.
func (f Frame) Build() []byte {
	src, dst := netip.MustParseAddr(f.Src), netip.MustParseAddr(f.Dst)
	v6 := src.Is6() && !src.Is4In6()
	ttl := f.TTL
	if ttl == 0 {
		ttl = 64
	}
	var l4 []byte
	switch f.Proto {
	case proto.ProtoTCP:
		opts := append([]byte(nil), f.Options...)
		for len(opts)%4 != 0 {
			opts = append(opts, 0)
		}
		l4 = make([]byte, 20+len(opts)+len(f.Payload))
		binary.BigEndian.PutUint16(l4[0:], f.Sport)
		binary.BigEndian.PutUint16(l4[2:], f.Dport)
		binary.BigEndian.PutUint32(l4[4:], f.Seq)
		binary.BigEndian.PutUint32(l4[8:], f.Ack)
		l4[12] = byte((20 + len(opts)) / 4 << 4)
		l4[13] = f.Flags
		win := f.Win
		if win == 0 {
			win = 65535
		}
		binary.BigEndian.PutUint16(l4[14:], win)
		copy(l4[20:], opts)
		copy(l4[20+len(opts):], f.Payload)
	case proto.ProtoUDP:
		l4 = make([]byte, 8+len(f.Payload))
		binary.BigEndian.PutUint16(l4[0:], f.Sport)
		binary.BigEndian.PutUint16(l4[2:], f.Dport)
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
		copy(l4[8:], f.Payload)
	default:
		l4 = make([]byte, 8+len(f.Payload))
		l4[0], l4[1] = f.ICMPType, f.ICMPCode
		binary.BigEndian.PutUint16(l4[4:], f.ICMPID)
		binary.BigEndian.PutUint16(l4[6:], f.ICMPSeq)
		copy(l4[8:], f.Payload)
	}
	var ip []byte
	if v6 {
		ext, first := f.ext6()
		ip = make([]byte, 40, 40+len(ext))
		binary.BigEndian.PutUint32(ip[0:], 6<<28|uint32(f.TOS)<<20)
		binary.BigEndian.PutUint16(ip[4:], uint16(len(ext)+len(l4)))
		ip[6], ip[7] = first, ttl
		s, d := src.As16(), dst.As16()
		copy(ip[8:], s[:])
		copy(ip[24:], d[:])
		if f.Route6 != "" {
			r := netip.MustParseAddr(f.Route6).As16()
			copy(d[:], r[:])
		}
		if !(f.Proto == proto.ProtoUDP && f.NoUDPChecksum) {
			setL4Sum6(s[:], d[:], l4, f.Proto)
		}
		ip = append(ip, ext...)
	} else {
		ip = make([]byte, 20)
		ip[0], ip[1] = 0x45, f.TOS
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
		binary.BigEndian.PutUint16(ip[4:], f.ID)
		frag := f.FragOffset
		if f.MoreFragments {
			frag |= proto.IPFlagMF
		}
		binary.BigEndian.PutUint16(ip[6:], frag)
		ip[8], ip[9] = ttl, f.Proto
		s, d := src.As4(), dst.As4()
		copy(ip[12:], s[:])
		copy(ip[16:], d[:])
		proto.SetIPv4Checksum(ip)
	}
	if !v6 && !(f.Proto == proto.ProtoUDP && f.NoUDPChecksum) {
		setL4Sum(ip, l4, f.Proto, false)
	}
	et := uint16(proto.EtherTypeIPv4)
	if v6 {
		et = proto.EtherTypeIPv6
	}
	var eth []byte
	srcMAC, dstMAC := f.SrcMAC, f.DstMAC
	if srcMAC == ([6]byte{}) {
		srcMAC = [6]byte{0x02, 0, 0, 0, 0, 1}
	}
	if dstMAC == ([6]byte{}) {
		dstMAC = [6]byte{0x02, 0, 0, 0, 0, 2}
	}
	eth = append(eth, dstMAC[:]...)
	eth = append(eth, srcMAC[:]...)
	if f.VLAN != 0 {
		eth = binary.BigEndian.AppendUint16(eth, proto.EtherTypeVLAN)
		eth = binary.BigEndian.AppendUint16(eth, f.VLAN)
	}
	eth = binary.BigEndian.AppendUint16(eth, et)
	out := append(eth, ip...)
	return append(out, l4...)
}

// ext6 renders the IPv6 extension headers and returns them with the
// IPv6 header's next-header value.
func (f Frame) ext6() ([]byte, uint8) {
	var out []byte
	var prevNH = -1 // offset of the previous header's next-header byte
	first := f.Proto
	for i, kind := range f.Ext6 {
		var h []byte
		switch kind {
		case 0, 60:
			h = []byte{0, 0, 1, 4, 0, 0, 0, 0} // PadN option filling 6 bytes
		case 43:
			h = []byte{0, 0, 4, 0, 0, 0, 0, 0}
			if f.Route6 != "" {
				r := netip.MustParseAddr(f.Route6).As16()
				h = []byte{0, 2, 4, 1, 0, 0, 0, 0}
				h = append(h, r[:]...)
			}
		case 44:
			h = make([]byte, 8)
			fo := f.FragOffset << 3
			if f.MoreFragments {
				fo |= 1
			}
			binary.BigEndian.PutUint16(h[2:], fo)
			binary.BigEndian.PutUint32(h[4:], uint32(f.ID))
		default:
			panic(fmt.Sprintf("luatest: unsupported IPv6 extension header %d", kind))
		}
		if i == 0 {
			first = kind
		} else {
			out[prevNH] = kind
		}
		prevNH = len(out)
		h[0] = f.Proto
		out = append(out, h...)
	}
	return out, first
}

func setL4Sum6(src, dst, l4 []byte, p uint8) {
	off := sumOff(p)
	l4[off], l4[off+1] = 0, 0
	ps := proto.Sum(dst, proto.Sum(src, 0)) + uint32(len(l4)) + uint32(p)
	c := proto.Fold(proto.Sum(l4, ps))
	if p == proto.ProtoUDP && c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[off:], c)
}

func sumOff(p uint8) int {
	switch p {
	case proto.ProtoTCP:
		return 16
	case proto.ProtoUDP:
		return 6
	}
	return 2
}

func setL4Sum(ip, l4 []byte, p uint8, v6 bool) {
	off := sumOff(p)
	l4[off], l4[off+1] = 0, 0
	var ps uint32
	switch {
	case v6:
		ps = proto.Sum(ip[8:40], 0) + uint32(len(l4)) + uint32(p)
	case p == proto.ProtoICMP:
		ps = 0
	default:
		ps = proto.Sum(ip[12:20], 0) + uint32(len(l4)) + uint32(p)
	}
	c := proto.Fold(proto.Sum(l4, ps))
	if p == proto.ProtoUDP && c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[off:], c)
}

// VerifyChecksums recomputes every checksum of an Ethernet frame from
// scratch and reports the first one that is wrong.
func VerifyChecksums(frame []byte) error {
	if len(frame) < 14 {
		return errors.New("short frame")
	}
	et, off := binary.BigEndian.Uint16(frame[12:]), 14
	if et == proto.EtherTypeVLAN {
		et, off = binary.BigEndian.Uint16(frame[16:]), 18
	}
	ip := frame[off:]
	var l4 []byte
	var p uint8
	v6 := false
	switch et {
	case proto.EtherTypeIPv4:
		hl := int(ip[0]&15) * 4
		if proto.Checksum(ip[:hl]) != 0 {
			return fmt.Errorf("bad IPv4 header checksum %#04x", binary.BigEndian.Uint16(ip[10:]))
		}
		if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 {
			return nil // fragment: transport checksum covers other fragments
		}
		total := int(binary.BigEndian.Uint16(ip[2:]))
		l4, p = ip[hl:total], ip[9]
	case proto.EtherTypeIPv6:
		v6 = true
		end := 40 + int(binary.BigEndian.Uint16(ip[4:]))
		o, nh := 40, ip[6]
		dst := ip[24:40]
	walk:
		for {
			switch nh {
			case 0, 43, 60:
				hl := (int(ip[o+1]) + 1) * 8
				if nh == 43 && ip[o+3] > 0 && ip[o+2] == 4 {
					dst = ip[o+8 : o+24]
				}
				nh, o = ip[o], o+hl
			case 44:
				if binary.BigEndian.Uint16(ip[o+2:])&0xfff9 != 0 {
					return nil // fragment: transport checksum covers other fragments
				}
				nh, o = ip[o], o+8
			default:
				break walk
			}
		}
		l4, p = ip[o:end], nh
		if p != proto.ProtoTCP && p != proto.ProtoUDP && p != proto.ProtoICMPv6 {
			return nil
		}
		cp := append([]byte(nil), l4...)
		want := binary.BigEndian.Uint16(l4[sumOff(p):])
		setL4Sum6(ip[8:24], dst, cp, p)
		if got := binary.BigEndian.Uint16(cp[sumOff(p):]); got != want {
			if !(p != proto.ProtoUDP && (got^want) == 0xffff && (got == 0 || want == 0)) {
				return fmt.Errorf("bad transport checksum %#04x, want %#04x", want, got)
			}
		}
		return nil
	default:
		return nil
	}
	if p == proto.ProtoUDP && !v6 && binary.BigEndian.Uint16(l4[6:]) == 0 {
		return nil
	}
	cp := append([]byte(nil), l4...)
	want := binary.BigEndian.Uint16(l4[sumOff(p):])
	setL4Sum(ip, cp, p, v6)
	if got := binary.BigEndian.Uint16(cp[sumOff(p):]); got != want {
		// 0x0000 and 0xffff are the same one's-complement value (except UDP)
		if !(p != proto.ProtoUDP && (got^want) == 0xffff && (got == 0 || want == 0)) {
			return fmt.Errorf("bad transport checksum %#04x, want %#04x", want, got)
		}
	}
	return nil
}

// UDP4, TCP4 and ICMP4 are shorthands.
func UDP4(src, dst string, sport, dport uint16, payload []byte) []byte {
	return Frame{Src: src, Dst: dst, Proto: proto.ProtoUDP, Sport: sport, Dport: dport, Payload: payload}.Build()
}

func TCP4(src, dst string, sport, dport uint16, flags uint8) []byte {
	return Frame{Src: src, Dst: dst, Proto: proto.ProtoTCP, Sport: sport, Dport: dport, Flags: flags}.Build()
}

func ICMP4(src, dst string, typ uint8, id, seq uint16) []byte {
	return Frame{Src: src, Dst: dst, Proto: proto.ProtoICMP, ICMPType: typ, ICMPID: id, ICMPSeq: seq}.Build()
}
