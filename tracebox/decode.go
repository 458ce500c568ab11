package tracebox

import (
	"net/netip"
)

// Decode parses an L3 packet (IPv4 or IPv6, chosen by the version nibble)
// into layers. It never fails: bytes it cannot interpret become a RawLayer.
// Truncated headers are decoded as far as they go: a TCP header shorter than
// 20 bytes is left as RawLayer (see ParseQuote for the PartialTCP form).
func Decode(b []byte) *Packet {
	p := &Packet{}
	if len(b) == 0 {
		return p
	}
	switch b[0] >> 4 {
	case 4:
		decodeIPv4(p, b)
	case 6:
		decodeIPv6(p, b)
	default:
		p.Layers = append(p.Layers, NewRaw(b))
	}
	return p
}

func decodeIPv4(p *Packet, b []byte) {
	if len(b) < 20 {
		p.Layers = append(p.Layers, NewRaw(b))
		return
	}
	l := newIP()
	hl := int(b[0] & 0xf)
	l.F[ipVersion].V = uint64(b[0] >> 4)
	l.F[ipHL].V = uint64(hl)
	l.F[ipDSCP].V = uint64(b[1] >> 2)
	l.F[ipECN].V = uint64(b[1] & 3)
	l.F[ipTotLen].V = uint64(be16(b[2:]))
	l.F[ipID].V = uint64(be16(b[4:]))
	l.F[ipFlags].V = uint64(b[6] >> 5)
	l.F[ipFragOff].V = uint64(be16(b[6:]) & 0x1fff)
	l.F[ipTTL].V = uint64(b[8])
	l.F[ipProto].V = uint64(b[9])
	l.F[ipCsum].V = uint64(be16(b[10:]))
	l.F[ipSrc].A = netip.AddrFrom4([4]byte(b[12:16]))
	l.F[ipDst].A = netip.AddrFrom4([4]byte(b[16:20]))
	p.Layers = append(p.Layers, l)
	hlen := hl * 4
	if hlen < 20 {
		hlen = 20
	}
	if hlen > len(b) {
		hlen = len(b)
	}
	decodeIPOptions(p, b[20:hlen])
	rest := b[hlen:]
	if tl := int(be16(b[2:])); tl >= hlen && tl-hlen < len(rest) {
		// Trailing bytes beyond the total length are not part of the packet
		// (Ethernet padding); keep them out of the layers.
		rest = rest[:tl-hlen]
	}
	if l.F[ipFragOff].V != 0 {
		if len(rest) > 0 {
			p.Layers = append(p.Layers, NewRaw(rest))
		}
		return
	}
	decodeL4(p, b[9], rest, false)
}

func decodeIPOptions(p *Packet, o []byte) {
	for len(o) > 0 {
		t := o[0]
		l := &Layer{Kind: KIPOpt}
		if t == 0 || t == 1 {
			l.F = []Field{{Name: "CopyFlag", V: uint64(t >> 7)}, {Name: "Class", V: uint64(t>>5) & 3}, {Name: "Option", V: uint64(t & 0x1f)}}
			p.Layers = append(p.Layers, l)
			o = o[1:]
			continue
		}
		if len(o) < 2 || int(o[1]) < 2 || int(o[1]) > len(o) {
			p.Layers = append(p.Layers, NewRaw(o))
			return
		}
		n := int(o[1])
		l.F = []Field{{Name: "CopyFlag", V: uint64(t >> 7)}, {Name: "Class", V: uint64(t>>5) & 3}, {Name: "Option", V: uint64(t & 0x1f)}, {Name: "Length", V: uint64(n)}}
		l.Data = append([]byte(nil), o[2:n]...)
		p.Layers = append(p.Layers, l)
		o = o[n:]
	}
}

