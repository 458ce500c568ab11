package ids

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/flowtable"
	"flowbox/appliance/packet"
)

// PatternMatch scans TCP and UDP payloads for byte patterns with an
// Aho-Corasick automaton; packets that match leave on output 1.
type PatternMatch struct {
	core.Base
	names  []string
	pats   [][]byte
	m      *matcher
	nocase bool
	log    bool

	counts  []uint64 // packets matched per pattern
	seen    []uint32 // serial of the last packet that matched each pattern
	serial  uint32
	matched uint64 // packets with at least one match
	scanned uint64 // packets whose payload was scanned
	bytes   uint64 // payload bytes scanned

	ring   []alert // last alerts, preallocated
	head   uint64  // alerts recorded since start; ring index = head % len
	logged uint64  // alerts already logged
	timer  *core.Timer
}

type alert struct {
	when    int64
	flow    flowtable.Key
	pattern uint16
	more    uint16 // further patterns matched by the same packet
}

const (
	defaultAlertRing = 128
	logEvery         = int64(time.Second)
	logBurst         = 5 // alerts logged per second at most
)

func init() {
	core.Register(core.Class{
		Name: "PatternMatch", Ports: "1/1-2", Processing: "a/ah",
		New: func() core.Element { return new(PatternMatch) },
		Doc: core.Doc{
			Synopsis: "PatternMatch(PATTERN1, ..., PATTERNn [, KEYWORDS])",
			Summary:  "matches byte patterns in TCP/UDP payloads (Aho-Corasick)",
			Description: `Scans the payload of every TCP and UDP packet (first fragments; the
bytes after the TCP header with its options, or after the UDP header)
for all PATTERNs at once with an Aho-Corasick automaton compiled to a
full DFA: one table lookup per payload byte, whatever the number of
patterns, and no allocation.

Each PATTERN argument is 'PATTERN [NAME] STRING' or just '[NAME] STRING',
where STRING is a Click string: "double quoted" with C escapes,
'single quoted', or \<hex bytes> (pieces concatenate:
"GET "\<2f 2e 2e>). NAME (a word) names the pattern in the handlers and
alerts; it defaults to p1, p2, .... Empty patterns are refused; the
automaton is limited to 65536 states (about that many pattern bytes).

A packet in which one or more patterns occur is an alert: each pattern
found counts once for the packet, the alert (time, 5-tuple, first
pattern, number of other patterns) goes into a ring of the last ALERTS
alerts, and the packet leaves on output 1 if it exists (e.g. to a
Discard, for an inline IPS) and stays on output 0 otherwise (an
alert-only IDS). Other packets, non-TCP/UDP packets, later fragments
and packets with a truncated transport header pass on output 0
unscanned. With LOG true the element logs new alerts once a second
(at most 5 lines a second, then a count of the rest) to the router's
log. Matching is per packet: a pattern split across two segments is
not found (no stream reassembly). The IP header is taken at the
network annotation, or at the start of the data.`,
			Ports: "Input 0: IPv4 packets.\n" +
				"Output 0: packets without a match (all packets when output 1 is absent).\n" +
				"Output 1 (optional): packets with a match.",
			Args: []core.Item{
				{Name: "PATTERN", Text: "[NAME] STRING: a pattern (repeatable; the keyword is optional)"},
				{Name: "NOCASE", Text: "boolean: ASCII letters match either case (false)"},
				{Name: "LOG", Text: "boolean: log alerts to the router log, rate-limited (false)"},
				{Name: "ALERTS", Text: "integer: how many recent alerts the alerts handler keeps (128)"},
			},
			Handlers: []core.Item{
				{Name: "count", Text: "packets that matched (alerts)"},
				{Name: "scanned", Text: "packets whose payload was scanned"},
				{Name: "bytes", Text: "payload bytes scanned"},
				{Name: "patterns", Text: "one line per pattern: NAME COUNT STRING"},
				{Name: "pattern_count", Text: "read with NAME: that pattern's count"},
				{Name: "alerts", Text: "the recent alerts, oldest first"},
				{Name: "states", Text: "automaton states"},
				{Name: "reset", Text: "zero the counters and forget the alerts (w)"},
			},
			Example: `ids :: PatternMatch(PATTERN shellcode \<90 90 90 90 90 90 90 90>,
                   PATTERN traversal "/../..", PATTERN eicar "EICAR-STANDARD-ANTIVIRUS-TEST-FILE",
                   LOG true);
... -> ids -> ToDevice(eth1);
ids[1] -> alerts :: Counter -> Discard;   // drop what matches`,
		},
	})
}

