package tracebox

import (
	"errors"
	"fmt"
	"net"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Craft serializes the packet with gopacket, computing lengths, protocol
// numbers, data offsets and checksums (as libcrafter does at send time).
// ttl > 0 overrides the TTL / hop limit.
func Craft(p *Packet, ttl int) ([]byte, error) {
	if p == nil || len(p.Layers) == 0 {
		return nil, errors.New("empty packet")
	}
	var ls []gopacket.SerializableLayer
	var netLayer gopacket.NetworkLayer
	var tcpL *layers.TCP
	edo := false
	for i := 0; i < len(p.Layers); i++ {
		l := p.Layers[i]
		next := Kind(255)
		j := i + 1
		for j < len(p.Layers) && (p.Layers[j].Kind == KIPOpt || p.Layers[j].Kind == KTCPOpt) && l.Kind != KTCPOpt && l.Kind != KIPOpt {
			j++
		}
		if j < len(p.Layers) {
			next = p.Layers[j].Kind
		}
		switch l.Kind {
		case KIP:
			ip := &layers.IPv4{
				Version: 4, TOS: uint8(l.F[ipDSCP].V<<2 | l.F[ipECN].V&3), Id: uint16(l.F[ipID].V),
				Flags: layers.IPv4Flag(l.F[ipFlags].V & 7), FragOffset: uint16(l.F[ipFragOff].V),
				TTL: uint8(l.F[ipTTL].V), Protocol: layers.IPProtocol(l.F[ipProto].V),
			}
			if ttl > 0 {
				ip.TTL = uint8(ttl)
			}
			if !l.isSet(ipProto) {
				ip.Protocol = protoOf(next, false, uint8(l.F[ipProto].V))
			}
			if !l.F[ipSrc].A.Is4() || !l.F[ipDst].A.Is4() {
				return nil, errors.New("IP layer needs IPv4 source and destination")
			}
			s, d := l.F[ipSrc].A.As4(), l.F[ipDst].A.As4()
			ip.SrcIP, ip.DstIP = net.IP(s[:]), net.IP(d[:])
			for i+1 < len(p.Layers) && p.Layers[i+1].Kind == KIPOpt {
				i++
				o := p.Layers[i]
				t := uint8(o.F[ipoCopy].V<<7 | o.F[ipoClass].V<<5 | o.F[ipoOption].V)
				if len(o.F) <= 3 {
					ip.Options = append(ip.Options, layers.IPv4Option{OptionType: t, OptionLength: 1})
				} else {
					ip.Options = append(ip.Options, layers.IPv4Option{OptionType: t, OptionLength: uint8(len(o.Data) + 2), OptionData: o.Data})
				}
			}
			netLayer = ip
			ls = append(ls, ip)
		case KIPv6:
			ip := &layers.IPv6{
				Version: 6, TrafficClass: uint8(l.F[v6TC].V), FlowLabel: uint32(l.F[v6Flow].V & 0xfffff),
				NextHeader: protoOf(next, true, uint8(l.F[v6Next].V)), HopLimit: uint8(l.F[v6Hop].V),
			}
			if ttl > 0 {
				ip.HopLimit = uint8(ttl)
			}
			if !l.F[v6Src].A.Is6() || !l.F[v6Dst].A.Is6() {
				return nil, errors.New("IPv6 layer needs IPv6 source and destination")
			}
			s, d := l.F[v6Src].A.As16(), l.F[v6Dst].A.As16()
			ip.SrcIP, ip.DstIP = net.IP(s[:]), net.IP(d[:])
			netLayer = ip
			ls = append(ls, ip)
		case KTCP:
			t := &layers.TCP{
				SrcPort: layers.TCPPort(l.F[tcpSport].V), DstPort: layers.TCPPort(l.F[tcpDport].V),
				Seq: uint32(l.F[tcpSeq].V), Ack: uint32(l.F[tcpAck].V), Window: uint16(l.F[tcpWin].V),
				Urgent: uint16(l.F[tcpUrg].V),
			}
			f := uint8(l.F[tcpFlags].V)
			t.FIN, t.SYN, t.RST, t.PSH = f&1 != 0, f&2 != 0, f&4 != 0, f&8 != 0
			t.ACK, t.URG, t.ECE, t.CWR = f&16 != 0, f&32 != 0, f&64 != 0, f&128 != 0
			for i+1 < len(p.Layers) && p.Layers[i+1].Kind == KTCPOpt {
				i++
				o := p.Layers[i]
				k := o.optKind()
				if k == OptEDO {
					edo = true
				}
				t.Options = append(t.Options, layers.TCPOption{OptionType: layers.TCPOptionKind(k), OptionData: optData(o)})
			}
			if netLayer != nil {
				if err := t.SetNetworkLayerForChecksum(netLayer); err != nil {
					return nil, err
				}
			}
			tcpL = t
			ls = append(ls, t)
		case KUDP:
			u := &layers.UDP{SrcPort: layers.UDPPort(l.F[udpSport].V), DstPort: layers.UDPPort(l.F[udpDport].V)}
			if netLayer != nil {
				if err := u.SetNetworkLayerForChecksum(netLayer); err != nil {
					return nil, err
				}
			}
			ls = append(ls, u)
		case KICMP:
			r := uint32(l.F[icmpRest].V)
			ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(uint8(l.F[icmpType].V), uint8(l.F[icmpCode].V)),
				Id: uint16(r >> 16), Seq: uint16(r)})
		case KICMPv6:
			ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(uint8(l.F[icmpType].V), uint8(l.F[icmpCode].V))}
			if netLayer != nil {
				if err := ic.SetNetworkLayerForChecksum(netLayer); err != nil {
					return nil, err
				}
			}
			r := uint32(l.F[icmpRest].V)
			ls = append(ls, ic, gopacket.Payload([]byte{byte(r >> 24), byte(r >> 16), byte(r >> 8), byte(r)}))
		case KRaw:
			ls = append(ls, gopacket.Payload(l.Data))
		case KTCPOpt, KIPOpt:
			return nil, fmt.Errorf("%s without a preceding TCP/IP layer", l.Name())
		default:
			return nil, fmt.Errorf("cannot craft %s", l.Name())
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		return nil, err
	}
	out := append([]byte(nil), buf.Bytes()...)
	if edo && tcpL != nil {
		fixEDO(out)
	}
	return out, nil
}

