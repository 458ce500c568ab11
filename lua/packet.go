package lua

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"

	"flowbox/appliance/packet"
	"flowbox/appliance/proto"

	glua "github.com/yuin/gopher-lua"
)

// Packet API (Lua side). Offsets are 0-based byte offsets into the packet
// data (wire order), unlike Lua strings.
//
//	p:len()  p:byte(off)  p:set_byte(off, v)  p:u16(off)  p:u32(off)
//	p:set_u16(off, v)  p:set_u32(off, v)  p:bytes(off, n)  p:set_bytes(off, s)
//	p:hex([off, n])
//	p:eth()  p:ip()  p:ip6()  p:tcp()  p:udp()  p:icmp()  -> header view or nil
//	p:ip_offset()  p:l4_offset()  p:payload_offset()  -> offset or nil
//	p:paint() p:set_paint(n)  p:flow_hash() p:set_flow_hash(n)
//	p:user(i) p:set_user(i, v) (i = 0..3)  p:inport()  p:timestamp()
//	p:dst_anno() p:set_dst_anno(a)
//	p:drop()  p:send(port)  p:verdict()  p:clone()  p:fix_checksums()
//
// Views: see ipv4Methods, ipv6Methods, tcpMethods, udpMethods, icmpMethods,
// ethMethods. Every setter keeps the IPv4 header checksum and the TCP/UDP
// checksum right (incremental update, RFC 1624).
//
// A handle (packet or view) is valid only during the call that received it;
// using one afterwards raises an error (or sees a later packet: handles are
// re-pointed, never re-created).

const (
	mtPacket = "flowbox.packet"
	mtEth    = "flowbox.eth"
	mtIPv4   = "flowbox.ipv4"
	mtIPv6   = "flowbox.ipv6"
	mtTCP    = "flowbox.tcp"
	mtUDP    = "flowbox.udp"
	mtICMP   = "flowbox.icmp"
)

// Verdicts.
const (
	VerdictDrop = -1
)

// slot is one packet position of a state: its handles are created once and
// re-pointed at each packet.
type slot struct {
	p       *packet.Packet
	set     *pktSet
	verdict int
	parsed  bool
	macOff  int
	ipOff   int // IPv4 header, -1 if none
	ip6Off  int // IPv6 header, -1 if none
	l4Off   int // transport header, -1 if none
	l4Len   int // transport segment length
	l4Proto uint8
	frag    bool // an IPv4/IPv6 fragment: the transport checksum covers data not here
	ip6Dst  int  // the IPv6 pseudo-header destination (routing header's final address), -1 if none

	ud, eth, ip, ip6, tcp, udp, icmp *glua.LUserData
}

// pktSet is the per-state set of slots: one per batch position plus the
// same number for clones made during a call.
type pktSet struct {
	pool    *packet.Pool
	slots   [packet.MaxBatch]*slot
	clones  [packet.MaxBatch]*slot
	nclones int
	table   *glua.LTable // 1..MaxBatch -> slots[i].ud (push_batch argument)
}

func (ps *pktSet) init(L *glua.LState) {
	mk := func() *slot {
		s := &slot{set: ps}
		ud := func(mt string) *glua.LUserData {
			u := L.NewUserData()
			u.Value = s
			u.Metatable = L.GetTypeMetatable(mt)
			return u
		}
		s.ud, s.eth, s.ip, s.ip6 = ud(mtPacket), ud(mtEth), ud(mtIPv4), ud(mtIPv6)
		s.tcp, s.udp, s.icmp = ud(mtTCP), ud(mtUDP), ud(mtICMP)
		return s
	}
	ps.table = L.CreateTable(packet.MaxBatch, 0)
	for i := range ps.slots {
		ps.slots[i] = mk()
		ps.clones[i] = mk()
		ps.table.RawSetInt(i+1, ps.slots[i].ud)
	}
}

// point re-points s at p with the default verdict.
func (s *slot) point(p *packet.Packet, verdict int) {
	s.p = p
	s.verdict = verdict
	s.parsed = false
}

