// Package classifier holds the pattern classifiers: Classifier (raw bytes),
// IPClassifier and IPFilter (tcpdump-like expressions, see package ipexpr).
// All three compile their patterns into one ipexpr.Program, a decision DAG
// of masked word tests, so classifying a packet walks the DAG once instead
// of trying the patterns one by one.
package classifier

import (
	"fmt"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/packet"
	"flowbox/elements/classifier/ipexpr"
)

// progElement is the state and push path shared by the three classifiers.
type progElement struct {
	core.Base
	prog     *ipexpr.Program
	warnings []string
	// noHeader counts packets dropped because the IP header annotation
	// was unset (IPClassifier/IPFilter only).
	noHeader uint64
	// unmatched counts packets that matched no pattern (also in Drops).
	unmatched uint64
}

// pushIP classifies on the IP header annotation.
func (e *progElement) pushIP(ctx *core.Ctx, b *packet.Batch) {
	prog := e.prog
	mac := prog.UsesMAC()
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		ip := p.Network()
		if ip == nil {
			e.noHeader++
			e.Drop(ctx, p)
			continue
		}
		var out int
		if mac {
			out = prog.Match(ip, p.MacHeader())
		} else {
			out = prog.Match(ip, nil) // no test reads it
		}
		e.route(ctx, p, out)
	}
	b.N = 0
	e.Flush(ctx)
}

// pushRaw classifies on the packet data from its first byte.
func (e *progElement) pushRaw(ctx *core.Ctx, b *packet.Batch) {
	prog := e.prog
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		e.route(ctx, p, prog.Match(p.Data(), nil))
	}
	b.N = 0
	e.Flush(ctx)
}

func (e *progElement) route(ctx *core.Ctx, p *packet.Packet, out int) {
	if out < 0 {
		e.unmatched++
		e.Drop(ctx, p)
		return
	}
	e.Emit(ctx, out, p)
}

// Initialize logs the compiler's warnings (unreachable patterns).
func (e *progElement) Initialize(r core.Router) error {
	for _, w := range e.warnings {
		r.Logf(e, "warning: %s", w)
	}
	return nil
}

func (e *progElement) baseHandlers() []core.Handler {
	return []core.Handler{
		core.ReadOnly("program", func() string { return e.prog.String() }),
		core.ReadUint("unmatched", &e.unmatched),
	}
}

// onePerOutput checks Click's rule that pattern i feeds output i.
func onePerOutput(b *core.Base, n int) error {
	if n != b.NOutputs() {
		return fmt.Errorf("need %d arguments, one per output port (got %d)", b.NOutputs(), n)
	}
	return nil
}

// compileExprs compiles expression rules, keeping warnings.
func (e *progElement) compileExprs(rules []ipexpr.Rule) error {
	prog, warns, err := ipexpr.Compile(rules)
	if err != nil {
		return err
	}
	e.prog, e.warnings = prog, warns
	return nil
}

// splitAction splits an IPFilter argument into its action word and the
// pattern, returning the pattern's offset in the argument.
func splitAction(arg string) (action, expr string, offset int) {
	i := strings.IndexAny(arg, " \t\n\r")
	if i < 0 {
		return arg, "", len(arg)
	}
	j := i
	for j < len(arg) && strings.ContainsRune(" \t\n\r", rune(arg[j])) {
		j++
	}
	return arg[:i], arg[j:], j
}
