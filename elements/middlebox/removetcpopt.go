package middlebox

import (
	"errors"
	"flowbox/appliance/proto"
	"fmt"
	"strconv"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
)

// RemoveTCPOpt overwrites chosen TCP options with NOPs.
type RemoveTCPOpt struct {
	core.Base
	counters
	kinds   [256]bool
	list    []byte
	removed uint64
}

func init() {
	core.Register(core.Class{
		Name: "RemoveTCPOpt", Ports: "1/1", Processing: "a/a",
		New: func() core.Element { return new(RemoveTCPOpt) },
		Doc: core.Doc{
			Synopsis: "RemoveTCPOpt(KIND ...)",
			Summary:  "strips TCP options by overwriting them with NOPs",
			Description: `Models a box that strips options it does not know (MPTCP, TCP Fast Open,
window scaling, SACK, timestamps...): every option of one of the given
kinds, in every TCP segment, is overwritten with NOP bytes (kind 1), so
the header length, the other options and the payload stay where they are,
as most real boxes do. KIND is a number 2-255 or a name: mss, wscale,
sackok, sack, timestamp, md5, ao, mptcp, tfo, edo.

The TCP checksum is updated incrementally (RFC 1624). Non-TCP packets and
fragments pass unchanged. Packets without a consistent IPv4 header
annotation are dropped and counted; TCP segments with an inconsistent data
offset pass unchanged and are counted as malformed; a malformed option
ends the walk (options after it are left as they are).`,
			Ports: "input 0: annotated IP packets; output 0: the same packets, options stripped",
			Args: []core.Item{
				{Name: "KIND", Text: "one or more option kinds (number 2-255 or name; mandatory)"},
			},
			Handlers: handlerDocs(
				core.Item{Name: "kinds", Text: "read: the kinds removed"},
				core.Item{Name: "removed", Text: "read: options overwritten"},
			),
			Example: "CheckIPHeader -> RemoveTCPOpt(mptcp, tfo, 30) -> ...",
		},
	})
}

// Configure parses the kinds.
func (r *RemoveTCPOpt) Configure(a *core.Args) error {
	var words []string
	if err := a.Parse(core.Rest("KIND", &words)); err != nil {
		return err
	}
	for _, arg := range words {
		for _, w := range core.SplitWords(arg) {
			k, err := parseKind(w)
			if err != nil {
				return fmt.Errorf("KIND: %v", err)
			}
			if k == optEOL || k == optNOP {
				return fmt.Errorf("KIND: cannot remove %s", w)
			}
			if !r.kinds[k] {
				r.kinds[k] = true
				r.list = append(r.list, k)
			}
		}
	}
	if len(r.list) == 0 {
		return errors.New("KIND: required argument missing")
	}
	return nil
}

// Process rewrites a batch in place.
func (r *RemoveTCPOpt) Process(ctx *core.Ctx, b *packet.Batch) { processBatch(ctx, r, b) }

func (r *RemoveTCPOpt) rewrite(ctx *core.Ctx, p *packet.Packet) bool {
	s, work, keep := classify(ctx, &r.Base, &r.counters, p)
	if !work || !r.present(&s) {
		return keep
	}
	s = writableTCP(ctx, p)
	old := optSum(&s)
	for i := 20; i < s.thl; {
		k, n, ok := proto.NextTCPOption(s.tcp, i, s.thl)
		if !ok || k == optEOL {
			break
		}
		if r.kinds[k] {
			for j := i; j < i+n; j++ {
				s.tcp[j] = optNOP
			}
			r.removed++
		}
		i += n
	}
	updateRegion(tcpSum(&s), old, optSum(&s))
	r.changed++
	return true
}

// present reports whether s carries one of the kinds.
func (r *RemoveTCPOpt) present(s *seg) bool {
	for i := 20; i < s.thl; {
		k, n, ok := proto.NextTCPOption(s.tcp, i, s.thl)
		if !ok || k == optEOL {
			return false
		}
		if r.kinds[k] {
			return true
		}
		i += n
	}
	return false
}

// Handlers exposes the kinds and the counters.
func (r *RemoveTCPOpt) Handlers() []core.Handler {
	return append([]core.Handler{
		core.ReadOnly("kinds", func() string {
			var b strings.Builder
			for i, k := range r.list {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(strconv.Itoa(int(k)))
			}
			return b.String()
		}),
		core.ReadUint("removed", &r.removed),
	}, r.counters.handlers(&r.Base)...)
}