// parse locates the headers once per packet (lazily, on first use).
func (s *slot) parse() {
	s.parsed = true
	s.macOff, s.ipOff, s.ip6Off, s.l4Off, s.l4Len, s.l4Proto = -1, -1, -1, -1, 0, 0
	s.frag, s.ip6Dst = false, -1
	p := s.p
	d := p.Data()
	if m := p.Anno.Mac; m >= 0 && int(m) >= p.Offset() && int(m)+proto.EtherHeaderLen <= p.Offset()+len(d) {
		s.macOff = int(m) - p.Offset()
	}
	off := p.NetworkOffset()
	if off < 0 || off >= len(d) {
		off = -1
		if len(d) >= proto.EtherHeaderLen {
			et, o := binary.BigEndian.Uint16(d[12:]), proto.EtherHeaderLen
			if et == proto.EtherTypeVLAN && len(d) >= 18 {
				et, o = binary.BigEndian.Uint16(d[16:]), 18
			}
			if et == proto.EtherTypeIPv4 || et == proto.EtherTypeIPv6 {
				off = o
				if s.macOff < 0 {
					s.macOff = 0
				}
			}
		}
	}
	if off < 0 {
		return
	}
	ip := d[off:]
	switch ip[0] >> 4 {
	case 4:
		if len(ip) < proto.IPv4MinHeaderLen {
			return
		}
		hl := proto.IPv4HeaderLen(ip)
		if hl < proto.IPv4MinHeaderLen || hl > len(ip) {
			return
		}
		s.ipOff = off
		s.frag = proto.IsFragment(ip)
		if !proto.IsFirstFragment(ip) {
			return
		}
		total := int(binary.BigEndian.Uint16(ip[proto.IPOffLen:]))
		if total > len(ip) || total < hl {
			total = len(ip)
		}
		s.setL4(ip[proto.IPOffProto], off+hl, total-hl)
	case 6:
		if len(ip) < 40 {
			return
		}
		s.ip6Off = off
		s.ip6Dst = off + 24
		plen := int(binary.BigEndian.Uint16(ip[4:]))
		if plen > len(ip)-40 {
			plen = len(ip) - 40
		}
		s.parseIPv6Ext(d, ip[6], off+40, off+40+plen)
	}
}

// IPv6 extension headers walked to find the transport header.
const (
	ip6HopByHop = 0
	ip6Routing  = 43
	ip6Fragment = 44
	ip6DestOpts = 60
	maxIP6Ext   = 8 // headers followed before giving up
)

// parseIPv6Ext follows hop-by-hop, routing, destination-options and
// fragment headers from o (next header nh) to the transport header; the
// payload ends at end. A fragment other than the first has no transport
// header. A routing header with segments left moves the pseudo-header
// destination to the final address (RFC 8200 8.1): type 0's last address,
// type 2's home address, type 4's (SRH) segment list[0].
func (s *slot) parseIPv6Ext(d []byte, nh uint8, o, end int) {
	for i := 0; i <= maxIP6Ext; i++ {
		switch nh {
		case ip6HopByHop, ip6Routing, ip6DestOpts:
			if o+8 > end {
				return
			}
			hl := (int(d[o+1]) + 1) * 8
			if o+hl > end {
				return
			}
			if nh == ip6Routing && d[o+3] > 0 && hl >= 24 {
				switch d[o+2] {
				case 0:
					s.ip6Dst = o + 8 + 16*(int(d[o+1])/2-1)
				case 2, 4:
					s.ip6Dst = o + 8
				}
			}
			nh, o = d[o], o+hl
		case ip6Fragment:
			if o+8 > end {
				return
			}
			fo := binary.BigEndian.Uint16(d[o+2:])
			s.frag = true
			if fo&0xfff8 != 0 {
				return // not the first fragment
			}
			if fo&1 == 0 {
				s.frag = false // atomic fragment (offset 0, no more): complete
			}
			nh, o = d[o], o+8
		default:
			s.setL4(nh, o, end-o)
			return
		}
	}
}

func (s *slot) setL4(pr uint8, off, n int) {
	min := 0
	switch pr {
	case proto.ProtoTCP:
		min = proto.TCPMinHeaderLen
	case proto.ProtoUDP:
		min = proto.UDPHeaderLen
	case proto.ProtoICMP, proto.ProtoICMPv6:
		min = 4
	default:
		return
	}
	if n < min {
		return
	}
	if pr == proto.ProtoTCP {
		d := s.p.Data()[off:]
		if hl := int(d[proto.TCPOffDataOff]>>4) * 4; hl < proto.TCPMinHeaderLen || hl > n {
			return
		}
	}
	s.l4Off, s.l4Len, s.l4Proto = off, n, pr
}

// ---- argument helpers ----

// self returns the live slot of the handle at argument 1.
func self(L *glua.LState) *slot {
	if ud, ok := L.Get(1).(*glua.LUserData); ok {
		if s, ok := ud.Value.(*slot); ok {
			if s.p == nil {
				L.RaiseError("packet handle used outside of its call")
			}
			if !s.parsed {
				s.parse()
			}
			return s
		}
	}
	L.ArgError(1, "packet or header expected (use ':' to call methods)")
	return nil
}

