// Package tracebox is flowbox's reimplementation of tracebox (Detal et al.,
// IMC 2013): it sends a probe with increasing TTL / hop limit and compares it
// with the packet quoted back in ICMP errors to find which hop modified what.
//
// The packet model mirrors the libcrafter layers the original tool exposed:
// every layer has a libcrafter name, a protocol id (used to order the
// modification list exactly as tracebox 0.4.4 does) and an ordered list of
// named fields. Each TCP or IP option is its own layer.
package tracebox

import (
	"fmt"
	"net/netip"
	"strings"
)

// Kind identifies a layer type.
type Kind uint8

// Layer kinds.
const (
	KRaw Kind = iota
	KIP
	KIPv6
	KTCP
	KUDP
	KICMP
	KICMPv6
	KTCPOpt
	KIPOpt
	KPartialTCP
)

// libcrafter protocol ids (ordering of the modification list).
const (
	idICMP       = 0x01
	idTCP        = 0x06
	idUDP        = 0x11
	idICMPv6     = 0x3a
	idPartialTCP = 0x06ff
	idIP         = 0x0800
	idIPOpt      = 0x0801 // IPOption* (0x0801..)
	idIPv6       = 0x86dd
	idTCPOpt     = 0x9000 // TCPOption* (0x9000..0x9034)
	idRaw        = 0xfff1
)

// Field formats.
const (
	fDec uint8 = iota
	fHex
	fAddr
	fTCPFlags
	fIPFlags
)

// Field is one named header field.
type Field struct {
	Name string
	V    uint64
	A    netip.Addr // for fAddr
	Fmt  uint8
}

func (f Field) String() string {
	switch f.Fmt {
	case fHex:
		return fmt.Sprintf("0x%x", f.V)
	case fAddr:
		if !f.A.IsValid() {
			return "0.0.0.0"
		}
		return f.A.String()
	case fTCPFlags:
		return tcpFlagString(uint8(f.V))
	case fIPFlags:
		return ipFlagString(uint8(f.V))
	}
	return fmt.Sprintf("%d", f.V)
}

func (f Field) equal(g Field) bool { return f.V == g.V && f.A == g.A }

var tcpFlagNames = []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"}

func tcpFlagString(v uint8) string {
	var b strings.Builder
	b.WriteString("( ")
	for i, n := range tcpFlagNames {
		if v&(1<<i) != 0 {
			b.WriteString(n)
			b.WriteByte(' ')
		}
	}
	b.WriteString(")")
	return b.String()
}

func ipFlagString(v uint8) string {
	var b strings.Builder
	b.WriteString("( ")
	if v&4 != 0 {
		b.WriteString("RF ")
	}
	if v&2 != 0 {
		b.WriteString("DF ")
	}
	if v&1 != 0 {
		b.WriteString("MF ")
	}
	b.WriteString(")")
	return b.String()
}

// Layer is one protocol layer. Fields are ordered as libcrafter orders them.
// Data is the layer payload in libcrafter's sense (raw bytes of a RawLayer,
// option data beyond the fixed fields of an option layer).
type Layer struct {
	Kind Kind
	F    []Field
	Data []byte
	// set marks fields given explicitly by the user (probe building).
	set uint64
	// ext names an ICMP extension layer (stored as KRaw with fields).
	ext string
}

// Field indexes per kind.
const (
	ipVersion = iota
	ipHL
	ipDSCP
	ipECN
	ipTotLen
	ipID
	ipFlags
	ipFragOff
	ipTTL
	ipProto
	ipCsum
	ipSrc
	ipDst
)

const (
	v6Version = iota
	v6TC
	v6Flow
	v6PayLen
	v6Next
	v6Hop
	v6Src
	v6Dst
)

const (
	tcpSport = iota
	tcpDport
	tcpSeq
	tcpAck
	tcpOff
	tcpRes
	tcpFlags
	tcpWin
	tcpCsum
	tcpUrg
)

const (
	udpSport = iota
	udpDport
	udpLen
	udpCsum
)

const (
	icmpType = iota
	icmpCode
	icmpCsum
	icmpRest
)

// option field 0 = Kind, 1 = Length (absent for pads)
const (
	optKind = 0
	optLen  = 1
)

// IP option: CopyFlag, Class, Option, Length
const (
	ipoCopy = iota
	ipoClass
	ipoOption
	ipoLen
)

