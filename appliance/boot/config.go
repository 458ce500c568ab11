// Package boot is how flowbox starts on a box: the boot file
// (/etc/flowbox/boot.toml) naming interfaces, the Click configuration(s)
// to run, threads, control socket, metrics, Lua hooks and logging; its
// strict decoding and validation with FILE:LINE errors; interface set-up
// through netlink (and putting interfaces back as found); the
// last-known-good store; and the degraded state.
package boot

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"flowbox/appliance/suggest"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// DefaultPath is where `flowbox boot` looks for its boot file.
const DefaultPath = "/etc/flowbox/boot.toml"

// Defaults for keys the boot file leaves out.
const (
	DefaultSocket       = "/run/flowbox/control.sock"
	DefaultLKGDir       = "/var/lib/flowbox/lkg"
	DefaultPromoteAfter = 30 * time.Second
)

// Config is the boot file. Every key is documented in README.md ("Boot
// and firmware") and in firmware/boot.example.toml.
type Config struct {
	// Profile names the box's role in the ready line, shell and metrics.
	Profile    string      `toml:"profile"`
	Graph      Graph       `toml:"graph"`
	Interfaces []Interface `toml:"interface"`
	Control    Control     `toml:"control"`
	Hooks      Hooks       `toml:"hooks"`
	Log        Log         `toml:"log"`
	LKG        LKG         `toml:"lkg"`
	Probes     []Probe     `toml:"probe"`
}

// Graph is the [graph] table: what to run and on how many threads.
type Graph struct {
	// Files are Click configurations, relative to the boot file. Several
	// files are merged into one graph (element names must not clash).
	Files []string `toml:"files"`
	// Define sets define($VAR ...) variables of the configurations.
	Define map[string]string `toml:"define"`
	// DefineFile sets variables from files (relative to the boot file):
	// '#' comments and blank lines dropped, lines joined with ", ", so a
	// rules file with one IPFilter rule per line becomes IPFilter($RULES).
	DefineFile map[string]string `toml:"define_file"`
	// Threads is the number of worker threads (default 1).
	Threads int `toml:"threads"`
	// Pin pins worker i to CPU i (default true).
	Pin *bool `toml:"pin"`
	// CPUs lists the CPUs worker threads are pinned to (worker i on
	// CPUs[i mod n]); the process is confined to them.
	CPUs []int `toml:"cpus"`
}

// Interface is one [[interface]] table.
type Interface struct {
	Name string `toml:"name"`
	// Define is the prefix of the Click variables describing this
	// interface: $DEFINE (device name), $DEFINE_METHOD, $DEFINE_QUEUES,
	// $DEFINE_IP, $DEFINE_PREFIX, $DEFINE_NET, $DEFINE_MTU, $DEFINE_MAC.
	Define string `toml:"define"`
	// Method is XDP, PACKET or AUTO (default AUTO).
	Method string `toml:"method"`
	// Queues the graph reads (default 1).
	Queues int `toml:"queues"`
	// MTU to set (0: leave as is).
	MTU int `toml:"mtu"`
	// MAC to set ("": leave as is).
	MAC string `toml:"mac"`
	// Addresses of the interface in CIDR form ("10.0.1.1/24").
	Addresses []string `toml:"addresses"`
	// KernelAddresses also assigns Addresses to the kernel's interface.
	KernelAddresses bool `toml:"kernel_addresses"`
	// Gateway adds a kernel default route through this interface (with
	// kernel_addresses; for the box's own traffic, e.g. probes).
	Gateway string `toml:"gateway"`
	// Promisc sets promiscuous mode.
	Promisc *bool `toml:"promisc"`
	// Up brings the link up (default true).
	Up *bool `toml:"up"`
	// Restore puts the interface back as found on shutdown (default true).
	Restore *bool `toml:"restore"`
	// Optional: a missing interface is a warning, not an error.
	Optional bool `toml:"optional"`
}

// Control is the [control] table.
type Control struct {
	// Socket is the control socket path (default /run/flowbox/control.sock).
	Socket string `toml:"socket"`
	// Metrics is the Prometheus listen address ("" = off).
	Metrics string `toml:"metrics"`
}

// Hooks is the [hooks] table: Lua hook scripts.
type Hooks struct {
	Files  []string `toml:"files"`
	Budget Duration `toml:"budget"`
}

// Log is the [log] table.
type Log struct {
	// File receives the log as well as the console ("" = console only).
	File string `toml:"file"`
	// Level is debug, info, warn or error (default info).
	Level string `toml:"level"`
}