// writable returns the packet data, unsharing a clone first.
func (s *slot) writable(L *glua.LState) []byte {
	if s.p.Shared() {
		if s.set.pool == nil {
			L.RaiseError("packet is shared with a clone and cannot be modified here")
		}
		s.p.Writable(s.set.pool)
	}
	return s.p.Data()
}

func checkOff(L *glua.LState, n int, size, length int) int {
	off := L.CheckInt(n)
	if off < 0 || off+size > length {
		L.ArgError(n, fmt.Sprintf("offset %d out of range (packet length %d)", off, length))
	}
	return off
}

func checkRange(L *glua.LState, n int, lo, hi int64) int64 {
	v := L.CheckInt64(n)
	if v < lo || v > hi {
		L.ArgError(n, fmt.Sprintf("value %d out of range %d..%d", v, lo, hi))
	}
	return v
}

// checkIPv4 accepts a dotted string or a 32-bit number.
func checkIPv4(L *glua.LState, n int) uint32 {
	switch v := L.Get(n).(type) {
	case glua.LNumber:
		if v < 0 || v > 0xffffffff || float64(v) != float64(uint32(v)) {
			L.ArgError(n, "IPv4 address number out of range")
		}
		return uint32(v)
	case glua.LString:
		a, err := netip.ParseAddr(string(v))
		if err != nil || !a.Is4() {
			L.ArgError(n, fmt.Sprintf("bad IPv4 address %q", string(v)))
		}
		b := a.As4()
		return binary.BigEndian.Uint32(b[:])
	}
	L.ArgError(n, "IPv4 address (string or number) expected")
	return 0
}

func pushBool(L *glua.LState, b bool) int {
	if b {
		L.Push(glua.LTrue)
	} else {
		L.Push(glua.LFalse)
	}
	return 1
}

func ip4String(b []byte) glua.LString {
	var buf [15]byte
	o := strconv.AppendUint(buf[:0], uint64(b[0]), 10)
	for i := 1; i < 4; i++ {
		o = append(o, '.')
		o = strconv.AppendUint(o, uint64(b[i]), 10)
	}
	return glua.LString(o)
}

func macString(b []byte) glua.LString {
	const hx = "0123456789abcdef"
	var buf [17]byte
	for i := 0; i < 6; i++ {
		buf[i*3] = hx[b[i]>>4]
		buf[i*3+1] = hx[b[i]&15]
		if i < 5 {
			buf[i*3+2] = ':'
		}
	}
	return glua.LString(buf[:])
}

// ---- installation ----

func installPacketTypes(L *glua.LState) {
	initBoxed()
	reg := func(name string, methods map[string]glua.LGFunction) {
		mt := L.NewTypeMetatable(name)
		idx := L.NewTable()
		for k, f := range methods {
			idx.RawSetString(k, L.NewFunction(f))
		}
		mt.RawSetString("__index", idx)
		mt.RawSetString("__metatable", glua.LString(name))
		tn := name
		mt.RawSetString("__tostring", L.NewFunction(func(L *glua.LState) int {
			L.Push(glua.LString(tn))
			return 1
		}))
	}
	reg(mtPacket, packetMethods)
	reg(mtEth, ethMethods)
	reg(mtIPv4, ipv4Methods)
	reg(mtIPv6, ipv6Methods)
	reg(mtTCP, tcpMethods)
	reg(mtUDP, udpMethods)
	reg(mtICMP, icmpMethods)
}

// ---- packet methods ----