func newIP() *Layer {
	return &Layer{Kind: KIP, F: []Field{
		{Name: "Version", V: 4}, {Name: "HeaderLength", V: 5}, {Name: "DiffServicesCP"},
		{Name: "ExpCongestionNot"}, {Name: "TotalLength"}, {Name: "Identification", Fmt: fHex},
		{Name: "Flags", V: 2, Fmt: fIPFlags}, {Name: "FragmentOffset"}, {Name: "TTL", V: 64},
		{Name: "Protocol", V: 6, Fmt: fHex}, {Name: "CheckSum", Fmt: fHex},
		{Name: "SourceIP", Fmt: fAddr}, {Name: "DestinationIP", Fmt: fAddr},
	}}
}

func newIPv6() *Layer {
	return &Layer{Kind: KIPv6, F: []Field{
		{Name: "Version", V: 6}, {Name: "TrafficClass"}, {Name: "FlowLabel"}, {Name: "PayloadLength"},
		{Name: "NextHeader", V: 6}, {Name: "HopLimit", V: 64}, {Name: "SourceIP", Fmt: fAddr},
		{Name: "DestinationIP", Fmt: fAddr},
	}}
}

func newTCP() *Layer {
	return &Layer{Kind: KTCP, F: []Field{
		{Name: "SrcPort"}, {Name: "DstPort", V: 80}, {Name: "SeqNumber"}, {Name: "AckNumber"},
		{Name: "DataOffset", V: 5}, {Name: "Reserved"}, {Name: "Flags", V: 2, Fmt: fTCPFlags},
		{Name: "WindowsSize", V: 5840}, {Name: "CheckSum", Fmt: fHex}, {Name: "UrgPointer"},
	}}
}

func newUDP() *Layer {
	return &Layer{Kind: KUDP, F: []Field{
		{Name: "SrcPort"}, {Name: "DstPort", V: 53}, {Name: "Length"}, {Name: "CheckSum", Fmt: fHex},
	}}
}

func newICMP(v6 bool) *Layer {
	k := KICMP
	if v6 {
		k = KICMPv6
	}
	return &Layer{Kind: k, F: []Field{
		{Name: "Type"}, {Name: "Code"}, {Name: "CheckSum", Fmt: fHex}, {Name: "RestOfHeader", Fmt: fHex},
	}}
}

func newPartialTCP(sport, dport uint16, seq uint32) *Layer {
	return &Layer{Kind: KPartialTCP, F: []Field{
		{Name: "SrcPort", V: uint64(sport)}, {Name: "DstPort", V: uint64(dport)}, {Name: "SeqNumber", V: uint64(seq)},
	}}
}

// NewRaw returns a RawLayer holding b.
func NewRaw(b []byte) *Layer { return &Layer{Kind: KRaw, Data: append([]byte(nil), b...)} }

// TCP option kinds used by the model.
const (
	OptEOL       = 0
	OptNOP       = 1
	OptMSS       = 2
	OptWScale    = 3
	OptSACKP     = 4
	OptSACK      = 5
	OptTimestamp = 8
	OptMPTCP     = 30
	OptTFO       = 34
	OptEDO       = 69
)

// newTCPOpt builds an option layer from its wire bytes (kind, length, data).
func newTCPOpt(kind uint8, data []byte) *Layer {
	l := &Layer{Kind: KTCPOpt}
	if kind == OptEOL || kind == OptNOP {
		l.F = []Field{{Name: "Kind", V: uint64(kind)}}
		return l
	}
	l.F = []Field{{Name: "Kind", V: uint64(kind)}, {Name: "Length", V: uint64(len(data) + 2)}}
	switch kind {
	case OptMSS:
		if len(data) == 2 {
			l.F = append(l.F, Field{Name: "MaxSegSize", V: uint64(be16(data))})
			return l
		}
	case OptWScale:
		if len(data) == 1 {
			l.F = append(l.F, Field{Name: "Shift", V: uint64(data[0])})
			return l
		}
	case OptSACKP:
		if len(data) == 0 {
			return l
		}
	case OptTimestamp:
		if len(data) == 8 {
			l.F = append(l.F, Field{Name: "Value", V: uint64(be32(data))}, Field{Name: "EchoReply", V: uint64(be32(data[4:]))})
			return l
		}
	case OptEDO:
		if len(data) >= 2 {
			l.F = append(l.F, Field{Name: "HeaderLength", V: uint64(be16(data))})
			if len(data) >= 4 {
				l.F = append(l.F, Field{Name: "SegmentLength", V: uint64(be16(data[2:]))})
			}
			l.Data = append([]byte(nil), data[min(len(data), 4):]...)
			return l
		}
	case OptMPTCP:
		if len(data) >= 10 && data[0]>>4 == 0 { // MP_CAPABLE
			l.F = append(l.F, Field{Name: "Subtype", V: uint64(data[0] >> 4)}, Field{Name: "Version", V: uint64(data[0] & 0xf)},
				Field{Name: "Checksum", V: uint64(data[1] >> 7)}, Field{Name: "Flags", V: uint64(data[1]>>1) & 0x3f},
				Field{Name: "Crypto", V: uint64(data[1] & 1)}, Field{Name: "Sender's Key", V: be64(data[2:]), Fmt: fHex})
			if len(data) >= 18 {
				l.F = append(l.F, Field{Name: "Receiver's Key", V: be64(data[10:]), Fmt: fHex})
				l.Data = append([]byte(nil), data[18:]...)
			} else {
				l.Data = append([]byte(nil), data[10:]...)
			}
			return l
		}
		if len(data) == 10 && data[0]>>4 == 1 { // MP_JOIN (SYN)
			l.F = append(l.F, Field{Name: "Subtype", V: 1}, Field{Name: "Blank", V: uint64(data[0]>>1) & 7},
				Field{Name: "BackupPath", V: uint64(data[0] & 1)}, Field{Name: "AddrID", V: uint64(data[1])},
				Field{Name: "Receiver's Token", V: uint64(be32(data[2:])), Fmt: fHex},
				Field{Name: "Sender's Random Number", V: uint64(be32(data[6:])), Fmt: fHex})
			return l
		}
	case OptSACK, OptTFO:
		l.Data = append([]byte(nil), data...)
		return l
	}
	l.Data = append([]byte(nil), data...)
	return l
}