// LKG is the [lkg] table: the last-known-good store.
type LKG struct {
	// Dir holds the last-known-good set (default /var/lib/flowbox/lkg).
	Dir string `toml:"dir"`
	// PromoteAfter is how long a configuration must run before it becomes
	// last-known-good (default 30s).
	PromoteAfter Duration `toml:"promote_after"`
	// Disabled turns the store off.
	Disabled bool `toml:"disabled"`
}

// Probe is one [[probe]] table: a tracebox script run on a schedule.
type Probe struct {
	Name string `toml:"name"`
	// Script is a tracebox Lua script (relative to the boot file); empty
	// runs the built-in probe.
	Script string `toml:"script"`
	// Target is the destination (host or address).
	Target string `toml:"target"`
	// Args are extra tracebox arguments.
	Args []string `toml:"args"`
	// Every is the period (default 5m).
	Every Duration `toml:"every"`
	// Output is the directory for results (NAME.jsonl, one JSON line per run).
	Output string `toml:"output"`
}

// Duration is a TOML string such as "30s" or "5m".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use e.g. \"30s\", \"5m\")", b)
	}
	if v < 0 {
		return fmt.Errorf("negative duration %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration back.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// PinWorkers reports whether worker threads are pinned.
func (g Graph) PinWorkers() bool { return boolOr(g.Pin, true) }

// IsUp, IsPromisc, Restores apply the defaults.
func (i Interface) IsUp() bool        { return boolOr(i.Up, true) }
func (i Interface) Restores() bool    { return boolOr(i.Restore, true) }
func (i Interface) SetsPromisc() bool { return i.Promisc != nil }

// SocketPath is the control socket with its default.
func (c Config) SocketPath() string {
	if c.Control.Socket == "" {
		return DefaultSocket
	}
	return c.Control.Socket
}

// LKGDir is the last-known-good directory with its default.
func (c Config) LKGDir() string {
	if c.LKG.Dir == "" {
		return DefaultLKGDir
	}
	return c.LKG.Dir
}

// PromoteAfter is LKG.PromoteAfter with its default.
func (c Config) PromoteAfter() time.Duration {
	if c.LKG.PromoteAfter.Duration == 0 {
		return DefaultPromoteAfter
	}
	return c.LKG.PromoteAfter.Duration
}

// Error is one problem in a boot file, at FILE:LINE with the key.
type Error struct {
	File string
	Line int // 0 when unknown
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		fmt.Fprintf(&b, "%s: ", e.Key)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found, one per line.
type Errors []error

func (l Errors) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

func (l Errors) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// positions maps key paths ("graph.files", "interface[1].mtu",
// "graph.files[0]") to their line in the file.
type positions map[string]int

// line finds the line of key, or of its closest parent that is known.
func (p positions) line(key string) int {
	for key != "" {
		if l, ok := p[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// indexPositions walks the document with go-toml's parser and records the
// line of every key and array element.
func indexPositions(doc []byte) positions {
	pos := positions{}
	var p unstable.Parser
	p.Reset(doc)
	counts := map[string]int{}
	table := ""
	lineOf := func(r unstable.Range) int { return p.Shape(r).Start.Line }
	join := func(a, b string) string {
		if a == "" {
			return b
		}
		return a + "." + b
	}
	var value func(path string, n *unstable.Node)
	value = func(path string, n *unstable.Node) {
		switch n.Kind {
		case unstable.Array:
			i := 0
			it := n.Children()
			for it.Next() {
				c := it.Node()
				ep := fmt.Sprintf("%s[%d]", path, i)
				if c.Raw.Length > 0 {
					pos[ep] = lineOf(c.Raw)
				}
				value(ep, c)
				i++
			}
		case unstable.InlineTable:
			it := n.Children()
			for it.Next() {
				kv := it.Node()
				k, r := keyPath(kv.Key())
				kp := join(path, k)
				pos[kp] = lineOf(r)
				value(kp, kv.Value())
			}
		}
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			k, r := keyPath(e.Key())
			table = k
			pos[table] = lineOf(r)
		case unstable.ArrayTable:
			k, r := keyPath(e.Key())
			i := counts[k]
			counts[k] = i + 1
			table = fmt.Sprintf("%s[%d]", k, i)
			pos[table] = lineOf(r)
			if _, ok := pos[k]; !ok {
				pos[k] = lineOf(r)
			}
		case unstable.KeyValue:
			k, r := keyPath(e.Key())
			kp := join(table, k)
			pos[kp] = lineOf(r)
			value(kp, e.Value())
		}
	}
	return pos
}

// Decode decodes a boot file strictly: unknown keys, wrong types and
// syntax errors come back as Errors at FILE:LINE naming the key. It does
// not check values or referenced files (Validate and Load do).
func Decode(file string, doc []byte) (*Config, positions, error) {
	if errs := checkShapes(file, doc); len(errs) > 0 {
		return nil, nil, errs
	}
	var c Config
	d := toml.NewDecoder(bytes.NewReader(doc)).DisallowUnknownFields()
	err := d.Decode(&c)
	if err == nil {
		return &c, indexPositions(doc), nil
	}
	var errs Errors
	var strict *toml.StrictMissingError
	var de *toml.DecodeError
	switch {
	case errors.As(err, &strict):
		pos := indexPositions(doc)
		for i := range strict.Errors {
			e := &strict.Errors[i]
			line, _ := e.Position()
			errs = append(errs, &Error{File: file, Line: line, Key: arrayKey(pos, e.Key(), line),
				Msg: "unknown key" + suggestKey(e.Key())})
		}
	case errors.As(err, &de):
		line, _ := de.Position()
		errs = append(errs, &Error{File: file, Line: line, Key: arrayKey(indexPositions(doc), de.Key(), line),
			Msg: cleanTOMLMessage(de.Error())})
	default:
		errs = append(errs, &Error{File: file, Msg: cleanTOMLMessage(err.Error())})
	}
	return nil, nil, errs
}

// arrayTables are the boot file's arrays of tables ([[interface]], [[probe]]).
var arrayTables = map[string]bool{"interface": true, "probe": true}

// arrayKey joins key, naming the element of an array of tables by its
// index ("interface[1].mtu" rather than "interface.mtu"): the last
// [[NAME]] header at or before line.
func arrayKey(pos positions, key []string, line int) string {
	k := strings.Join(key, ".")
	if len(key) < 2 || !arrayTables[key[0]] || line <= 0 {
		return k
	}
	idx := -1
	for i := 0; ; i++ {
		l, ok := pos[fmt.Sprintf("%s[%d]", key[0], i)]
		if !ok || l > line {
			break
		}
		idx = i
	}
	if idx < 0 {
		return k
	}
	return fmt.Sprintf("%s[%d].%s", key[0], idx, strings.Join(key[1:], "."))
}

// durationKeys are the keys decoded as Duration.
var durationKeys = map[string]bool{"hooks.budget": true, "lkg.promote_after": true, "probe.every": true}

var tomlKinds = map[unstable.Kind]string{
	unstable.String: "string", unstable.Integer: "integer", unstable.Float: "float",
	unstable.Bool: "boolean", unstable.Array: "array", unstable.InlineTable: "inline table",
	unstable.LocalDate: "date", unstable.LocalTime: "time", unstable.LocalDateTime: "datetime",
	unstable.DateTime: "datetime",
}

// checkShapes finds what go-toml would accept silently or report without
// a position: [interface] or [probe] written as a single table (they are
// arrays of tables: [[interface]]), and durations that are not strings.
// A syntax error is left to the decoder.
func checkShapes(file string, doc []byte) Errors {
	var errs Errors
	var p unstable.Parser
	p.Reset(doc)
	lineOf := func(r unstable.Range) int { return p.Shape(r).Start.Line }
	table, counts := "", map[string]int{}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			k, r := keyPath(e.Key())
			table = k
			if arrayTables[k] {
				errs = append(errs, &Error{File: file, Line: lineOf(r), Key: k,
					Msg: fmt.Sprintf("wrong type: [%s] is an array of tables: write [[%s]]", k, k)})
			}
		case unstable.ArrayTable:
			k, _ := keyPath(e.Key())
			table = k
			counts[k]++
		case unstable.KeyValue:
			k, r := keyPath(e.Key())
			full := k
			if table != "" {
				full = table + "." + k
			}
			v := e.Value()
			if durationKeys[full] && v.Kind != unstable.String {
				key := full
				if n := counts[table]; arrayTables[table] && n > 0 {
					key = fmt.Sprintf("%s[%d].%s", table, n-1, k)
				}
				errs = append(errs, &Error{File: file, Line: lineOf(r), Key: key,
					Msg: fmt.Sprintf("wrong type: want a duration string such as \"30s\", got a TOML %s", tomlKinds[v.Kind])})
			}
		}
	}
	if p.Error() != nil {
		return nil
	}
	return errs
}

var typeRe = regexp.MustCompile(`cannot decode TOML (\w+) into (?:a )?(?:Go )?(?:struct field \S+ of type )?(\S+)`)

var goTypeWords = map[string]string{
	"int": "an integer", "string": "a string", "bool": "true or false",
	"[]string": "an array of strings", "[]int": "an array of integers",
	"map[string]string": "a table of strings", "boot.Duration": "a duration string such as \"30s\"",
	"*bool": "true or false",
}

// cleanTOMLMessage rewrites go-toml's messages for operators:
// "cannot decode TOML string into struct field boot.Graph.Threads of type
// int" becomes "wrong type: want an integer, got a string".
func cleanTOMLMessage(s string) string {
	s = strings.TrimPrefix(s, "toml: ")
	if m := typeRe.FindStringSubmatch(s); m != nil {
		want := goTypeWords[m[2]]
		if want == "" {
			if strings.HasPrefix(m[2], "[]") || strings.HasPrefix(m[2], "boot.") {
				want = "a table"
			} else {
				want = m[2]
			}
		}
		return fmt.Sprintf("wrong type: want %s, got a TOML %s", want, m[1])
	}
	return s
}

// keyNames lists the known keys of each table, for suggestions.
var keyNames = map[string][]string{
	"":          {"profile", "graph", "interface", "control", "hooks", "log", "lkg", "probe"},
	"graph":     {"files", "define", "define_file", "threads", "pin", "cpus"},
	"interface": {"name", "define", "method", "queues", "mtu", "mac", "addresses", "kernel_addresses", "gateway", "promisc", "up", "restore", "optional"},
	"control":   {"socket", "metrics"},
	"hooks":     {"files", "budget"},
	"log":       {"file", "level"},
	"lkg":       {"dir", "promote_after", "disabled"},
	"probe":     {"name", "script", "target", "args", "every", "output"},
}

func suggestKey(key []string) string {
	if len(key) == 0 {
		return ""
	}
	table := ""
	if len(key) > 1 {
		table = key[0]
	}
	last := key[len(key)-1]
	best := suggest.Closest(last, 3, keyNames[table])
	if best == "" {
		known := append([]string(nil), keyNames[table]...)
		sort.Strings(known)
		if table == "" {
			return " (known: " + strings.Join(known, ", ") + ")"
		}
		return fmt.Sprintf(" (known in [%s]: %s)", table, strings.Join(known, ", "))
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

var (
	ifNameRe = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,15}$`)
	defineRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Validate checks values (not files): methods, sizes, addresses, names.
func (c *Config) Validate(file string, pos positions) error {
	var errs Errors
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: pos.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Profile != "" && !defineRe.MatchString(strings.ReplaceAll(c.Profile, "-", "_")) {
		bad("profile", "%q: use letters, digits, '-' and '_'", c.Profile)
	}
	if len(c.Graph.Files) == 0 {
		bad("graph.files", "missing: name at least one Click configuration file")
	}
	for i, f := range c.Graph.Files {
		if strings.TrimSpace(f) == "" {
			bad(fmt.Sprintf("graph.files[%d]", i), "empty file name")
		}
	}
	if c.Graph.Threads < 0 || c.Graph.Threads > 1024 {
		bad("graph.threads", "%d: want 1..1024", c.Graph.Threads)
	}
	for i, cpu := range c.Graph.CPUs {
		if cpu < 0 || cpu >= 1024 {
			bad(fmt.Sprintf("graph.cpus[%d]", i), "%d: not a CPU number", cpu)
		}
	}
	for k := range c.Graph.Define {
		if !defineRe.MatchString(strings.TrimPrefix(k, "$")) {
			bad("graph.define."+k, "not a variable name")
		}
	}
	for k := range c.Graph.DefineFile {
		if !defineRe.MatchString(strings.TrimPrefix(k, "$")) {
			bad("graph.define_file."+k, "not a variable name")
		}
	}
	seen := map[string]int{}
	defs := map[string]int{}
	for i, in := range c.Interfaces {
		p := fmt.Sprintf("interface[%d]", i)
		switch {
		case in.Name == "":
			bad(p+".name", "missing: every [[interface]] needs a name")
		case !ifNameRe.MatchString(in.Name):
			bad(p+".name", "%q is not an interface name (at most 15 characters)", in.Name)
		default:
			if j, dup := seen[in.Name]; dup {
				bad(p+".name", "%q already configured by [[interface]] #%d", in.Name, j+1)
			}
			seen[in.Name] = i
		}
		if in.Define != "" {
			if !defineRe.MatchString(in.Define) {
				bad(p+".define", "%q is not a variable name", in.Define)
			} else if j, dup := defs[in.Define]; dup {
				bad(p+".define", "%q already used by [[interface]] #%d", in.Define, j+1)
			}
			defs[in.Define] = i
		}
		if _, err := ParseMethod(in.Method); err != nil {
			bad(p+".method", "%v", err)
		}
		if in.Queues < 0 || in.Queues > 256 {
			bad(p+".queues", "%d: want 1..256", in.Queues)
		}
		if in.MTU != 0 && (in.MTU < 68 || in.MTU > 65535) {
			bad(p+".mtu", "%d: want 68..65535", in.MTU)
		}
		if in.MAC != "" {
			if _, err := parseMAC(in.MAC); err != nil {
				bad(p+".mac", "%v", err)
			}
		}
		if in.Gateway != "" {
			if a, err := netip.ParseAddr(in.Gateway); err != nil || !a.Is4() {
				bad(p+".gateway", "%q is not an IPv4 address", in.Gateway)
			} else if !in.KernelAddresses {
				bad(p+".gateway", "needs kernel_addresses = true (the route is the kernel's)")
			}
		}
		for j, a := range in.Addresses {
			if _, err := netip.ParsePrefix(a); err != nil {
				bad(fmt.Sprintf("%s.addresses[%d]", p, j), "%q is not an address with prefix length (e.g. \"10.0.1.1/24\")", a)
			}
		}
	}
	if c.Log.Level != "" {
		if _, err := ParseLevel(c.Log.Level); err != nil {
			bad("log.level", "%v", err)
		}
	}
	if m := c.Control.Metrics; m != "" {
		if _, port, ok := strings.Cut(m, ":"); !ok || port == "" {
			bad("control.metrics", "%q: want HOST:PORT (e.g. \"127.0.0.1:9464\")", m)
		} else if n, err := strconv.Atoi(port[strings.LastIndex(port, ":")+1:]); err != nil || n < 0 || n > 65535 {
			bad("control.metrics", "%q: bad port", m)
		}
	}
	pnames := map[string]bool{}
	for i, pr := range c.Probes {
		p := fmt.Sprintf("probe[%d]", i)
		if pr.Name == "" || !defineRe.MatchString(strings.ReplaceAll(pr.Name, "-", "_")) {
			bad(p+".name", "missing or not a name (letters, digits, '-', '_')")
		} else if pnames[pr.Name] {
			bad(p+".name", "%q used twice", pr.Name)
		}
		pnames[pr.Name] = true
		if pr.Target == "" && pr.Script == "" {
			bad(p+".target", "missing: give a target or a script")
		}
		if pr.Every.Duration != 0 && pr.Every.Duration < time.Second {
			bad(p+".every", "%v: at least 1s", pr.Every.Duration)
		}
	}
	return errs.err()
}

// ParseMethod checks an interface method: XDP, PACKET or AUTO.
func ParseMethod(s string) (string, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "AUTO":
		return "AUTO", nil
	case "PACKET":
		return "PACKET", nil
	case "XDP":
		return "XDP", nil
	}
	return "", fmt.Errorf("unknown method %q: use \"xdp\", \"packet\" or \"auto\"", s)
}

// Level is a log level.
type Level int

// Log levels.
const (
	LevelDebug Level = iota
	LevelInfo
	LevelWarn
	LevelError
)

// ParseLevel reads debug, info, warn or error.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return LevelDebug, nil
	case "", "info":
		return LevelInfo, nil
	case "warn", "warning":
		return LevelWarn, nil
	case "error":
		return LevelError, nil
	}
	return 0, fmt.Errorf("unknown level %q: use debug, info, warn or error", s)
}

func parseMAC(s string) (net.HardwareAddr, error) {
	m, err := net.ParseMAC(s)
	if err != nil || len(m) != 6 {
		return nil, fmt.Errorf("%q is not an Ethernet address (e.g. \"02:00:00:00:00:01\")", s)
	}
	return m, nil
}

// keyPath joins a TOML key's parts ("lkg.promote_after") and returns the
// range of its first part (for its line).
func keyPath(it unstable.Iterator) (string, unstable.Range) {
	var parts []string
	var r unstable.Range
	for it.Next() {
		n := it.Node()
		parts = append(parts, string(n.Data))
		if r.Length == 0 {
			r = n.Raw
		}
	}
	return strings.Join(parts, "."), r
}
