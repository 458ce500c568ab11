package classifier

import (
	"fmt"
	"strconv"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/elements/classifier/ipexpr"
)

// Classifier sends each packet to the output of the first byte pattern it
// matches, looking at the data from its first byte.
type Classifier struct {
	progElement
	patterns []string
}

func init() {
	core.Register(core.Class{
		Name: "Classifier", Ports: "1/-", Processing: "h/h",
		New: func() core.Element { return new(Classifier) },
		Doc: core.Doc{
			Synopsis: "Classifier(PATTERN_0, ..., PATTERN_N-1)",
			Summary:  "classifies packets by contents at fixed offsets",
			Description: `Sends each packet to output i for the first PATTERN_i it matches, and
drops packets that match none. A pattern is a space-separated list of
clauses OFFSET/HEXVALUE[%HEXMASK], all of which must hold: the bytes at
OFFSET (decimal, from the start of the packet data) equal HEXVALUE in the
bits set in HEXMASK. A "?" in HEXVALUE is a don't-care nibble, a leading
"!" negates a clause, and the pattern "-" matches every packet. A clause
that reads past the end of the packet is false (so its negation is true).

The patterns are compiled into a single decision program of masked word
tests (handler program).`,
			Ports: "One push input. One push output per pattern.",
			Args: []core.Item{
				{Name: "PATTERN_i", Text: "clauses OFFSET/HEXVALUE[%HEXMASK] (? = any nibble, ! = not), or - for all"},
			},
			Handlers: []core.Item{
				{Name: "program", Text: "(read) the compiled decision program, one test per line"},
				{Name: "unmatched", Text: "(read) packets dropped because no pattern matched"},
			},
			Example: `Classifier(12/0806 20/0001,  // ARP requests
           12/0806 20/0002,  // ARP replies
           12/0800,          // IPv4
           -)                // everything else`,
		},
	})
}

// Configure parses the clause patterns, one per output, and compiles them.
func (c *Classifier) Configure(a *core.Args) error {
	if err := onePerOutput(&c.Base, a.Len()); err != nil {
		return err
	}
	rules := make([]ipexpr.ASTRule, a.Len())
	for i, pat := range a.Raw() {
		n, err := ParsePattern(pat)
		if err != nil {
			return fmt.Errorf("pattern %d: %w", i, err)
		}
		rules[i] = ipexpr.ASTRule{Expr: n, Output: i}
	}
	c.patterns = append([]string(nil), a.Raw()...)
	c.prog, c.warnings = ipexpr.CompileAST(rules, ipexpr.Options{Raw: true})
	return nil
}

// Push classifies a batch.
func (c *Classifier) Push(ctx *core.Ctx, _ int, b *packet.Batch) { c.pushRaw(ctx, b) }

// Handlers: program and unmatched.
func (c *Classifier) Handlers() []core.Handler { return c.baseHandlers() }

// ParsePattern parses a Classifier pattern into an expression over raw
// data (ipexpr.BaseIP standing for the first data byte).
func ParsePattern(pat string) (ipexpr.Node, error) {
	var n ipexpr.Node = &ipexpr.Const{Value: true}
	pos := 0
	for _, clause := range strings.Fields(pat) {
		col := strings.Index(pat[pos:], clause) + pos + 1
		pos = col - 1 + len(clause)
		if clause == "-" {
			continue
		}
		c, err := parseClause(clause)
		if err != nil {
			return nil, fmt.Errorf("col %d: clause %q: %w", col, clause, err)
		}
		n = &ipexpr.And{X: n, Y: c}
	}
	return n, nil
}

// parseClause parses [!]OFFSET/HEXVALUE[%HEXMASK].
func parseClause(s string) (ipexpr.Node, error) {
	negate := strings.HasPrefix(s, "!")
	s = strings.TrimPrefix(s, "!")
	offText, rest, ok := strings.Cut(s, "/")
	if !ok {
		return nil, fmt.Errorf("expected OFFSET/HEXVALUE")
	}
	off, err := strconv.ParseUint(offText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("expected decimal offset, got %q", offText)
	}
	valText, maskText, hasMask := strings.Cut(rest, "%")
	value, mask, err := hexNibbles(valText)
	if err != nil {
		return nil, err
	}
	if hasMask {
		m, dontCare, err := hexNibbles(maskText)
		if err != nil || len(m) != len(value) || !allSet(dontCare) {
			return nil, fmt.Errorf("mask %q must be as many plain hex digits as the value", maskText)
		}
		for i := range mask {
			mask[i] &= m[i]
		}
	}
	var n ipexpr.Node = ipexpr.Bytes(ipexpr.BaseIP, int(off), value, mask)
	if negate {
		n = &ipexpr.Not{X: n}
	}
	return n, nil
}

// hexNibbles decodes hex digits, "?" meaning any nibble; it returns the
// bytes and the mask of nibbles that matter.
func hexNibbles(s string) (value, mask []byte, err error) {
	if s == "" || len(s)%2 != 0 {
		return nil, nil, fmt.Errorf("expected an even number of hex digits, got %q", s)
	}
	value = make([]byte, len(s)/2)
	mask = make([]byte, len(s)/2)
	for i := 0; i < len(s); i++ {
		shift := uint(4 * (1 - i%2))
		if s[i] == '?' {
			continue
		}
		d, ok := hexDigit(s[i])
		if !ok {
			return nil, nil, fmt.Errorf("bad hex digit %q", s[i])
		}
		value[i/2] |= d << shift
		mask[i/2] |= 0xf << shift
	}
	return value, mask, nil
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func allSet(m []byte) bool {
	for _, b := range m {
		if b != 0xff {
			return false
		}
	}
	return true
}
