package classifier

import (
	"fmt"
	"strconv"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/elements/classifier/ipexpr"
)

// IPClassifier sends each IP packet to the output of the first pattern it
// matches; unmatched packets are dropped.
type IPClassifier struct {
	progElement
	patterns []string
}

func init() {
	core.Register(core.Class{
		Name: "IPClassifier", Ports: "1/-", Processing: "h/h",
		New: func() core.Element { return new(IPClassifier) },
		Doc: core.Doc{
			Synopsis: "IPClassifier(PATTERN_0, ..., PATTERN_N-1)",
			Summary:  "classifies IP packets by contents with tcpdump-like patterns",
			Description: `Sends each packet to output i for the first PATTERN_i it matches, and
drops packets that match none. Patterns are evaluated on the IP header
annotation (set by CheckIPHeader or MarkIPHeader); packets without it are
dropped and counted.

Primitives: ip proto P, tcp, udp, icmp; [src|dst|src or dst|src and dst]
host A, net A/LEN (also "A mask M" and short forms like 10.0/16);
[SRCDST] [tcp|udp] port P; ip vers|hl|id|tos|dscp|ttl N; ip ect, ip ce,
ip frag, ip unfrag; tcp opt syn|fin|ack|rst|psh|urg; tcp win N;
icmp type T; ip[POS:LEN] V; transp[POS:LEN] V (tcp[..], udp[..],
icmp[..]); [src|dst] ether host MAC (on the MAC annotation); true, false,
and "-", "any" or "all" for everything. Integer primitives take an
operator (== default, !=, <, >, <=, >=) and a mask: "FIELD & MASK op V".
Connectives: and/&&, or/||, not/!, parentheses and "a ? b : c" (spaces
around the colon). Qualifiers carry over ("src port 80 or 81"), and
qualifiers may be left out: "www" is "port www", "syn" is "tcp opt syn",
"10.0.0.0/24" is "net 10.0.0.0/24".

port, icmp type, tcp opt, tcp win and transport fields are only true on
first fragments, and "src tcp port != 5" requires TCP. A test that reads
past the end of the packet is false for both == and !=.

The patterns are compiled into a single decision program of masked word
tests (handler program) that shares common tests, so the cost per packet
does not grow with the number of patterns the packet skips over.`,
			Ports: "One push input (IP packets with the IP header annotation). One push output per pattern.",
			Args: []core.Item{
				{Name: "PATTERN_i", Text: "tcpdump-like expression; packets matching it (and no earlier one) go to output i"},
			},
			Handlers: []core.Item{
				{Name: "program", Text: "(read) the compiled decision program, one test per line"},
				{Name: "patternN", Text: "(read/write) pattern N; writing recompiles the program"},
				{Name: "unmatched", Text: "(read) packets dropped because no pattern matched"},
			},
			Example: `IPClassifier(10.0.0.0/24 and syn,
             10.0.0.0/24 and fin ack,
             dst tcp port 8000 or 8080,
             -)`,
		},
	})
}

// Configure compiles the patterns, one per output.
func (c *IPClassifier) Configure(a *core.Args) error {
	if err := onePerOutput(&c.Base, a.Len()); err != nil {
		return err
	}
	return c.setPatterns(append([]string(nil), a.Raw()...))
}

func (c *IPClassifier) setPatterns(pats []string) error {
	rules := make([]ipexpr.Rule, len(pats))
	for i, p := range pats {
		rules[i] = ipexpr.Rule{Expr: p, Output: i}
	}
	if err := c.compileExprs(rules); err != nil {
		return err
	}
	c.patterns = pats
	return nil
}

// Push classifies a batch.
func (c *IPClassifier) Push(ctx *core.Ctx, _ int, b *packet.Batch) { c.pushIP(ctx, b) }

// Handlers: program, unmatched, and pattern0..patternN-1.
func (c *IPClassifier) Handlers() []core.Handler {
	hs := c.baseHandlers()
	for i := range c.patterns {
		i := i
		hs = append(hs, core.ReadWrite("pattern"+strconv.Itoa(i),
			func() string { return c.patterns[i] },
			func(v string) error {
				pats := append([]string(nil), c.patterns...)
				pats[i] = v
				if err := c.setPatterns(pats); err != nil {
					return fmt.Errorf("pattern%d: %w", i, err)
				}
				return nil
			}))
	}
	return hs
}