// OptKind returns the option kind of a TCP option layer.
func (l *Layer) optKind() uint8 { return uint8(l.F[optKind].V) }

// Name returns the libcrafter layer name.
func (l *Layer) Name() string {
	if l.ext != "" {
		return l.ext
	}
	switch l.Kind {
	case KIP:
		return "IP"
	case KIPv6:
		return "IPv6"
	case KTCP:
		return "TCP"
	case KUDP:
		return "UDP"
	case KICMP:
		return "ICMP"
	case KICMPv6:
		return "ICMPv6"
	case KPartialTCP:
		return "PartialTCP"
	case KTCPOpt:
		return tcpOptName(l)
	case KIPOpt:
		if len(l.F) <= 3 {
			return "IPOptionPad"
		}
		switch l.F[ipoOption].V {
		case 7, 3, 9:
			return "IPOptionPointer"
		case 18:
			return "IPOptionTraceroute"
		}
		return "IPOption"
	}
	return "RawLayer"
}

func tcpOptName(l *Layer) string {
	k := l.optKind()
	switch k {
	case OptEOL, OptNOP:
		return "TCPOptionPad"
	case OptMSS:
		if len(l.F) == 3 {
			return "TCPOptionMaxSegSize"
		}
	case OptWScale:
		if len(l.F) == 3 {
			return "TCPOptionWindowScale"
		}
	case OptSACKP:
		return "TCPOptionSACKPermitted"
	case OptSACK:
		return "TCPOptionSACK"
	case OptTimestamp:
		if len(l.F) == 4 {
			return "TCPOptionTimestamp"
		}
	case OptTFO:
		return "TCPOptionFastOpen"
	case OptEDO:
		if len(l.F) > 2 {
			return "TCPOptionEDO"
		}
	case OptMPTCP:
		if len(l.F) > 2 {
			if l.F[2].V == 0 {
				return "TCPOptionMPTCPCapable"
			}
			return "TCPOptionMPTCPJoin"
		}
	}
	return "TCPOption"
}

// ProtoID is the libcrafter protocol id used to order modifications.
func (l *Layer) ProtoID() uint32 {
	switch l.Kind {
	case KIP:
		return idIP
	case KIPv6:
		return idIPv6
	case KTCP:
		return idTCP
	case KUDP:
		return idUDP
	case KICMP:
		return idICMP
	case KICMPv6:
		return idICMPv6
	case KPartialTCP:
		return idPartialTCP
	case KTCPOpt:
		switch tcpOptName(l) {
		case "TCPOption":
			return idTCPOpt
		case "TCPOptionPad":
			return idTCPOpt + 1
		case "TCPOptionMaxSegSize":
			return idTCPOpt + 2
		case "TCPOptionTimestamp":
			return idTCPOpt + 3
		case "TCPOptionWindowScale":
			return idTCPOpt + 4
		case "TCPOptionSACKPermitted":
			return idTCPOpt + 5
		case "TCPOptionSACK":
			return idTCPOpt + 6
		case "TCPOptionMPTCPCapable":
			return idTCPOpt + 0x11
		case "TCPOptionMPTCPJoin":
			return idTCPOpt + 0x12
		case "TCPOptionFastOpen":
			return idTCPOpt + 0x22
		case "TCPOptionEDO":
			return idTCPOpt + 0x34
		}
	case KIPOpt:
		switch l.Name() {
		case "IPOption":
			return idIPOpt
		case "IPOptionPad":
			return idIPOpt + 1
		case "IPOptionPointer":
			return idIPOpt + 2
		case "IPOptionTraceroute":
			return idIPOpt + 3
		}
	}
	return idRaw
}

