package classifier

import (
	"fmt"
	"strconv"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/elements/classifier/ipexpr"
)

// IPFilter applies the action of the first rule whose pattern matches.
type IPFilter struct {
	progElement
}

func init() {
	core.Register(core.Class{
		Name: "IPFilter", Ports: "1/-", Processing: "h/h",
		New: func() core.Element { return new(IPFilter) },
		Doc: core.Doc{
			Synopsis: "IPFilter(ACTION_1 PATTERN_1, ..., ACTION_N PATTERN_N)",
			Summary:  "filters IP packets by contents with tcpdump-like patterns",
			Description: `Each argument is an ACTION followed by a PATTERN in IPClassifier's
tcpdump-like syntax (see "flowbox doc IPClassifier"). Packets are tested
against the rules in order and handled by the ACTION of the first rule
that matches: "allow" sends the packet to output 0, "deny" or "drop"
drops it, and a number N sends it to output N. Packets that match no rule
are dropped. Patterns are evaluated on the IP header annotation (set by
CheckIPHeader or MarkIPHeader); packets without it are dropped and
counted.

The rules are compiled into one decision program of masked word tests
that shares tests between rules and skips tests whose outcome is already
known on the path (handler program). Rules that can never match (for
instance after "allow all") are reported as warnings at initialization.`,
			Ports: "One push input (IP packets with the IP header annotation). Any number of push outputs; every output number used by an action must exist.",
			Args: []core.Item{
				{Name: "ACTION PATTERN", Text: "ACTION is allow, deny, drop or an output number; PATTERN an IPClassifier expression"},
			},
			Handlers: []core.Item{
				{Name: "program", Text: "(read) the compiled decision program, one test per line"},
				{Name: "unmatched", Text: "(read) packets dropped by a deny/drop rule or because no rule matched"},
			},
			Example: `IPFilter(deny src net 10.0.0.0/8,
         allow dst tcp port www && syn,
         1 icmp type echo,
         deny all)`,
		},
	})
}

// Configure parses the ACTION PATTERN rules and compiles them.
func (f *IPFilter) Configure(a *core.Args) error {
	rules := make([]ipexpr.Rule, 0, a.Len())
	for i, arg := range a.Raw() {
		action, expr, off := splitAction(arg)
		out, err := f.action(action)
		if err != nil {
			return fmt.Errorf("pattern %d: %w", i, err)
		}
		if expr == "" {
			return fmt.Errorf("pattern %d: missing pattern after action %q", i, action)
		}
		rules = append(rules, ipexpr.Rule{Expr: expr, Output: out, Offset: off})
	}
	return f.compileExprs(rules)
}

// action maps an action word to an output (-1 drops).
func (f *IPFilter) action(word string) (int, error) {
	switch word {
	case "allow":
		if f.NOutputs() < 1 {
			return 0, fmt.Errorf("'allow' needs output 0, but the element has no outputs")
		}
		return 0, nil
	case "deny", "drop":
		return -1, nil
	}
	n, err := strconv.Atoi(word)
	if err != nil {
		return 0, fmt.Errorf("expected action allow, deny, drop or an output number, got %q", word)
	}
	if n < 0 || n >= f.NOutputs() {
		return 0, fmt.Errorf("output %d out of range (element has %d outputs)", n, f.NOutputs())
	}
	return n, nil
}

// Push filters a batch.
func (f *IPFilter) Push(ctx *core.Ctx, _ int, b *packet.Batch) { f.pushIP(ctx, b) }

// Handlers: program and unmatched.
func (f *IPFilter) Handlers() []core.Handler { return f.baseHandlers() }
