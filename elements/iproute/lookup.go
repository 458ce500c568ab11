package iproute

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"flowbox/appliance/core"
)

// routeEngine is the control-plane view shared by the lookup structures.
// The packet path never goes through it: each element calls its concrete
// structure directly.
type routeEngine interface {
	Add(r Route) error
	Set(r Route) (old Route, replaced bool, err error)
	Remove(p netip.Prefix) (Route, error)
	Get(p netip.Prefix) (Route, bool)
	Lookup(a netip.Addr) (Route, bool)
	Routes() []Route
}

// lookupBase is the configuration, handler and hot-swap logic common to
// the lookup elements.
type lookupBase struct {
	core.Base
	eng     routeEngine
	mutable bool // add/set/remove/ctrl handlers exist
	noRoute uint64
}

// ParseRoute parses "ADDR/MASK [GW] OUT". With forRemove, OUT may be
// omitted (Out is then -1, meaning "any").
func ParseRoute(s string, forRemove bool) (Route, error) {
	words := strings.Fields(s) // routes hold no quoted words
	usage := "expected 'ADDR/MASK [GW] OUT'"
	if forRemove {
		usage = "expected 'ADDR/MASK [[GW] OUT]'"
	}
	if len(words) == 0 || len(words) > 3 || (len(words) == 1 && !forRemove) {
		return Route{}, fmt.Errorf("%s, got %q", usage, s)
	}
	p, err := core.ParseIPPrefix(words[0])
	if err != nil || !p.Addr().Is4() {
		return Route{}, fmt.Errorf("%s: bad prefix %q", usage, words[0])
	}
	r := Route{Prefix: p, Out: -1}
	if len(words) == 1 {
		return r, nil
	}
	if len(words) == 3 {
		if r.GW, err = parseGateway(words[1]); err != nil {
			return Route{}, err
		}
	}
	out, err := strconv.Atoi(words[len(words)-1])
	if err != nil || out < 0 {
		return Route{}, fmt.Errorf("%s: bad output port %q", usage, words[len(words)-1])
	}
	r.Out = out
	return r, nil
}

// parseGateway accepts an address, or "-" / 0.0.0.0 for "no gateway" (so
// the table handler's output parses back).
func parseGateway(s string) (netip.Addr, error) {
	if s == "-" {
		return netip.Addr{}, nil
	}
	a, err := core.ParseIPv4(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("bad gateway %q", s)
	}
	if a.IsUnspecified() {
		return netip.Addr{}, nil
	}
	return a, nil
}

func (l *lookupBase) checkPort(r Route) error {
	if r.Out >= l.NOutputs() {
		return fmt.Errorf("route '%s': output port %d out of range (element has %d outputs)", r, r.Out, l.NOutputs())
	}
	return nil
}

