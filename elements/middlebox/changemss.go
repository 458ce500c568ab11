package middlebox

import (
	"fmt"
	"strconv"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// ChangeMSS rewrites the MSS option of TCP SYNs.
type ChangeMSS struct {
	core.Base
	counters
	mss   uint16
	clamp bool
	add   bool
	added uint64
}

func init() {
	core.Register(core.Class{
		Name: "ChangeMSS", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(ChangeMSS) },
		Doc: core.Doc{
			Synopsis: "ChangeMSS(MSS [, CLAMP, ADD])",
			Summary:  "rewrites the TCP MSS option of SYN segments",
			Description: `Models a box rewriting the maximum segment size announced in SYNs (and
SYN/ACKs): the value of the first MSS option (kind 2, length 4) becomes MSS.
With CLAMP true only a larger value is lowered (iptables TCPMSS
--set-mss / a PMTU clamp); with CLAMP false any other value is replaced.
A SYN without an MSS option is left alone unless ADD is true: then the
option is inserted after the fixed TCP header if the header has room
(at most 60 bytes), growing the packet into its headroom or tailroom.

Field rewrites update the TCP checksum incrementally (RFC 1624); the
insertion fixes the IP total length, the data offset and both checksums
incrementally too. Non-SYN segments, non-TCP packets and fragments pass
unchanged. Packets without a consistent IPv4 header annotation
(CheckIPHeader/MarkIPHeader) are dropped and counted; TCP segments with an
inconsistent data offset pass unchanged and are counted as malformed; a
malformed option list ends the search (the option counts as absent, and
nothing is added to it).`,
			Ports: "input 0: annotated IP packets; output 0: the same packets, MSS rewritten",
			Args: []core.Item{
				{Name: "MSS", Text: "integer 0-65535, the MSS to write (mandatory)"},
				{Name: "CLAMP", Text: "boolean, only lower larger values (default false)"},
				{Name: "ADD", Text: "boolean, insert the option into SYNs lacking one (default false)"},
			},
			Handlers: handlerDocs(
				core.Item{Name: "mss", Text: "read/write: the MSS written"},
				core.Item{Name: "added", Text: "read: options inserted"},
			),
			Example: "CheckIPHeader -> ChangeMSS(1360, CLAMP true) -> ...",
		},
	})
}

// Configure parses the arguments.
func (c *ChangeMSS) Configure(a *core.Args) error {
	return a.Parse(
		core.Pos("MSS", c.mssValue).Required(),
		core.Key("CLAMP", core.Bool(&c.clamp)),
		core.Key("ADD", core.Bool(&c.add)),
	)
}

func (c *ChangeMSS) mssValue(s string) error {
	var v uint16
	if err := core.Uint16(&v)(s); err != nil {
		return fmt.Errorf("expected MSS 0-65535, got %q", s)
	}
	c.mss = v
	return nil
}

// Process rewrites a batch in place.
func (c *ChangeMSS) Process(ctx *core.Ctx, b *packet.Batch) { processBatch(ctx, c, b) }

func (c *ChangeMSS) rewrite(ctx *core.Ctx, p *packet.Packet) bool {
	s, work, keep := classify(ctx, &c.Base, &c.counters, p)
	if !work || s.flags()&proto.TCPSyn == 0 {
		return keep
	}
	off, n := findOpt(&s, optMSS)
	if off >= 0 && n == 4 {
		if cur := proto.U16(s.tcp, off+2); cur == c.mss || c.clamp && cur <= c.mss {
			return true
		}
		s = writableTCP(ctx, p)
		set16(&s, off+2, c.mss)
		c.changed++
		return true
	}
	if off >= 0 || !c.add || !optionsWellFormed(&s) {
		return true
	}
	s = writableTCP(ctx, p)
	opt := [4]byte{optMSS, 4, byte(c.mss >> 8), byte(c.mss)}
	if insertOption(ctx, p, s, opt[:]) {
		c.changed++
		c.added++
	}
	return true
}

// optionsWellFormed walks the whole option list.
func optionsWellFormed(s *seg) bool {
	for i := proto.TCPMinHeaderLen; i < s.thl; {
		k, n, ok := proto.NextTCPOption(s.tcp, i, s.thl)
		if !ok {
			return false
		}
		if k == optEOL {
			return true
		}
		i += n
	}
	return true
}

// Handlers exposes the MSS and the counters.
func (c *ChangeMSS) Handlers() []core.Handler {
	return append([]core.Handler{
		core.ReadWrite("mss", func() string { return strconv.Itoa(int(c.mss)) }, c.mssValue),
		core.ReadUint("added", &c.added),
	}, c.counters.handlers(&c.Base)...)
}
