// Package middlebox holds elements modelling the middleboxes tracebox was
// validated against (tracebox paper §9, the Click models): ChangeMSS,
// ChangeWin, ChangeSeq, ChangeIPID, ChangeDSCP, ChangeECN, RemoveTCPOpt,
// AddTCPOpt, SegSplit, Coalesce and PayloadRewrite. They are meant for test
// paths (a hop that rewrites what real boxes rewrite) and for appliance
// experiments.
//
// Common rules, documented in every element:
//   - They work on the IP header annotation (CheckIPHeader/MarkIPHeader).
//     A packet without a consistent IPv4 header there is dropped and
//     counted in the "drops" handler.
//   - Packets the element does not apply to (not TCP, fragments, not a SYN
//     for SYN-only rewrites) pass unchanged.
//   - A TCP segment with an inconsistent header (data offset below 20 or
//     beyond the segment) passes unchanged and is counted in "malformed";
//     malformed TCP options end the option walk and are left as they are.
//   - Field rewrites update the checksums incrementally (RFC 1624), so a
//     valid checksum stays valid and a broken one stays broken, as in real
//     boxes; edits that change a segment's length recompute them.
//   - Nothing allocates per packet.
package middlebox

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// TCP option kinds (short local names for proto's).
const (
	optEOL       = proto.TCPOptEOL
	optNOP       = proto.TCPOptNOP
	optMSS       = proto.TCPOptMSS
	optWScale    = proto.TCPOptWScale
	optSACKOK    = proto.TCPOptSACKOK
	optSACK      = proto.TCPOptSACK
	optTimestamp = proto.TCPOptTimestamp
	maxTCPHeader = 60
)

// verdict classifies a packet for an element.
type verdict uint8

const (
	vTCP    verdict = iota // a well-formed, unfragmented TCP segment
	vOther                 // valid IP, but not an unfragmented TCP segment: pass
	vBadIP                 // no consistent IPv4 header: drop
	vBadTCP                // TCP with an inconsistent header: pass, count
)

// seg is a parsed IPv4/TCP segment; the slices alias the packet buffer
// and are invalidated by Writable, Push or Put.
type seg struct {
	ip    []byte // ip[:total]
	tcp   []byte // ip[hlen:total]
	hlen  int
	total int
	thl   int // TCP header length (data offset * 4)
}

func (s *seg) payload() []byte { return s.tcp[s.thl:] }
func (s *seg) flags() byte     { return s.tcp[proto.TCPOffFlags] }

// ipHeader returns the annotated IPv4 header clipped to its total length;
// a truncated datagram is not ok.
func ipHeader(p *packet.Packet) (ip []byte, hlen, total int, ok bool) {
	ip = proto.IPv4Datagram(p.Network())
	if ip == nil {
		return nil, 0, 0, false
	}
	hlen, total = proto.IPv4HeaderLen(ip), int(proto.U16(ip, proto.IPOffLen))
	if total != len(ip) {
		return nil, 0, 0, false
	}
	return ip, hlen, total, true
}

// parseTCP classifies p and parses its TCP segment.
func parseTCP(p *packet.Packet) (s seg, v verdict) {
	ip, hlen, total, ok := ipHeader(p)
	if !ok {
		return s, vBadIP
	}
	if ip[proto.IPOffProto] != proto.ProtoTCP || proto.IsFragment(ip) {
		return s, vOther
	}
	tcp := ip[hlen:total]
	if len(tcp) < proto.TCPMinHeaderLen {
		return s, vBadTCP
	}
	thl := int(tcp[proto.TCPOffDataOff]>>4) << 2
	if thl < proto.TCPMinHeaderLen || thl > len(tcp) {
		return s, vBadTCP
	}
	return seg{ip: ip, tcp: tcp, hlen: hlen, total: total, thl: thl}, vTCP
}

// writableTCP makes p private and parses it again.
func writableTCP(ctx *core.Ctx, p *packet.Packet) seg {
	p.Writable(ctx.Pool)
	s, _ := parseTCP(p)
	return s
}

// findOpt returns the offset and length of the first option kind in the
// TCP header, or -1 if absent (or only after a malformed option).
func findOpt(s *seg, kind byte) (off, n int) {
	for i := proto.TCPMinHeaderLen; i < s.thl; {
		k, l, ok := proto.NextTCPOption(s.tcp, i, s.thl)
		if !ok || k == optEOL {
			return -1, 0
		}
		if k == kind {
			return i, l
		}
		i += l
	}
	return -1, 0
}