func optData(o *Layer) []byte {
	switch tcpOptName(o) {
	case "TCPOptionPad":
		return nil
	}
	var d []byte
	for _, f := range o.F[2:] {
		switch f.Name {
		case "MaxSegSize", "HeaderLength", "SegmentLength":
			d = append(d, byte(f.V>>8), byte(f.V))
		case "Shift":
			d = append(d, byte(f.V))
		case "Value", "EchoReply", "Receiver's Token", "Sender's Random Number":
			d = append(d, byte(f.V>>24), byte(f.V>>16), byte(f.V>>8), byte(f.V))
		case "Subtype":
			if f.V == 0 { // MP_CAPABLE: subtype|version, C|flags|crypto
				d = append(d, byte(o.F[3].V&0xf), byte(o.F[4].V<<7|(o.F[5].V&0x3f)<<1|o.F[6].V&1))
			} else { // MP_JOIN: subtype|blank|backup, addr id
				d = append(d, byte(1<<4|(o.F[3].V&7)<<1|o.F[4].V&1), byte(o.F[5].V))
			}
		case "Sender's Key", "Receiver's Key":
			for s := 56; s >= 0; s -= 8 {
				d = append(d, byte(f.V>>uint(s)))
			}
		}
	}
	return append(d, o.Data...)
}

func protoOf(next Kind, v6 bool, def uint8) layers.IPProtocol {
	switch next {
	case KTCP:
		return layers.IPProtocolTCP
	case KUDP:
		return layers.IPProtocolUDP
	case KICMP:
		return layers.IPProtocolICMPv4
	case KICMPv6:
		return layers.IPProtocolICMPv6
	case KIP:
		return layers.IPProtocolIPv4
	case KIPv6:
		return layers.IPProtocolIPv6
	}
	return layers.IPProtocol(def)
}

// fixEDO implements the EDO option (draft-ietf-tcpm-tcp-edo): the data offset
// covers the header up to and including the EDO option, whose HeaderLength
// carries the full header length in 32-bit words. Checksum recomputed.
func fixEDO(b []byte) {
	var hl int
	var src, dst []byte
	switch b[0] >> 4 {
	case 4:
		hl = int(b[0]&0xf) * 4
		src, dst = b[12:16], b[16:20]
	case 6:
		hl = 40
		src, dst = b[8:24], b[24:40]
	}
	t := b[hl:]
	if len(t) < 20 {
		return
	}
	full := int(t[12]>>4) * 4
	for i := 20; i < full; {
		k := t[i]
		if k <= 1 {
			i++
			continue
		}
		if i+1 >= full || t[i+1] < 2 {
			return
		}
		n := int(t[i+1])
		if k == OptEDO && n >= 4 && i+n <= full {
			t[i+2], t[i+3] = byte(full/4>>8), byte(full/4)
			if n >= 6 {
				seg := len(t)
				t[i+4], t[i+5] = byte(seg>>8), byte(seg)
			}
			end := i + n
			t[12] = byte((end+3)/4)<<4 | t[12]&0xf
			break
		}
		i += n
	}
	t[16], t[17] = 0, 0
	c := l4Checksum(src, dst, 6, t)
	t[16], t[17] = byte(c>>8), byte(c)
}

func l4Checksum(src, dst []byte, proto uint8, seg []byte) uint16 {
	var s uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			s += uint32(b[len(b)-1]) << 8
		}
	}
	add(src)
	add(dst)
	s += uint32(proto) + uint32(len(seg))
	add(seg)
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
