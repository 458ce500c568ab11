package ip

import (
	"encoding/binary"
	"fmt"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// dropReason says why CheckIPHeader rejected a packet (Click's reasons).
type dropReason uint8

const (
	reasonOK dropReason = iota
	reasonTiny
	reasonVersion
	reasonHeaderLen
	reasonIPLen
	reasonChecksum
	reasonBadSrc
	numReasons
)

var reasonText = [numReasons]string{
	reasonOK:        "ok",
	reasonTiny:      "tiny packet",
	reasonVersion:   "bad IP version",
	reasonHeaderLen: "bad IP header length",
	reasonIPLen:     "bad IP length",
	reasonChecksum:  "bad IP checksum",
	reasonBadSrc:    "bad source address",
}

// CheckIPHeader validates IPv4 headers, trims link padding and sets the
// network, transport and destination-address annotations.
type CheckIPHeader struct {
	core.Base
	offset   int
	checksum bool
	verbose  bool
	details  bool
	badSrc   []uint32 // a small list: a linear scan beats a map here
	goodDst  []uint32
	drops    uint64
	reasons  [numReasons]uint64
	warned   bool
}

func init() {
	core.Register(core.Class{
		Name: "CheckIPHeader", Ports: "1/1-2", Processing: "a/ah",
		New: func() core.Element { return &CheckIPHeader{checksum: true} },
		Doc: core.Doc{
			Synopsis: "CheckIPHeader([OFFSET], INTERFACES, BADSRC, GOODDST, CHECKSUM, VERBOSE, DETAILS)",
			Summary:  "checks IP header validity and sets IP annotations",
			Description: `Expects packets whose IPv4 header starts OFFSET bytes into the data
(0 by default; 14 after an Ethernet header). A packet passes when it holds
at least 20 bytes of header, has version 4, a header length of at least 20
that fits the packet, a total length between the header length and the
bytes present, a valid header checksum (unless CHECKSUM false) and an
acceptable source address. Passing packets are trimmed to the IP total
length (removing link-level padding) and get the network-header,
transport-header and destination-IP annotations.

Bad packets go to output 1 if it exists and are dropped otherwise; either
way they are counted per reason. The first error is logged (every error
with VERBOSE true).

Source checks: if INTERFACES is given, 0.0.0.0, 255.255.255.255 and each
interface's directed broadcast address are bad sources, and each interface
address is a good destination. BADSRC and GOODDST add addresses to these
lists. A packet with a bad source is still accepted when its destination is
a good destination.`,
			Ports: "input 0: IP packets (after OFFSET bytes); output 0: valid packets; output 1 (optional): invalid packets",
			Args: []core.Item{
				{Name: "OFFSET", Text: "integer, byte offset of the IP header (default 0)"},
				{Name: "INTERFACES", Text: "space-separated ADDR/MASK list of this host's interfaces"},
				{Name: "BADSRC", Text: "space-separated list of addresses rejected as sources"},
				{Name: "GOODDST", Text: "space-separated list of destinations accepted even from bad sources"},
				{Name: "CHECKSUM", Text: "boolean, verify the header checksum (default true)"},
				{Name: "VERBOSE", Text: "boolean, log every bad packet rather than the first (default false)"},
				{Name: "DETAILS", Text: "boolean, accepted for Click compatibility; per-reason counts are always kept"},
			},
			Handlers: []core.Item{
				{Name: "drops", Text: "read: number of bad packets"},
				{Name: "drop_details", Text: "read: bad packets counted per reason"},
			},
			Example: "FromDevice(eth0) -> Strip(14) -> CheckIPHeader(INTERFACES 10.0.0.1/24) -> ...",
		},
	})
}

// Configure parses the arguments.
func (c *CheckIPHeader) Configure(a *core.Args) error {
	var ifaces []hostPrefix
	err := a.Parse(
		core.Pos("OFFSET", core.Int(&c.offset)),
		core.Key("INTERFACES", prefixList(&ifaces)),
		core.Key("BADSRC", addrList(&c.badSrc)),
		core.Key("GOODDST", addrList(&c.goodDst)),
		core.Key("CHECKSUM", core.Bool(&c.checksum)),
		core.Key("VERBOSE", core.Bool(&c.verbose)),
		core.Key("DETAILS", core.Bool(&c.details)),
	)
	if err != nil {
		return err
	}
	if c.offset < 0 {
		return fmt.Errorf("OFFSET: must be >= 0")
	}
	if len(ifaces) > 0 {
		c.badSrc = append(c.badSrc, 0, 0xffffffff)
		for _, i := range ifaces {
			c.badSrc = append(c.badSrc, i.addr|^i.mask)
			c.goodDst = append(c.goodDst, i.addr)
		}
	}
	return nil
}

// Push checks a batch, forwarding good packets on output 0.
func (c *CheckIPHeader) Push(ctx *core.Ctx, _ int, b *packet.Batch) {
	c.filter(ctx, b, 0)
	c.Output(0).Push(ctx, b)
	c.Flush(ctx)
}

// Pull checks what it pulls from upstream; bad packets are pushed out of
// output 1 (or dropped) on the way.
func (c *CheckIPHeader) Pull(ctx *core.Ctx, _ int, b *packet.Batch, max int) {
	from := b.N
	c.Input(0).Pull(ctx, b, max)
	c.filter(ctx, b, from)
	c.Flush(ctx)
}

// filter keeps the good packets of b[from:] in place, in order.
func (c *CheckIPHeader) filter(ctx *core.Ctx, b *packet.Batch, from int) {
	j := from
	for i := from; i < b.N; i++ {
		p := b.P[i]
		if r := c.check(p); r != reasonOK {
			c.reject(ctx, p, r)
			continue
		}
		b.P[j] = p
		j++
	}
	clear(b.P[j:b.N])
	b.N = j
}

// check validates one packet and, when it is good, trims and annotates it.
func (c *CheckIPHeader) check(p *packet.Packet) dropReason {
	d := p.Data()
	if len(d) < c.offset+20 {
		return reasonTiny
	}
	ip := d[c.offset:]
	if ip[0]>>4 != 4 {
		return reasonVersion
	}
	hlen := int(ip[0]&0x0f) << 2
	if hlen < 20 || hlen > len(ip) {
		return reasonHeaderLen
	}
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if total < hlen || total > len(ip) {
		return reasonIPLen
	}
	if c.checksum && !headerSumOK(ip[:hlen]) {
		return reasonChecksum
	}
	if len(c.badSrc) > 0 && c.badSource(ip) {
		return reasonBadSrc
	}
	p.Take(len(ip) - total)
	p.SetNetworkAt(c.offset)
	p.SetTransportAt(c.offset + hlen)
	copy(p.Anno.DstIP[:], ip[16:20])
	return reasonOK
}

// headerSumOK reports whether an IPv4 header's one's-complement sum is
// 0xffff (a valid checksum). The one's-complement sum does not depend on
// byte order (RFC 1071) and 0xffff reads the same both ways, so the words
// are summed as they lie in memory, without byte swaps; the option-less
// 20-byte header is unrolled.
func headerSumOK(h []byte) bool {
	if len(h) == 20 {
		le := binary.LittleEndian
		s := uint64(le.Uint32(h[0:4])) + uint64(le.Uint32(h[4:8])) + uint64(le.Uint32(h[8:12])) +
			uint64(le.Uint32(h[12:16])) + uint64(le.Uint32(h[16:20]))
		return foldSum(s) == 0xffff
	}
	return foldSum(wordSum(h)) == 0xffff
}

func (c *CheckIPHeader) badSource(ip []byte) bool {
	src := binary.BigEndian.Uint32(ip[12:])
	if !contains(c.badSrc, src) {
		return false
	}
	return !contains(c.goodDst, binary.BigEndian.Uint32(ip[16:]))
}

func contains(list []uint32, v uint32) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (c *CheckIPHeader) reject(ctx *core.Ctx, p *packet.Packet, r dropReason) {
	c.drops++
	c.reasons[r]++
	if (!c.warned || c.verbose) && c.Router() != nil {
		c.warned = true
		c.Router().Logf(c, "CheckIPHeader: %s", reasonText[r])
	}
	divert(ctx, &c.Base, p)
}

// Handlers exposes drop counters.
func (c *CheckIPHeader) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("drops", &c.drops),
		core.ReadOnly("drop_details", c.dropDetails),
	}
}

func (c *CheckIPHeader) dropDetails() string {
	var sb strings.Builder
	for r := reasonTiny; r < numReasons; r++ {
		fmt.Fprintf(&sb, "%15d packets due to: %s\n", c.reasons[r], reasonText[r])
	}
	return sb.String()
}