// fold16 folds a one's-complement sum to 16 bits (not complemented).
func fold16(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// optSum is the one's-complement sum of the TCP option area (it starts at
// an even offset of the segment, so its words align with the checksum's).
func optSum(s *seg) uint32 { return proto.Sum(s.tcp[proto.TCPMinHeaderLen:s.thl], 0) }

// updateRegion adjusts the checksum at sum[0:2] for a word-aligned region
// whose sum went from old to new (RFC 1624 applied to the folded sums).
func updateRegion(sum []byte, old, new uint32) {
	if o, n := fold16(old), fold16(new); o != n {
		proto.UpdateSum16(sum, o, n)
	}
}

// tcpSum returns the TCP checksum field.
func tcpSum(s *seg) []byte { return s.tcp[proto.TCPOffSum:] }

// set16 rewrites a 16-bit TCP field with an incremental checksum update.
func set16(s *seg, off int, v uint16) bool {
	old := proto.U16(s.tcp, off)
	if old == v {
		return false
	}
	proto.Put16(s.tcp, off, v)
	update16(tcpSum(s), off, old, v)
	return true
}

// update16 adjusts sum for a 16-bit field at offset off of the summed
// region (a field at an odd offset straddles two checksum words: its
// bytes count swapped).
func update16(sum []byte, off int, old, new uint16) {
	if off&1 != 0 {
		old, new = old<<8|old>>8, new<<8|new>>8
	}
	proto.UpdateSum16(sum, old, new)
}

// set32 rewrites a 32-bit field at offset off of b (the start of the
// checksummed region) with an incremental update of sum.
func set32(b []byte, off int, sum []byte, v uint32) bool {
	old := proto.U32(b, off)
	if old == v {
		return false
	}
	proto.Put32(b, off, v)
	update16(sum, off, uint16(old>>16), uint16(v>>16))
	update16(sum, off, uint16(old), uint16(v))
	return true
}

// setTOS rewrites the IP TOS byte (it shares a checksum word with
// version/IHL).
func setTOS(ip []byte, tos byte) bool {
	if ip[proto.IPOffTOS] == tos {
		return false
	}
	old := uint16(ip[0])<<8 | uint16(ip[proto.IPOffTOS])
	ip[proto.IPOffTOS] = tos
	proto.UpdateSum16(ip[proto.IPOffSum:], old, uint16(ip[0])<<8|uint16(tos))
	return true
}

// fixAllSums recomputes the IP header and TCP checksums of s.
func fixAllSums(s *seg) {
	proto.SetIPv4Checksum(s.ip)
	proto.SetTransportChecksum(s.ip, s.tcp, proto.ProtoTCP, proto.TCPOffSum)
}

// counters are the statistics every element of the package keeps.
type counters struct {
	changed   uint64 // packets modified
	malformed uint64 // TCP segments with inconsistent headers, passed
}

func (c *counters) handlers(b *core.Base) []core.Handler {
	return []core.Handler{
		core.ReadUint("count", &c.changed),
		core.ReadUint("malformed", &c.malformed),
		core.ReadUint("drops", &b.Drops),
		core.Action("reset", func() { c.changed, c.malformed, b.Drops = 0, 0, 0 }),
	}
}

// commonHandlerDocs documents counters.handlers.
var commonHandlerDocs = []core.Item{
	{Name: "count", Text: "read: packets modified"},
	{Name: "malformed", Text: "read: TCP segments with an inconsistent header, passed unchanged"},
	{Name: "drops", Text: "read: packets without a consistent IPv4 header annotation, dropped"},
	{Name: "reset", Text: "write: zero the counters"},
}

func handlerDocs(extra ...core.Item) []core.Item {
	return append(append([]core.Item(nil), extra...), commonHandlerDocs...)
}

// rewriter is the per-packet body of a 1/1 element: it returns false when
// the packet was consumed (dropped).
type rewriter interface {
	rewrite(ctx *core.Ctx, p *packet.Packet) bool
}

// processBatch runs r over b in place, compacting away consumed packets.
func processBatch(ctx *core.Ctx, r rewriter, b *packet.Batch) {
	j := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		if !r.rewrite(ctx, p) {
			continue
		}
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
}

// classify does the common triage: it returns true when p is a TCP
// segment to work on; otherwise it has counted (and for a bad IP header
// dropped) p, and keep tells whether p stays in the batch.
func classify(ctx *core.Ctx, base *core.Base, c *counters, p *packet.Packet) (s seg, work, keep bool) {
	s, v := parseTCP(p)
	switch v {
	case vTCP:
		return s, true, true
	case vBadIP:
		base.Drop(ctx, p)
		return s, false, false
	case vBadTCP:
		c.malformed++
	}
	return s, false, true
}

// boolText formats a boolean the way Click prints it.
func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// optNames are the TCP option kinds accepted by name.
var optNames = map[string]byte{
	"eol": optEOL, "nop": optNOP, "mss": optMSS, "wscale": optWScale, "sackok": optSACKOK,
	"sackp": optSACKOK, "sack": optSACK, "timestamp": optTimestamp, "ts": optTimestamp,
	"md5": 19, "ao": 29, "mptcp": 30, "tfo": 34, "edo": 253,
}

// parseKind parses a TCP option kind by number or name.
func parseKind(s string) (byte, error) {
	if k, ok := optNames[strings.ToLower(s)]; ok {
		return k, nil
	}
	v, err := strconv.ParseUint(s, 0, 8)
	if err != nil {
		return 0, fmt.Errorf("expected TCP option kind (0-255 or mss, wscale, sackok, sack, timestamp, md5, mptcp, tfo, edo), got %q", s)
	}
	return byte(v), nil
}

// parseData parses option data: hex digits ("0a0b", "0a 0b") or Click
// string syntax (\<0a0b>, "text").
func parseData(s string) ([]byte, error) {
	if h := strings.Join(strings.Fields(s), ""); len(h)%2 == 0 {
		if d, err := hex.DecodeString(h); err == nil {
			return d, nil
		}
	}
	u, err := core.Unquote(s)
	if err != nil {
		return nil, err
	}
	return []byte(u), nil
}

// seqLess compares sequence numbers modulo 2^32 (RFC 1982).
func seqLess(a, b uint32) bool { return int32(a-b) < 0 }

// insertOption inserts opt (padded with NOPs to a multiple of 4 bytes)
// right after the fixed TCP header of p, which must be writable and hold
// the segment s. The packet grows into its headroom (moving the bytes in
// front of the insertion point) or, failing that, its tailroom (moving the
// bytes after it). Lengths are fixed and checksums updated incrementally.
// It returns false, leaving p unchanged, when the TCP header would exceed
// 60 bytes or the buffer has no room.
func insertOption(ctx *core.Ctx, p *packet.Packet, s seg, opt []byte) bool {
	grow := (len(opt) + 3) &^ 3
	if grow == 0 || s.thl+grow > maxTCPHeader {
		return false
	}
	netOff := p.NetworkOffset()
	ins := netOff + s.hlen + proto.TCPMinHeaderLen // relative to p.Data()
	switch {
	case p.Headroom() >= grow:
		p.Push(ctx.Pool, grow)
		d := p.Data()
		copy(d, d[grow:grow+ins])
		shiftAnno(&p.Anno.Mac, grow)
		shiftAnno(&p.Anno.Net, grow)
		shiftAnno(&p.Anno.Trans, grow)
	case p.Tailroom() >= grow:
		n := p.Len()
		p.Put(ctx.Pool, grow)
		d := p.Data()
		copy(d[ins+grow:], d[ins:n])
	default:
		return false
	}
	d := p.Data()
	copy(d[ins:], opt)
	for i := ins + len(opt); i < ins+grow; i++ {
		d[i] = optNOP
	}
	ip := d[netOff:]
	tcp := ip[s.hlen:]
	// Data offset shares a word with the flags.
	oldW := proto.U16(tcp, proto.TCPOffDataOff)
	tcp[proto.TCPOffDataOff] = byte((s.thl+grow)/4)<<4 | tcp[proto.TCPOffDataOff]&0x0f
	sum := tcp[proto.TCPOffSum:]
	proto.UpdateSum16(sum, oldW, proto.U16(tcp, proto.TCPOffDataOff))
	oldLen := uint16(s.total - s.hlen)
	proto.UpdateSum16(sum, oldLen, oldLen+uint16(grow)) // pseudo-header length
	updateRegion(sum, 0, proto.Sum(tcp[proto.TCPMinHeaderLen:proto.TCPMinHeaderLen+grow], 0))
	oldTotal := uint16(s.total)
	proto.Put16(ip, proto.IPOffLen, oldTotal+uint16(grow))
	proto.UpdateSum16(ip[proto.IPOffSum:], oldTotal, oldTotal+uint16(grow))
	return true
}

// shiftAnno moves a header annotation back by n bytes (after Push moved
// the headers into the headroom).
func shiftAnno(a *int32, n int) {
	if *a >= 0 {
		*a -= int32(n)
	}
}

// flowKey identifies one direction of a TCP connection.
type flowKey struct {
	src, dst uint32
	ports    uint32 // sport<<16 | dport
}

// forwardKey returns the key of s as a forward packet, or of the forward
// direction when s travels the other way (reverse).
func forwardKey(s *seg, reverse bool) flowKey {
	src, dst := proto.U32(s.ip, proto.IPOffSrc), proto.U32(s.ip, proto.IPOffDst)
	sp, dp := uint32(proto.U16(s.tcp, 0)), uint32(proto.U16(s.tcp, 2))
	if reverse {
		return flowKey{dst, src, dp<<16 | sp}
	}
	return flowKey{src, dst, sp<<16 | dp}
}

// hash mixes k with a secret (splitmix64 finalizer).
func (k flowKey) hash(secret uint64) uint64 {
	x := uint64(k.src)<<32 | uint64(k.dst)
	x ^= uint64(k.ports)*0x9e3779b97f4a7c15 ^ secret
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// randomSeed is a configuration-time seed for per-element secrets.
func randomSeed() int64 { return time.Now().UnixNano() }
