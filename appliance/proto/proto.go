// Package proto holds hand-written, allocation-free header accessors and
// checksum routines for the packet path (Ethernet, ARP, IPv4, TCP, UDP,
// ICMP). gopacket is used off the hot path only.
package proto

import (
	"encoding/binary"
)

// Ethernet.
const (
	EtherHeaderLen = 14
	EtherTypeIPv4  = 0x0800
	EtherTypeARP   = 0x0806
	EtherTypeIPv6  = 0x86DD
	EtherTypeVLAN  = 0x8100
)

// IP protocol numbers.
const (
	ProtoICMP   = 1
	ProtoIGMP   = 2
	ProtoIPIP   = 4
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoIPv6   = 41
	ProtoGRE    = 47
	ProtoICMPv6 = 58
)

// IPv4 header field offsets.
const (
	IPv4MinHeaderLen = 20
	IPOffVHL         = 0
	IPOffTOS         = 1
	IPOffLen         = 2
	IPOffID          = 4
	IPOffFrag        = 6
	IPOffTTL         = 8
	IPOffProto       = 9
	IPOffSum         = 10
	IPOffSrc         = 12
	IPOffDst         = 16
	IPFlagDF         = 0x4000
	IPFlagMF         = 0x2000
	IPFragOffMask    = 0x1fff
)

// TCP/UDP offsets.
const (
	TCPMinHeaderLen = 20
	UDPHeaderLen    = 8
	TCPOffSeq       = 4
	TCPOffAck       = 8
	TCPOffDataOff   = 12
	TCPOffFlags     = 13
	TCPOffWin       = 14
	TCPOffSum       = 16
	UDPOffLen       = 4
	UDPOffSum       = 6
	ICMPOffSum      = 2
)

// TCP flags.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
	TCPUrg = 0x20
	TCPEce = 0x40
	TCPCwr = 0x80
)

// ICMP types.
const (
	ICMPEchoReply      = 0
	ICMPUnreachable    = 3
	ICMPSourceQuench   = 4
	ICMPRedirect       = 5
	ICMPEcho           = 8
	ICMPTimeExceeded   = 11
	ICMPParamProblem   = 12
	ICMPTimestamp      = 13
	ICMPTimestampReply = 14
)

// IPv4HeaderLen returns the header length from the IHL field.
func IPv4HeaderLen(ip []byte) int { return int(ip[0]&0x0f) << 2 }

// IPv4Datagram returns the IPv4 datagram that b starts with, clipped to
// the header's total length (link-layer padding dropped), or nil when b
// does not start with a well-formed IPv4 header (version, header length,
// a total length covering the header). A datagram truncated below its
// total length is returned as it is: callers that need it whole compare
// its length with the total length.
func IPv4Datagram(b []byte) []byte {
	if len(b) < IPv4MinHeaderLen || b[0]>>4 != 4 {
		return nil
	}
	hl := IPv4HeaderLen(b)
	total := int(U16(b, IPOffLen))
	if hl < IPv4MinHeaderLen || total < hl || hl > len(b) {
		return nil
	}
	if total < len(b) {
		b = b[:total]
	}
	return b
}

// Sum adds data to a running one's-complement sum (not folded).
func Sum(data []byte, sum uint32) uint32 {
	n := len(data)
	i := 0
	for ; i+8 <= n; i += 8 {
		v := binary.BigEndian.Uint64(data[i:])
		sum += uint32(v>>48) + uint32(v>>32&0xffff) + uint32(v>>16&0xffff) + uint32(v&0xffff)
		// Fold early so the uint32 never overflows on long buffers.
		sum = (sum & 0xffff) + (sum >> 16)
	}
	for ; i+1 < n; i += 2 {
		sum += uint32(data[i])<<8 | uint32(data[i+1])
	}
	if i < n {
		sum += uint32(data[i]) << 8
	}
	return sum
}

// Fold folds a running sum to 16 bits and complements it.
func Fold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = (sum & 0xffff) + (sum >> 16)
	}
	return ^uint16(sum)
}

// Checksum is the Internet checksum of data.
func Checksum(data []byte) uint16 { return Fold(Sum(data, 0)) }

