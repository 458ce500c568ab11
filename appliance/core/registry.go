package core

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Class describes an element class: everything the runtime needs to build,
// check and document it.
type Class struct {
	Name string
	// Ports is Click's port-count spec: "1/1", "1/1-2", "0/1", "1-/=",
	// "-/-" ("-" alone means any number).
	Ports string
	// Processing is Click's processing spec: "a/a", "h/lh", "l/h", with the
	// last letter of each side repeating.
	Processing string
	// FlowCode says which inputs flow to which outputs for push/pull
	// propagation through agnostic ports; empty means all-to-all.
	// "x/y" pairs as in Click ("x/x" = input i flows to output i only).
	FlowCode string
	New      func() Element
	Doc      Doc
	// Model is an optional symbolic model for the verifier; its type is
	// owned by the verify package (kept as any so core imports nothing).
	Model any
}

// Doc is the self-documentation every element carries; `flowbox doc CLASS`
// prints it.
type Doc struct {
	Synopsis    string // "Counter([KEYWORDS])"
	Summary     string // one line
	Description string
	Ports       string // what each port carries
	Args        []Item
	Handlers    []Item
	Example     string
}

// Item is one documented argument or handler.
type Item struct{ Name, Text string }

var (
	regMu   sync.RWMutex
	classes = map[string]*Class{}
)

// Register adds a class; registering a name twice panics at init time (a
// programming error, never an operator's).
func Register(c Class) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := classes[c.Name]; dup {
		panic("core: element class registered twice: " + c.Name)
	}
	if c.Ports == "" {
		c.Ports = "1/1"
	}
	if c.Processing == "" {
		c.Processing = "a/a"
	}
	if _, err := ParsePortSpec(c.Ports); err != nil {
		panic("core: class " + c.Name + ": " + err.Error())
	}
	cc := c
	classes[c.Name] = &cc
}

// Lookup returns the class named name, or nil.
func Lookup(name string) *Class {
	regMu.RLock()
	defer regMu.RUnlock()
	return classes[name]
}

// SetModel attaches a verifier model to a registered class.
func SetModel(name string, model any) {
	regMu.Lock()
	defer regMu.Unlock()
	if c := classes[name]; c != nil {
		c.Model = model
	}
}

// ClassNames lists every registered class, sorted.
func ClassNames() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	names := make([]string, 0, len(classes))
	for n := range classes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// PortRange is a min/max port count; Max < 0 means unbounded.
type PortRange struct{ Min, Max int }

// PortSpec is a parsed port-count spec.
type PortSpec struct {
	In, Out PortRange
	// OutEqualsIn is "=" (as many outputs as inputs); OutPlus is "=+"
	// (one more output than inputs).
	OutEqualsIn, OutPlus bool
}

// ParsePortSpec parses Click's port-count syntax.
func ParsePortSpec(s string) (PortSpec, error) {
	var ps PortSpec
	in, out, ok := strings.Cut(s, "/")
	if !ok {
		out = in
	}
	var err error
	if ps.In, err = parseRange(in); err != nil {
		return ps, fmt.Errorf("bad port spec %q", s)
	}
	switch out {
	case "=":
		ps.OutEqualsIn = true
		return ps, nil
	case "=+":
		ps.OutPlus = true
		return ps, nil
	}
	if ps.Out, err = parseRange(out); err != nil {
		return ps, fmt.Errorf("bad port spec %q", s)
	}
	return ps, nil
}

func parseRange(s string) (PortRange, error) {
	if s == "-" {
		return PortRange{0, -1}, nil
	}
	lo, hi, dash := strings.Cut(s, "-")
	var r PortRange
	if _, err := fmt.Sscanf(lo, "%d", &r.Min); err != nil {
		return r, err
	}
	switch {
	case !dash:
		r.Max = r.Min
	case hi == "":
		r.Max = -1
	default:
		if _, err := fmt.Sscanf(hi, "%d", &r.Max); err != nil {
			return r, err
		}
	}
	return r, nil
}

// Allows reports whether n ports fit the range.
func (r PortRange) Allows(n int) bool { return n >= r.Min && (r.Max < 0 || n <= r.Max) }

// OutputsFor returns the allowed output range given nin inputs.
func (ps PortSpec) OutputsFor(nin int) PortRange {
	switch {
	case ps.OutEqualsIn:
		return PortRange{nin, nin}
	case ps.OutPlus:
		return PortRange{nin + 1, nin + 1}
	}
	return ps.Out
}

// ProcessingKind returns the declared kind ('h', 'l' or 'a') of port i on
// one side of a processing spec ("h/lh": side 0 inputs, side 1 outputs).
func ProcessingKind(spec string, output bool, i int) PortKind {
	in, out, ok := strings.Cut(spec, "/")
	if !ok {
		out = in
	}
	side := in
	if output {
		side = out
	}
	if side == "" {
		return Agnostic
	}
	if i >= len(side) {
		i = len(side) - 1
	}
	switch side[i] {
	case 'h':
		return Push
	case 'l':
		return Pull
	}
	return Agnostic
}

// String renders the doc block as `flowbox doc` prints it.
func (d Doc) String() string {
	var b strings.Builder
	section := func(title, body string) {
		if body == "" {
			return
		}
		fmt.Fprintf(&b, "%s\n", title)
		for _, l := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
			fmt.Fprintf(&b, "    %s\n", l)
		}
		b.WriteString("\n")
	}
	items := func(title string, it []Item) {
		if len(it) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s\n", title)
		w := 14 // names longer than that widen the column of the section
		for _, x := range it {
			w = max(w, len(x.Name))
		}
		for _, x := range it {
			fmt.Fprintf(&b, "    %-*s %s\n", w, x.Name, x.Text)
		}
		b.WriteString("\n")
	}
	section("SYNOPSIS", d.Synopsis)
	section("SUMMARY", d.Summary)
	section("DESCRIPTION", d.Description)
	section("PORTS", d.Ports)
	items("ARGUMENTS", d.Args)
	items("HANDLERS", d.Handlers)
	section("EXAMPLE", d.Example)
	return b.String()
}