// Configure parses the patterns and keywords.
func (pm *PatternMatch) Configure(a *core.Args) error {
	nAlerts := defaultAlertRing
	var errs []string
	for _, arg := range a.Raw() {
		kw, val := splitKeyword(arg)
		var err error
		switch kw {
		case "NOCASE":
			pm.nocase, err = core.ParseBool(val)
		case "LOG":
			pm.log, err = core.ParseBool(val)
		case "ALERTS":
			nAlerts, err = strconv.Atoi(val)
			if err == nil && (nAlerts < 1 || nAlerts > 1<<20) {
				err = errors.New("must be between 1 and 1048576")
			}
		case "PATTERN":
			err = pm.addPattern(val)
		default:
			err = pm.addPattern(arg)
		}
		if err != nil {
			if kw == "" {
				kw = "PATTERN"
			}
			errs = append(errs, fmt.Sprintf("%s: %v", kw, err))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	if len(pm.pats) == 0 {
		return errors.New("PATTERN: at least one pattern is required")
	}
	if len(pm.pats) > 1<<16 {
		return errors.New("PATTERN: too many patterns")
	}
	m, err := compile(pm.pats, pm.nocase)
	if err != nil {
		return fmt.Errorf("PATTERN: %v", err)
	}
	pm.m = m
	pm.counts = make([]uint64, len(pm.pats))
	pm.seen = make([]uint32, len(pm.pats))
	pm.serial = 0
	pm.ring = make([]alert, nAlerts)
	return nil
}

// splitKeyword returns ("KEYWORD", value) for "KEYWORD value" arguments
// with one of PatternMatch's keywords, and ("", "") otherwise.
func splitKeyword(arg string) (string, string) {
	w, rest, ok := strings.Cut(strings.TrimSpace(arg), " ")
	if !ok {
		w, rest, ok = strings.Cut(strings.TrimSpace(arg), "\t")
	}
	if !ok {
		return "", ""
	}
	switch w {
	case "NOCASE", "LOG", "ALERTS", "PATTERN":
		return w, strings.TrimSpace(rest)
	}
	return "", ""
}

func (pm *PatternMatch) addPattern(v string) error {
	v = strings.TrimSpace(v)
	name := ""
	if v != "" && v[0] != '"' && v[0] != '\'' && v[0] != '\\' {
		w, rest, ok := strings.Cut(v, " ")
		if !ok {
			return fmt.Errorf("expected [NAME] STRING, got %q (quote the string)", v)
		}
		name, v = w, strings.TrimSpace(rest)
		if strings.ContainsAny(name, "\"'\\") {
			return fmt.Errorf("bad pattern name %q", name)
		}
	}
	s, err := core.Unquote(v)
	if err != nil {
		return err
	}
	if s == "" {
		return errors.New("empty pattern")
	}
	if name == "" {
		name = "p" + strconv.Itoa(len(pm.pats)+1)
	}
	for _, n := range pm.names {
		if n == name {
			return fmt.Errorf("pattern name %q used twice", name)
		}
	}
	pm.names = append(pm.names, name)
	pm.pats = append(pm.pats, []byte(s))
	return nil
}

// Initialize arms the alert logger.
func (pm *PatternMatch) Initialize(rt core.Router) error {
	if pm.log {
		pm.timer = core.NewTimer(pm.logAlerts)
		rt.AddTimer(pm, pm.timer)
		pm.timer.ScheduleAt(1)
	}
	return nil
}

// Process scans each packet; matches move to output 1 when it exists.
func (pm *PatternMatch) Process(ctx *core.Ctx, b *packet.Batch) {
	divert := pm.NOutputs() > 1
	n := 0
	for i := 0; i < b.N; i++ {
		p := b.P[i]
		if pm.scan(ctx, p) && divert {
			pm.Emit(ctx, 1, p)
			continue
		}
		b.P[n] = p
		n++
	}
	clear(b.P[n:b.N])
	b.N = n
}

// scan reports whether p's payload holds a pattern, counting it.
func (pm *PatternMatch) scan(ctx *core.Ctx, p *packet.Packet) bool {
	ip := ipHeader(p)
	if ip == nil {
		return false
	}
	data, ok := payload(ip)
	if !ok {
		return false
	}
	pm.scanned++
	pm.bytes += uint64(len(data))
	pm.serial++
	if pm.serial == 0 { // wrapped: forget the old serials
		clear(pm.seen)
		pm.serial = 1
	}
	m := pm.m
	delta, outStart, outs := m.delta, m.outStart, m.outs
	s := int32(0)
	found, first := 0, uint16(0)
	for _, c := range data {
		s = delta[int(s)<<8|int(c)]
		if lo, hi := outStart[s], outStart[s+1]; lo != hi {
			for _, pi := range outs[lo:hi] {
				if pm.seen[pi] != pm.serial {
					pm.seen[pi] = pm.serial
					pm.counts[pi]++
					if found == 0 {
						first = pi
					}
					found++
				}
			}
		}
	}
	if found == 0 {
		return false
	}
	pm.matched++
	flow, _ := flowOf(ip)
	a := &pm.ring[pm.head%uint64(len(pm.ring))]
	*a = alert{when: ctx.Now, flow: flow, pattern: first, more: uint16(min(found-1, 0xffff))}
	pm.head++
	return true
}

func (pm *PatternMatch) describe(a *alert) string {
	s := fmt.Sprintf("alert %s %s", pm.names[a.pattern], tuple(a.flow.Tuple()))
	if a.more > 0 {
		s += fmt.Sprintf(" (+%d patterns)", a.more)
	}
	return s
}

func (pm *PatternMatch) logAlerts(ctx *core.Ctx) {
	pm.timer.ScheduleAt(ctx.Now + logEvery)
	if pm.logged == pm.head {
		return
	}
	n := uint64(len(pm.ring))
	from := pm.logged
	if pm.head-from > n {
		from = pm.head - n
	}
	shown := uint64(0)
	for i := from; i < pm.head && shown < logBurst; i, shown = i+1, shown+1 {
		pm.Router().Logf(pm, "%s", pm.describe(&pm.ring[i%n]))
	}
	if rest := pm.head - pm.logged - shown; rest > 0 {
		pm.Router().Logf(pm, "%d more alerts not shown (read %s.alerts)", rest, pm.Name())
	}
	pm.logged = pm.head
}

// Handlers lists the counters, patterns and alerts.
func (pm *PatternMatch) Handlers() []core.Handler {
	return []core.Handler{
		core.ReadUint("count", &pm.matched),
		core.ReadUint("scanned", &pm.scanned),
		core.ReadUint("bytes", &pm.bytes),
		core.ReadOnly("patterns", pm.readPatterns),
		{Name: "pattern_count", Read: pm.readPatternCount},
		core.ReadOnly("alerts", pm.readAlerts),
		core.ReadOnly("states", func() string { return strconv.Itoa(pm.m.states()) }),
		core.Action("reset", func() {
			clear(pm.counts)
			pm.matched, pm.scanned, pm.bytes, pm.head, pm.logged = 0, 0, 0, 0, 0
		}),
	}
}

func (pm *PatternMatch) readPatterns() string {
	var b strings.Builder
	for i, n := range pm.names {
		fmt.Fprintf(&b, "%s %d %s\n", n, pm.counts[i], strconv.Quote(string(pm.pats[i])))
	}
	return b.String()
}

func (pm *PatternMatch) readPatternCount(arg string) (string, error) {
	arg = strings.TrimSpace(arg)
	for i, n := range pm.names {
		if n == arg {
			return strconv.FormatUint(pm.counts[i], 10), nil
		}
	}
	return "", fmt.Errorf("no pattern named %q", arg)
}

func (pm *PatternMatch) readAlerts() string {
	var b strings.Builder
	n := uint64(len(pm.ring))
	from := uint64(0)
	if pm.head > n {
		from = pm.head - n
	}
	for i := from; i < pm.head; i++ {
		a := &pm.ring[i%n]
		fmt.Fprintf(&b, "%s %s\n", time.Unix(0, a.when).UTC().Format("2006-01-02T15:04:05.000Z"), pm.describe(a))
	}
	return b.String()
}

// TakeState keeps the counters of patterns whose name and bytes did not
// change, and the totals.
func (pm *PatternMatch) TakeState(old core.Element) {
	o, ok := old.(*PatternMatch)
	if !ok {
		return
	}
	pm.matched, pm.scanned, pm.bytes = o.matched, o.scanned, o.bytes
	for i, n := range pm.names {
		for j, on := range o.names {
			if n == on && string(pm.pats[i]) == string(o.pats[j]) {
				pm.counts[i] = o.counts[j]
			}
		}
	}
}