var packetMethods = map[string]glua.LGFunction{
	"len":      func(L *glua.LState) int { L.Push(num(self(L).p.Len())); return 1 },
	"byte":     getData(1),
	"u16":      getData(2),
	"u32":      getData(4),
	"set_byte": setData(1),
	"set_u16":  setData(2),
	"set_u32":  setData(4),
	"bytes":    func(L *glua.LState) int { L.Push(glua.LString(optSpan(L))); return 1 },
	"hex":      func(L *glua.LState) int { L.Push(glua.LString(hex.EncodeToString(optSpan(L)))); return 1 },
	"set_bytes": func(L *glua.LState) int {
		s := self(L)
		str := L.CheckString(3)
		off := checkOff(L, 2, len(str), s.p.Len())
		copy(s.writable(L)[off:], str)
		s.parsed = false
		return 0
	},
	"eth": func(L *glua.LState) int { s := self(L); L.Push(view(s.macOff >= 0, s.eth)); return 1 },
	"ip":  func(L *glua.LState) int { s := self(L); L.Push(view(s.ipOff >= 0, s.ip)); return 1 },
	"ip6": func(L *glua.LState) int { s := self(L); L.Push(view(s.ip6Off >= 0, s.ip6)); return 1 },
	"tcp": func(L *glua.LState) int { s := self(L); L.Push(view(s.l4Proto == proto.ProtoTCP, s.tcp)); return 1 },
	"udp": func(L *glua.LState) int { s := self(L); L.Push(view(s.l4Proto == proto.ProtoUDP, s.udp)); return 1 },
	"icmp": func(L *glua.LState) int {
		s := self(L)
		L.Push(view(s.l4Proto == proto.ProtoICMP || s.l4Proto == proto.ProtoICMPv6, s.icmp))
		return 1
	},
	"ip_offset": func(L *glua.LState) int {
		s := self(L)
		o := s.ipOff
		if o < 0 {
			o = s.ip6Off
		}
		return pushOff(L, o)
	},
	"l4_offset": func(L *glua.LState) int { return pushOff(L, self(L).l4Off) },
	"payload_offset": func(L *glua.LState) int {
		s := self(L)
		if s.l4Off < 0 {
			return pushOff(L, -1)
		}
		return pushOff(L, s.l4Off+l4HeaderLen(s))
	},
	"paint":     func(L *glua.LState) int { L.Push(num(int(self(L).p.Anno.Paint))); return 1 },
	"set_paint": func(L *glua.LState) int { s := self(L); s.p.Anno.Paint = uint8(checkRange(L, 2, 0, 255)); return 0 },
	"flow_hash": func(L *glua.LState) int { L.Push(num64(uint64(self(L).p.Anno.FlowHash))); return 1 },
	"set_flow_hash": func(L *glua.LState) int {
		s := self(L)
		s.p.Anno.FlowHash = uint32(checkRange(L, 2, 0, 0xffffffff))
		return 0
	},
	"user": func(L *glua.LState) int {
		s := self(L)
		i := checkRange(L, 2, 0, packet.UserSlots-1)
		L.Push(num64(s.p.Anno.User[i]))
		return 1
	},
	"set_user": func(L *glua.LState) int {
		s := self(L)
		i := checkRange(L, 2, 0, packet.UserSlots-1)
		s.p.Anno.User[i] = uint64(checkRange(L, 3, 0, 1<<53-1))
		return 0
	},
	"inport":    func(L *glua.LState) int { L.Push(num(int(self(L).p.Anno.InPort))); return 1 },
	"timestamp": func(L *glua.LState) int { L.Push(glua.LNumber(float64(self(L).p.Anno.Timestamp) / 1e9)); return 1 },
	"dst_anno":  func(L *glua.LState) int { L.Push(ip4String(self(L).p.Anno.DstIP[:])); return 1 },
	"set_dst_anno": func(L *glua.LState) int {
		s := self(L)
		binary.BigEndian.PutUint32(s.p.Anno.DstIP[:], checkIPv4(L, 2))
		return 0
	},
	"drop": func(L *glua.LState) int { self(L).verdict = VerdictDrop; return 0 },
	"send": func(L *glua.LState) int {
		s := self(L)
		s.verdict = int(checkRange(L, 2, 0, 1<<16))
		return 0
	},
	"verdict": func(L *glua.LState) int {
		s := self(L)
		if s.verdict < 0 {
			L.Push(glua.LNil)
		} else {
			L.Push(num(s.verdict))
		}
		return 1
	},
	"clone": func(L *glua.LState) int {
		s := self(L)
		ps := s.set
		if ps.pool == nil {
			L.RaiseError("clone is not available here")
		}
		if ps.nclones >= len(ps.clones) {
			L.RaiseError("too many clones in one call (max %d)", len(ps.clones))
		}
		c := ps.clones[ps.nclones]
		ps.nclones++
		c.point(ps.pool.Clone(s.p), 0)
		L.Push(c.ud)
		return 1
	},
	"fix_checksums": func(L *glua.LState) int {
		s := self(L)
		s.writable(L)
		fixChecksums(s)
		return 0
	},
}

// getData makes p:byte(off), p:u16(off) and p:u32(off): the getter of the
// size-byte big-endian number at a packet offset.
//
// Getter makers are not inlined: inlined, their closures would belong to
// the huge init function, in which the compiler inlines almost nothing.
//
//go:noinline
func getData(size int) glua.LGFunction {
	return func(L *glua.LState) int {
		d := self(L).p.Data()
		L.Push(bigEndian(d[checkOff(L, 2, size, len(d)):], size))
		return 1
	}
}