// IPv4Checksum computes the header checksum of ip (with the sum field
// treated as zero) and stores it.
func SetIPv4Checksum(ip []byte) {
	hl := IPv4HeaderLen(ip)
	ip[IPOffSum], ip[IPOffSum+1] = 0, 0
	binary.BigEndian.PutUint16(ip[IPOffSum:], Checksum(ip[:hl]))
}

// PseudoSum is the IPv4 pseudo-header sum for a transport segment.
func PseudoSum(ip []byte, proto uint8, length int) uint32 {
	s := Sum(ip[IPOffSrc:IPOffSrc+8], 0)
	return s + uint32(proto) + uint32(length)
}

// SetTransportChecksum recomputes the TCP (sumOff 16) or UDP (sumOff 6)
// checksum of the segment seg carried in ip.
func SetTransportChecksum(ip, seg []byte, proto uint8, sumOff int) {
	seg[sumOff], seg[sumOff+1] = 0, 0
	c := Fold(Sum(seg, PseudoSum(ip, proto, len(seg))))
	if proto == ProtoUDP && c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(seg[sumOff:], c)
}

// UpdateSum16 adjusts the checksum at sum[0:2] for a 16-bit field that
// changed from old to new (RFC 1624, eqn. 3). It never produces 0xffff
// from a valid input.
func UpdateSum16(sum []byte, old, new uint16) {
	c := binary.BigEndian.Uint16(sum)
	s := uint32(^c) + uint32(^old) + uint32(new)
	s = (s & 0xffff) + (s >> 16)
	s = (s & 0xffff) + (s >> 16)
	binary.BigEndian.PutUint16(sum, ^uint16(s))
}

// UpdateSum32 adjusts a checksum for a changed 32-bit field (an address).
func UpdateSum32(sum []byte, old, new uint32) {
	UpdateSum16(sum, uint16(old>>16), uint16(new>>16))
	UpdateSum16(sum, uint16(old), uint16(new))
}

// IsFragment reports whether the IPv4 packet is a fragment (MF or offset).
func IsFragment(ip []byte) bool {
	return binary.BigEndian.Uint16(ip[IPOffFrag:])&(IPFlagMF|IPFragOffMask) != 0
}

// IsFirstFragment reports whether the fragment offset is zero.
func IsFirstFragment(ip []byte) bool {
	return binary.BigEndian.Uint16(ip[IPOffFrag:])&IPFragOffMask == 0
}

// U16 and U32 read big-endian fields; Put16/Put32 write them.
func U16(b []byte, off int) uint16      { return binary.BigEndian.Uint16(b[off:]) }
func U32(b []byte, off int) uint32      { return binary.BigEndian.Uint32(b[off:]) }
func Put16(b []byte, off int, v uint16) { binary.BigEndian.PutUint16(b[off:], v) }
func Put32(b []byte, off int, v uint32) { binary.BigEndian.PutUint32(b[off:], v) }

// TCP option kinds.
const (
	TCPOptEOL       = 0
	TCPOptNOP       = 1
	TCPOptMSS       = 2
	TCPOptWScale    = 3
	TCPOptSACKOK    = 4
	TCPOptSACK      = 5
	TCPOptTimestamp = 8
)

// TCPHeaderEnd is the TCP header length from the data offset, clamped to
// the bytes present (the end of the option area).
func TCPHeaderEnd(tcp []byte) int {
	end := int(tcp[TCPOffDataOff]>>4) << 2
	return min(end, len(tcp))
}

// NextTCPOption decodes the option at tcp[i] within the option area
// tcp[:end]: its kind and total length n (1 for EOL and NOP). ok is false
// for a truncated or malformed option, which ends any walk. The one TCP
// option walker of the packet path: walk with
//
//	for i := TCPMinHeaderLen; i < end; i += n { kind, n, ok = NextTCPOption(tcp, i, end); ... }
func NextTCPOption(tcp []byte, i, end int) (kind byte, n int, ok bool) {
	kind = tcp[i]
	if kind == TCPOptEOL || kind == TCPOptNOP {
		return kind, 1, true
	}
	if i+1 >= end {
		return kind, 0, false
	}
	n = int(tcp[i+1])
	if n < 2 || i+n > end {
		return kind, 0, false
	}
	return kind, n, true
}