// Size is the layer's wire size in bytes.
func (l *Layer) Size() int {
	switch l.Kind {
	case KIP:
		return 20
	case KIPv6:
		return 40
	case KTCP:
		return 20
	case KUDP, KICMP, KICMPv6, KPartialTCP:
		return 8
	case KTCPOpt:
		if len(l.F) == 1 {
			return 1
		}
		return int(l.F[optLen].V)
	case KIPOpt:
		if len(l.F) <= 3 {
			return 1
		}
		return int(l.F[ipoLen].V)
	}
	if l.ext != "" {
		return 4 + len(l.Data)
	}
	return len(l.Data)
}

// Clone returns a deep copy.
func (l *Layer) Clone() *Layer {
	c := *l
	c.F = append([]Field(nil), l.F...)
	c.Data = append([]byte(nil), l.Data...)
	return &c
}

// Get returns the value of a named field.
func (l *Layer) Get(name string) (Field, bool) {
	for _, f := range l.F {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

func (l *Layer) setV(i int, v uint64) {
	l.F[i].V = v
	l.set |= 1 << uint(i)
}

func (l *Layer) setA(i int, a netip.Addr) {
	l.F[i].A = a
	l.set |= 1 << uint(i)
}

func (l *Layer) isSet(i int) bool { return l.set&(1<<uint(i)) != 0 }

// String is the libcrafter dump: < Name (N bytes) :: F = v , ... >.
func (l *Layer) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "< %s (%d bytes) :: ", l.Name(), l.Size())
	for _, f := range l.F {
		fmt.Fprintf(&b, "%s = %s , ", f.Name, f.String())
	}
	if len(l.Data) > 0 {
		if l.Kind == KRaw {
			fmt.Fprintf(&b, "Payload = %s", printable(l.Data))
		} else {
			fmt.Fprintf(&b, "Payload = %x ", l.Data)
		}
	}
	b.WriteString(">")
	return b.String()
}

func printable(d []byte) string {
	var b strings.Builder
	for _, c := range d {
		if c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
		} else {
			b.WriteByte('.')
		}
	}
	return b.String()
}

// Packet is an ordered list of layers.
type Packet struct {
	Layers []*Layer
}

// Clone deep-copies the packet.
func (p *Packet) Clone() *Packet {
	if p == nil {
		return nil
	}
	c := &Packet{Layers: make([]*Layer, len(p.Layers))}
	for i, l := range p.Layers {
		c.Layers[i] = l.Clone()
	}
	return c
}

// First returns the first layer of kind k.
func (p *Packet) First(k Kind) *Layer {
	if p == nil {
		return nil
	}
	for _, l := range p.Layers {
		if l.Kind == k {
			return l
		}
	}
	return nil
}

// Net returns the IP or IPv6 layer.
func (p *Packet) Net() *Layer {
	if p == nil {
		return nil
	}
	for _, l := range p.Layers {
		if l.Kind == KIP || l.Kind == KIPv6 {
			return l
		}
	}
	return nil
}

// Src and Dst return the network addresses.
func (p *Packet) Src() netip.Addr {
	n := p.Net()
	if n == nil {
		return netip.Addr{}
	}
	if n.Kind == KIP {
		return n.F[ipSrc].A
	}
	return n.F[v6Src].A
}

// Dst returns the network destination.
func (p *Packet) Dst() netip.Addr {
	n := p.Net()
	if n == nil {
		return netip.Addr{}
	}
	if n.Kind == KIP {
		return n.F[ipDst].A
	}
	return n.F[v6Dst].A
}

// Size is the sum of the layers' sizes.
func (p *Packet) Size() int {
	n := 0
	for _, l := range p.Layers {
		n += l.Size()
	}
	return n
}

// String dumps one layer per line.
func (p *Packet) String() string {
	var b strings.Builder
	for _, l := range p.Layers {
		b.WriteString(l.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
func be64(b []byte) uint64 { return uint64(be32(b))<<32 | uint64(be32(b[4:])) }
