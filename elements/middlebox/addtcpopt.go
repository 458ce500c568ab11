package middlebox

import (
	"encoding/hex"
	"fmt"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
)

// AddTCPOpt inserts a TCP option.
type AddTCPOpt struct {
	core.Base
	counters
	kind    byte
	data    []byte
	opt     []byte // the encoded option
	synOnly bool
	noRoom  uint64
}

func init() {
	core.Register(core.Class{
		Name: "AddTCPOpt", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return &AddTCPOpt{synOnly: true} },
		Doc: core.Doc{
			Synopsis: "AddTCPOpt(KIND [, DATA, SYN])",
			Summary:  "inserts a TCP option into segments",
			Description: `Models a box that adds an option (a proxy announcing MSS or SACK, a
middlebox tagging flows): the option KIND, with length 2+len(DATA) and
DATA as its body (kinds 0 and 1 are single bytes without length or data),
is inserted right after the fixed 20-byte TCP header, padded with NOPs to
a multiple of 4 bytes. The option is added even if one of the same kind
is present. By default only SYN segments get it; SYN false adds it to
every TCP segment.

The packet grows into its headroom (the bytes in front of the insertion
point move) or, without headroom, into its tailroom (the bytes after it
move); the data offset, the IP total length and both checksums are fixed
incrementally (RFC 1624), and the header annotations follow the headers.
When the TCP header would exceed 60 bytes or the buffer has no room, the
segment passes unchanged (counted in "noroom").

Non-TCP packets and fragments pass unchanged. Packets without a consistent
IPv4 header annotation are dropped and counted; TCP segments with an
inconsistent data offset pass unchanged and are counted as malformed.`,
			Ports: "input 0: annotated IP packets; output 0: the same packets, option added",
			Args: []core.Item{
				{Name: "KIND", Text: "option kind, number 0-255 or name (mss, wscale, sackok, sack, timestamp, mptcp, tfo, ...; mandatory)"},
				{Name: "DATA", Text: "option body: hex digits (\"05b4\") or Click string data (\\<05b4>); at most 38 bytes (default empty)"},
				{Name: "SYN", Text: "boolean, only SYN segments (default true)"},
			},
			Handlers: handlerDocs(
				core.Item{Name: "option", Text: "read: the encoded option, in hex"},
				core.Item{Name: "noroom", Text: "read: segments left unchanged for lack of header or buffer room"},
			),
			Example: "CheckIPHeader -> AddTCPOpt(mptcp, DATA 0081 0102030405060708) -> ...",
		},
	})
}

// Configure parses the arguments and encodes the option.
func (t *AddTCPOpt) Configure(a *core.Args) error {
	var kind, data string
	if err := a.Parse(
		core.Pos("KIND", core.Word(&kind)).Required(),
		core.Pos("DATA", core.Word(&data)),
		core.Key("SYN", core.Bool(&t.synOnly)),
	); err != nil {
		return err
	}
	k, err := parseKind(kind)
	if err != nil {
		return fmt.Errorf("KIND: %v", err)
	}
	t.kind = k
	if data != "" {
		if t.data, err = parseData(data); err != nil {
			return fmt.Errorf("DATA: %v", err)
		}
	}
	switch {
	case k == optEOL || k == optNOP:
		if len(t.data) > 0 {
			return fmt.Errorf("DATA: option kind %d has no data", k)
		}
		t.opt = []byte{k}
	case len(t.data) > 38:
		return fmt.Errorf("DATA: %d bytes, at most 38 fit in the TCP header", len(t.data))
	default:
		t.opt = append([]byte{k, byte(2 + len(t.data))}, t.data...)
	}
	return nil
}

// Process rewrites a batch in place.
func (t *AddTCPOpt) Process(ctx *core.Ctx, b *packet.Batch) { processBatch(ctx, t, b) }

func (t *AddTCPOpt) rewrite(ctx *core.Ctx, p *packet.Packet) bool {
	s, work, keep := classify(ctx, &t.Base, &t.counters, p)
	if !work || t.synOnly && s.flags()&proto.TCPSyn == 0 {
		return keep
	}
	if s.thl+(len(t.opt)+3)&^3 > maxTCPHeader {
		t.noRoom++
		return true
	}
	s = writableTCP(ctx, p)
	if !insertOption(ctx, p, s, t.opt) {
		t.noRoom++
		return true
	}
	t.changed++
	return true
}

// Handlers exposes the option and the counters.
func (t *AddTCPOpt) Handlers() []core.Handler {
	return append([]core.Handler{
		core.ReadOnly("option", func() string { return hex.EncodeToString(t.opt) }),
		core.ReadUint("noroom", &t.noRoom),
	}, t.counters.handlers(&t.Base)...)
}