// configureRoutes adds every configuration argument as a route; two
// routes for the same prefix are an error, as in Click.
func (l *lookupBase) configureRoutes(a *core.Args) error {
	var errs []string
	for _, arg := range a.Raw() {
		r, err := ParseRoute(arg, false)
		if err == nil {
			err = l.checkPort(r)
		}
		if err == nil {
			if err = l.eng.Add(r); errors.Is(err, ErrExists) {
				err = fmt.Errorf("route '%s' conflicts with an earlier route for %s", arg, r.Prefix)
			}
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// takeRoutes copies the routes of an element being replaced by a hot
// reconfiguration, but only when its configuration string is unchanged:
// then the old table is the configured routes plus whatever the operator
// added or removed at run time, and that is what the operator expects to
// keep. When the configuration changed, the new configuration is the
// authority and run-time edits are dropped.
func (l *lookupBase) takeRoutes(old *lookupBase, fresh routeEngine) bool {
	if old.Config() != l.Config() {
		return false
	}
	for _, r := range old.eng.Routes() {
		if l.checkPort(r) != nil {
			if rt := l.Router(); rt != nil {
				rt.Logf(l, "hot swap: dropping route '%s' (no such output)", r)
			}
			continue
		}
		_ = fresh.Add(r)
	}
	l.eng = fresh
	return true
}

// undoLog records applied table edits so that a failed multi-route write
// leaves the table as it was.
type undoLog []func()

func (u undoLog) rollback() {
	for i := len(u) - 1; i >= 0; i-- {
		u[i]()
	}
}

func (l *lookupBase) apply(cmd, text string, undo *undoLog) error {
	switch cmd {
	case "add", "set":
		r, err := ParseRoute(text, false)
		if err != nil {
			return err
		}
		if err := l.checkPort(r); err != nil {
			return err
		}
		if cmd == "add" {
			if err := l.eng.Add(r); err != nil {
				return fmt.Errorf("route '%s': %w", text, err)
			}
			*undo = append(*undo, func() { _, _ = l.eng.Remove(r.Prefix) })
			return nil
		}
		old, replaced, err := l.eng.Set(r)
		if err != nil {
			return err
		}
		if replaced {
			*undo = append(*undo, func() { _, _, _ = l.eng.Set(old) })
		} else {
			*undo = append(*undo, func() { _, _ = l.eng.Remove(r.Prefix) })
		}
		return nil
	case "remove":
		return l.remove(text, undo)
	}
	return fmt.Errorf("unknown command %q (expected add, set or remove)", cmd)
}

// remove deletes a route; when the command names a gateway and output,
// they must match the stored route (Click's IPRoute::match).
func (l *lookupBase) remove(text string, undo *undoLog) error {
	r, err := ParseRoute(text, true)
	if err != nil {
		return err
	}
	cur, ok := l.eng.Get(r.Prefix)
	if !ok || (r.Out >= 0 && (cur.Out != r.Out || cur.GW != r.GW)) {
		return fmt.Errorf("route '%s': %w", text, ErrNotFound)
	}
	old, err := l.eng.Remove(r.Prefix)
	if err != nil {
		return err
	}
	*undo = append(*undo, func() { _ = l.eng.Add(old) })
	return nil
}

// splitRoutes splits a handler value into routes: one per line, and
// commas separate routes on a line.
func splitRoutes(v string) []string {
	var out []string
	for _, line := range strings.Split(v, "\n") {
		out = append(out, core.SplitArgs(line)...)
	}
	return out
}

// writeAll applies cmd to every route in v, all or nothing.
func (l *lookupBase) writeAll(cmd, v string) error {
	var undo undoLog
	for _, text := range splitRoutes(v) {
		if err := l.apply(cmd, text, &undo); err != nil {
			undo.rollback()
			return err
		}
	}
	return nil
}

// ctrl applies "add ROUTE" / "set ROUTE" / "remove ROUTE" lines, all or
// nothing.
func (l *lookupBase) ctrl(v string) error {
	var undo undoLog
	for _, line := range strings.Split(v, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		cmd, rest, _ := strings.Cut(line, " ")
		if err := l.apply(cmd, strings.TrimSpace(rest), &undo); err != nil {
			undo.rollback()
			return err
		}
	}
	return nil
}

// FormatTable renders routes in Click's IPRouteTable dump format:
// "ADDR/LEN<tab>GW-or-dash<tab>OUT", columns padded with extra tabs.
func FormatTable(routes []Route) string {
	var b strings.Builder
	for _, r := range routes {
		start := b.Len()
		b.WriteString(r.Prefix.String())
		b.WriteByte('\t')
		if b.Len() < start+17 {
			b.WriteByte('\t')
		}
		start = b.Len()
		if r.GW.IsValid() {
			b.WriteString(r.GW.String())
		} else {
			b.WriteByte('-')
		}
		b.WriteByte('\t')
		if b.Len() < start+9 {
			b.WriteByte('\t')
		}
		b.WriteString(strconv.Itoa(r.Out))
		b.WriteByte('\n')
	}
	return b.String()
}

// lookupText is the `lookup` read handler: "OUT GW", "OUT" for a route
// without gateway (as Click prints it), or "-1" with no route.
func (l *lookupBase) lookupText(arg string) (string, error) {
	a, err := core.ParseIPv4(strings.TrimSpace(arg))
	if err != nil {
		return "", err
	}
	r, ok := l.eng.Lookup(a)
	switch {
	case !ok:
		return "-1", nil
	case r.GW.IsValid():
		return fmt.Sprintf("%d %s", r.Out, r.GW), nil
	}
	return strconv.Itoa(r.Out), nil
}

func (l *lookupBase) Handlers() []core.Handler {
	hs := []core.Handler{
		core.ReadOnly("table", func() string { return FormatTable(l.eng.Routes()) }),
		{Name: "lookup", Read: l.lookupText},
		core.ReadUint("no_route", &l.noRoute),
	}
	if l.mutable {
		hs = append(hs,
			core.WriteOnly("add", func(v string) error { return l.writeAll("add", v) }),
			core.WriteOnly("set", func(v string) error { return l.writeAll("set", v) }),
			core.WriteOnly("remove", func(v string) error { return l.writeAll("remove", v) }),
			core.WriteOnly("ctrl", l.ctrl),
		)
	}
	return hs
}

// Shared documentation pieces.
const (
	routeArgsDoc = "Each argument is a route `ADDR/MASK [GW] OUT`: packets whose destination " +
		"annotation matches ADDR/MASK (longest prefix wins) leave on output OUT; if GW is given " +
		"the destination annotation is set to GW. GW may be `-` for none."
	portsDoc = "input 0: IPv4 packets with the destination annotation set (push)\n" +
		"output N: packets routed to port N; unrouted packets are dropped and counted"
)

func handlerDocs(mutable bool) []core.Item {
	items := []core.Item{
		{Name: "table", Text: "read: the routes, one per line, `ADDR/LEN<tab>GW|-<tab>OUT` (Click's format)"},
		{Name: "lookup", Text: "read with an address parameter: `OUT GW`, `OUT` when the route has no gateway, or `-1`"},
		{Name: "no_route", Text: "read: packets dropped because no route matched"},
	}
	if mutable {
		items = append(items,
			core.Item{Name: "add", Text: "write `ADDR/MASK [GW] OUT` (several separated by commas or newlines): add routes; an existing prefix is an error; all or nothing"},
			core.Item{Name: "set", Text: "write routes: add or replace"},
			core.Item{Name: "remove", Text: "write `ADDR/MASK [[GW] OUT]`: remove routes (GW/OUT, if given, must match)"},
			core.Item{Name: "ctrl", Text: "write lines `add ROUTE`, `set ROUTE`, `remove ROUTE`: applied all or nothing"},
		)
	}
	return items
}