// setData makes p:set_byte(off, v), p:set_u16(off, v) and p:set_u32(off, v).
//
//go:noinline
func setData(size int) glua.LGFunction {
	limit := int64(1)<<(8*size) - 1
	return func(L *glua.LState) int {
		s := self(L)
		off := checkOff(L, 2, size, s.p.Len())
		v := checkRange(L, 3, 0, limit)
		d := s.writable(L)[off:]
		switch size {
		case 1:
			d[0] = byte(v)
		case 2:
			binary.BigEndian.PutUint16(d, uint16(v))
		default:
			binary.BigEndian.PutUint32(d, uint32(v))
		}
		s.parsed = false
		return 0
	}
}

// bigEndian is the size-byte (1, 2 or 4) big-endian number at the start
// of b.
func bigEndian(b []byte, size int) glua.LValue {
	switch size {
	case 1:
		return num(int(b[0]))
	case 2:
		return num(int(binary.BigEndian.Uint16(b)))
	}
	return num64(uint64(binary.BigEndian.Uint32(b)))
}

// optSpan returns the packet bytes from the optional offset (argument 2,
// default 0) for the optional length (argument 3, default the rest).
func optSpan(L *glua.LState) []byte {
	d := self(L).p.Data()
	off := L.OptInt(2, 0)
	n := L.OptInt(3, len(d)-off)
	if off < 0 || n < 0 || off+n > len(d) {
		L.ArgError(2, fmt.Sprintf("range %d+%d out of packet (length %d)", off, n, len(d)))
	}
	return d[off : off+n]
}

// view is a header view, or nil when the packet has no such header.
func view(ok bool, v *glua.LUserData) glua.LValue {
	if ok {
		return v
	}
	return glua.LNil
}

func pushOff(L *glua.LState, o int) int {
	if o < 0 {
		L.Push(glua.LNil)
	} else {
		L.Push(num(o))
	}
	return 1
}

func l4HeaderLen(s *slot) int {
	switch s.l4Proto {
	case proto.ProtoTCP:
		return int(s.p.Data()[s.l4Off+proto.TCPOffDataOff]>>4) * 4
	case proto.ProtoUDP, proto.ProtoICMP, proto.ProtoICMPv6:
		return 8
	}
	return 0
}

// fixChecksums recomputes the IPv4 header checksum and the TCP/UDP/ICMP
// checksum from scratch (after raw byte edits).
func fixChecksums(s *slot) {
	s.parse()
	d := s.p.Data()
	if s.ipOff >= 0 {
		ip := d[s.ipOff:]
		proto.SetIPv4Checksum(ip)
		if s.l4Off < 0 {
			return
		}
		if s.frag {
			return // the transport checksum covers data we do not have
		}
		seg := d[s.l4Off : s.l4Off+s.l4Len]
		switch s.l4Proto {
		case proto.ProtoTCP:
			proto.SetTransportChecksum(ip, seg, proto.ProtoTCP, proto.TCPOffSum)
		case proto.ProtoUDP:
			proto.SetTransportChecksum(ip, seg, proto.ProtoUDP, proto.UDPOffSum)
		case proto.ProtoICMP:
			seg[2], seg[3] = 0, 0
			binary.BigEndian.PutUint16(seg[2:], proto.Checksum(seg))
		}
		return
	}
	if s.ip6Off >= 0 && s.l4Off >= 0 && !s.frag {
		seg := d[s.l4Off : s.l4Off+s.l4Len]
		sumOff := 0
		switch s.l4Proto {
		case proto.ProtoTCP:
			sumOff = proto.TCPOffSum
		case proto.ProtoUDP:
			sumOff = proto.UDPOffSum
		case proto.ProtoICMPv6:
			sumOff = 2
		default:
			return
		}
		seg[sumOff], seg[sumOff+1] = 0, 0
		ps := ip6PseudoSum(s, d, len(seg))
		c := proto.Fold(proto.Sum(seg, ps))
		if s.l4Proto == proto.ProtoUDP && c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(seg[sumOff:], c)
	}
}

// ip6PseudoSum is the IPv6 pseudo-header sum (source, final destination,
// upper-layer length and next header) for a segment of n bytes.
func ip6PseudoSum(s *slot, d []byte, n int) uint32 {
	return proto.Sum(d[s.ip6Dst:s.ip6Dst+16], proto.Sum(d[s.ip6Off+8:s.ip6Off+24], 0)) + uint32(n) + uint32(s.l4Proto)
}