func decodeIPv6(p *Packet, b []byte) {
	if len(b) < 40 {
		p.Layers = append(p.Layers, NewRaw(b))
		return
	}
	l := newIPv6()
	l.F[v6Version].V = uint64(b[0] >> 4)
	l.F[v6TC].V = uint64(be16(b) >> 4 & 0xff)
	l.F[v6Flow].V = uint64(be32(b) & 0xfffff)
	l.F[v6PayLen].V = uint64(be16(b[4:]))
	l.F[v6Next].V = uint64(b[6])
	l.F[v6Hop].V = uint64(b[7])
	l.F[v6Src].A = netip.AddrFrom16([16]byte(b[8:24]))
	l.F[v6Dst].A = netip.AddrFrom16([16]byte(b[24:40]))
	p.Layers = append(p.Layers, l)
	rest := b[40:]
	if pl := int(be16(b[4:])); pl < len(rest) && pl > 0 {
		rest = rest[:pl]
	}
	decodeL4(p, b[6], rest, true)
}

func decodeL4(p *Packet, proto uint8, b []byte, v6 bool) {
	if len(b) == 0 {
		return
	}
	switch {
	case proto == 6 && len(b) >= 20:
		n := decodeTCP(p, b)
		b = b[n:]
	case proto == 17 && len(b) >= 8:
		l := newUDP()
		l.F[udpSport].V = uint64(be16(b))
		l.F[udpDport].V = uint64(be16(b[2:]))
		l.F[udpLen].V = uint64(be16(b[4:]))
		l.F[udpCsum].V = uint64(be16(b[6:]))
		p.Layers = append(p.Layers, l)
		b = b[8:]
	case (proto == 1 && !v6 || proto == 58 && v6) && len(b) >= 8:
		l := newICMP(v6)
		l.F[icmpType].V = uint64(b[0])
		l.F[icmpCode].V = uint64(b[1])
		l.F[icmpCsum].V = uint64(be16(b[2:]))
		l.F[icmpRest].V = uint64(be32(b[4:]))
		p.Layers = append(p.Layers, l)
		b = b[8:]
	}
	if len(b) > 0 {
		p.Layers = append(p.Layers, NewRaw(b))
	}
}

// decodeTCP decodes a TCP header and its options; it returns the header size
// consumed (options beyond the captured bytes are dropped).
func decodeTCP(p *Packet, b []byte) int {
	l := newTCP()
	l.F[tcpSport].V = uint64(be16(b))
	l.F[tcpDport].V = uint64(be16(b[2:]))
	l.F[tcpSeq].V = uint64(be32(b[4:]))
	l.F[tcpAck].V = uint64(be32(b[8:]))
	off := int(b[12] >> 4)
	l.F[tcpOff].V = uint64(off)
	l.F[tcpRes].V = uint64(b[12] & 0xf)
	l.F[tcpFlags].V = uint64(b[13])
	l.F[tcpWin].V = uint64(be16(b[14:]))
	l.F[tcpCsum].V = uint64(be16(b[16:]))
	l.F[tcpUrg].V = uint64(be16(b[18:]))
	p.Layers = append(p.Layers, l)
	hlen := off * 4
	if hlen < 20 {
		hlen = 20
	}
	if hlen > len(b) {
		hlen = len(b)
	}
	i := 20
	for i < hlen {
		k := b[i]
		if k == OptEOL || k == OptNOP {
			p.Layers = append(p.Layers, newTCPOpt(k, nil))
			i++
			continue
		}
		if i+1 >= hlen || (int(b[i+1]) >= 2 && i+int(b[i+1]) > hlen && hlen == len(b)) {
			// option cut by a truncated capture/quote: dropped
			break
		}
		if int(b[i+1]) < 2 || i+int(b[i+1]) > hlen {
			// malformed option: keep the bytes as a generic option
			o := &Layer{Kind: KTCPOpt, F: []Field{{Name: "Kind", V: uint64(k)}, {Name: "Length", V: uint64(hlen - i)}}, Data: append([]byte(nil), b[min(i+2, hlen):hlen]...)}
			p.Layers = append(p.Layers, o)
			break
		}
		n := int(b[i+1])
		o := newTCPOpt(k, b[i+2:i+n])
		p.Layers = append(p.Layers, o)
		i += n
		if k == OptEDO && n >= 4 {
			// EDO: the real header length is in the option.
			if h := int(be16(b[i-n+2:])) * 4; h > hlen {
				hlen = min(h, len(b))
			}
		}
	}
	return hlen
}
