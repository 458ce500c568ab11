package control

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/lang"
	"flowbox/appliance/runtime"
	"flowbox/lua"
)

// Error is a command failure with its reply code.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// usageErr is a 500 error quoting the command's usage.
func usageErr(c *Command) error {
	return &Error{Code: CodeSyntax, Msg: "usage: " + c.Usage()}
}

// ArgKind says how to complete a command argument.
type ArgKind int

const (
	ArgNone    ArgKind = iota
	ArgHandler         // ELEM.HANDLER
	ArgElement         // ELEM (or ELEM[PORT])
	ArgClass           // element class
	ArgFile            // a file path (completed by the client)
	ArgCommand         // a command name (help)
)

// Command is one shell command served over the control socket. Name may
// have several words ("show elements"); the first words of a longer name
// are a group ("show") that completion and help know about.
type Command struct {
	Name    string
	Args    string // usage after the name, e.g. "ELEM.HANDLER [ARGS]"
	Summary string
	Help    string    // optional longer text for `help NAME`
	Kinds   []ArgKind // completion kind of each argument (the last repeats)
	Run     func(c *Call) (string, error)
}

// Usage is "name args".
func (c *Command) Usage() string { return strings.TrimSpace(c.Name + " " + c.Args) }

var (
	regMu    sync.RWMutex
	registry = map[string]*Command{}
)

// Register adds a command (or replaces one of the same name). Packages
// add theirs in init(); the shell sees them at once (help, completion).
func Register(c Command) {
	regMu.Lock()
	defer regMu.Unlock()
	cc := c
	registry[c.Name] = &cc
}

// Commands lists the registered commands sorted by name.
func Commands() []*Command {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]*Command, 0, len(registry))
	for _, c := range registry {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// lookup finds the command with the longest name matching the first
// words; it returns the command and how many words its name took.
func lookup(words []string) (*Command, int) {
	regMu.RLock()
	defer regMu.RUnlock()
	for n := min(len(words), 3); n >= 1; n-- {
		if c, ok := registry[strings.Join(words[:n], " ")]; ok {
			return c, n
		}
	}
	return nil, 0
}

// group lists the subcommands of a group word ("show" -> elements, ...).
func group(word string) []string {
	var out []string
	for _, c := range Commands() {
		if rest, ok := strings.CutPrefix(c.Name, word+" "); ok {
			out = append(out, strings.Fields(rest)[0])
		}
	}
	return out
}

// Session is one connection's state.
type Session struct {
	srv *Server
	// Dir resolves relative file names (the shell sends its working
	// directory with `cd` when it connects).
	Dir string
	top *topState
	lua *lua.ControlState
}

func (s *Session) close() {
	if s.top != nil {
		s.srv.taps.countersOff()
		s.top = nil
	}
	if s.lua != nil {
		s.lua.Close()
	}
}

// Path resolves a file name against the session's directory.
func (s *Session) Path(f string) string {
	if f == "" || filepath.IsAbs(f) {
		return f
	}
	return filepath.Join(s.Dir, f)
}

// Call is one command invocation.
type Call struct {
	Srv  *Server
	Sess *Session
	Cmd  *Command
	Args []string // words after the command name (quotes removed)
	line string
	offs []int // start of each Arg in line
}

// Rest is the raw text of the line from argument i on (a single quoted
// word is unquoted), for values that contain spaces.
func (c *Call) Rest(i int) string {
	if i >= len(c.Args) {
		return ""
	}
	raw := strings.TrimSpace(c.line[c.offs[i]:])
	if i == len(c.Args)-1 {
		return c.Args[i]
	}
	return raw
}

// Router is the current router.
func (c *Call) Router() *runtime.Router { return c.Srv.Router() }

// splitWords splits a command line into words, honouring '...' and "..."
// quotes, and returns each word's start offset.
func splitWords(line string) ([]string, []int, error) {
	var words []string
	var offs []int
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			return words, offs, nil
		}
		start := i
		var b strings.Builder
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			if q := line[i]; q == '\'' || q == '"' {
				j := strings.IndexByte(line[i+1:], q)
				if j < 0 {
					return nil, nil, &Error{Code: CodeSyntax, Msg: "unterminated quote"}
				}
				b.WriteString(line[i+1 : i+1+j])
				i += j + 2
				continue
			}
			b.WriteByte(line[i])
			i++
		}
		words = append(words, b.String())
		offs = append(offs, start)
	}
}

// Exec runs one shell command line and returns its output.
func (s *Server) Exec(sess *Session, line string) (string, error) {
	words, offs, err := splitWords(line)
	if err != nil {
		return "", err
	}
	if len(words) == 0 {
		return "", nil
	}
	cmd, n := lookup(words)
	if cmd == nil {
		if sub := group(words[0]); len(sub) > 0 {
			if len(words) == 1 {
				return "", &Error{Code: CodeSyntax, Msg: fmt.Sprintf("%s what? (%s)", words[0], strings.Join(sub, ", "))}
			}
			return "", &Error{Code: CodeSyntax, Msg: fmt.Sprintf("unknown command '%s %s' (try: %s)", words[0], words[1], strings.Join(sub, ", "))}
		}
		return "", &Error{Code: CodeSyntax, Msg: fmt.Sprintf("unknown command '%s' (type 'help' for the list)", words[0])}
	}
	call := &Call{Srv: s, Sess: sess, Cmd: cmd, Args: words[n:], line: line, offs: offs[n:]}
	return safeRun(call)
}

func safeRun(c *Call) (out string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &Error{Code: CodeUnspecified, Msg: fmt.Sprintf("internal error in '%s': %v", c.Cmd.Name, p)}
		}
	}()
	return c.Cmd.Run(c)
}

// Complete returns the completion kind ("words" or "files") and the
// candidates for the last (possibly empty) word of line.
func (s *Server) Complete(sess *Session, line string) (string, []string) {
	words := strings.Fields(line)
	if line == "" || strings.HasSuffix(line, " ") || strings.HasSuffix(line, "\t") {
		words = append(words, "")
	}
	prefix := words[len(words)-1]
	done := words[:len(words)-1]
	var cands []string
	kind := "words"
	if len(done) == 0 {
		seen := map[string]bool{}
		for _, c := range Commands() {
			w := strings.Fields(c.Name)[0]
			if !seen[w] {
				seen[w] = true
				cands = append(cands, w)
			}
		}
	} else if cmd, n := lookup(done); cmd != nil {
		argi := len(done) - n
		k := ArgNone
		if len(cmd.Kinds) > 0 {
			k = cmd.Kinds[min(argi, len(cmd.Kinds)-1)]
		}
		switch k {
		case ArgHandler:
			cands = s.handlerCandidates(prefix)
		case ArgElement:
			cands = s.Router().Names()
		case ArgClass:
			cands = core.ClassNames()
		case ArgFile:
			kind = "files"
		case ArgCommand:
			for _, c := range Commands() {
				cands = append(cands, c.Name)
			}
			cands = firstWords(cands, done[n:])
		}
	} else {
		var names []string
		for _, c := range Commands() {
			names = append(names, c.Name)
		}
		cands = firstWords(names, done)
	}
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return kind, dedupe(out)
}

// firstWords returns the next word of each name that starts with done.
func firstWords(names []string, done []string) []string {
	var out []string
	pre := strings.Join(done, " ")
	for _, n := range names {
		if pre != "" {
			var ok bool
			if n, ok = strings.CutPrefix(n, pre+" "); !ok {
				continue
			}
		}
		out = append(out, strings.Fields(n)[0])
	}
	return out
}

// handlerCandidates completes "elem" to "elem." first (so Tab walks from
// element to handler), then offers the element's handlers.
func (s *Server) handlerCandidates(prefix string) []string {
	r := s.Router()
	if !strings.Contains(prefix, ".") {
		var out []string
		for _, n := range r.Names() {
			out = append(out, n+".")
		}
		for _, h := range r.AllHandlerNames() {
			if !strings.Contains(h, ".") {
				out = append(out, h) // global handlers
			}
		}
		return out
	}
	return r.AllHandlerNames()
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// ParseConfig parses configuration text as `flowbox run` does (defines
// override define($VAR ...); require(library F) resolves next to file).
func ParseConfig(file string, src []byte, defines map[string]string) (*lang.Graph, error) {
	dir := filepath.Dir(file)
	return lang.Parse(file, src, lang.Options{
		Defines: defines,
		IsClass: func(n string) bool { return core.Lookup(n) != nil },
		ReadFile: func(f string) ([]byte, error) {
			if !filepath.IsAbs(f) {
				f = filepath.Join(dir, f)
			}
			return os.ReadFile(f)
		},
	})
}

// oneLine renders an error as one line: a configuration error list shows
// its first error (file:line:col: message) and how many more there are.
func oneLine(err error) string {
	if l, ok := err.(lang.ErrorList); ok && len(l) > 0 {
		msg := l[0].Pos.String() + ": " + l[0].Msg
		if len(l) > 1 {
			msg += fmt.Sprintf(" (and %d more; 'flowbox check FILE' lists them)", len(l)-1)
		}
		return msg
	}
	if e, ok := err.(*lang.Error); ok {
		return e.Pos.String() + ": " + e.Msg
	}
	return joinLines(err.Error())
}

// joinLines makes one line of a multi-line error: the indented source
// lines and carets under FILE:LINE:COL messages are dropped, and the
// messages are joined with "; " (with " " after a line ending in ':').
func joinLines(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" || (b.Len() > 0 && (l[0] == ' ' || l[0] == '\t')) {
			continue
		}
		if b.Len() > 0 {
			if strings.HasSuffix(b.String(), ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(strings.TrimSpace(l))
	}
	return b.String()
}

func withNL(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

func init() {
	for _, c := range []Command{
		{Name: "help", Args: "[COMMAND]", Summary: "list commands, or describe one", Kinds: []ArgKind{ArgCommand}, Run: helpCmd},
		{Name: "quit", Summary: "leave the shell (the appliance keeps running)", Run: func(*Call) (string, error) { return "", nil }},
		{Name: "cd", Args: "DIR", Summary: "set the directory relative file names resolve against", Kinds: []ArgKind{ArgFile}, Run: cdCmd},
		{Name: "read", Args: "ELEM.HANDLER [ARGS]", Summary: "call a read handler and print its value", Kinds: []ArgKind{ArgHandler, ArgNone}, Run: readCmd},
		{Name: "write", Args: "ELEM.HANDLER [VALUE]", Summary: "call a write handler", Kinds: []ArgKind{ArgHandler, ArgNone}, Run: writeCmd},
		{Name: "doc", Args: "CLASS", Summary: "print an element class's documentation", Kinds: []ArgKind{ArgClass}, Run: docCmd},
		{Name: "show elements", Summary: "elements with class, thread, ports and packet counts", Run: showElements},
		{Name: "show classes", Summary: "element classes with their summaries", Run: showClasses},
		{Name: "show graph", Args: "[--dot [FILE]]", Summary: "connections with packet counts; --dot writes Graphviz with live rates", Kinds: []ArgKind{ArgNone, ArgFile},
			Help: "show graph lists every connection with the packets it carried.\nshow graph --dot samples rates for 0.5 s and prints (or writes FILE) a Graphviz\ndigraph with packets/s on each edge; render it with 'dot -Tsvg'.", Run: showGraph},
		{Name: "show threads", Summary: "worker threads with their elements and tasks", Run: showThreads},
		{Name: "show ports", Summary: "every port: kind, peers and packets", Run: showPorts},
		{Name: "show errors", Summary: "drop and error counters that are not zero", Run: showErrors},
		{Name: "show trace", Summary: "the packets traced by 'trace add'", Run: func(c *Call) (string, error) { return c.Router().TraceShow(), nil }},
		{Name: "show pcap", Summary: "pcap captures and their progress", Run: showPcap},
		{Name: "show config", Summary: "the running configuration (flattened)", Run: func(c *Call) (string, error) { return c.Router().Read("flatconfig", "") }},
		{Name: "trace add", Args: "N [FILTER]", Summary: "trace the next N packets (matching an IPFilter expression) through the graph",
			Help: "trace add N [FILTER] follows the next N packets leaving a source (or, with\nFILTER, the next N that match it, e.g. 'tcp dst port 80' or 'src host\n10.0.0.1') through every element, recording the output port and the\nannotations at each hop. 'show trace' prints the paths; 'trace clear' stops.", Run: traceAdd},
		{Name: "trace clear", Summary: "stop tracing and forget the trace", Run: traceClear},
		{Name: "clear trace", Summary: "same as 'trace clear'", Run: traceClear},
		{Name: "pcap", Args: "ELEM[PORT] FILE [N]", Summary: "capture the next N packets (default 1000) leaving ELEM's output PORT to a pcap file", Kinds: []ArgKind{ArgElement, ArgFile, ArgNone},
			Help: "pcap ELEM[PORT] FILE [N] taps output PORT (default 0) of ELEM and writes the\nnext N packets (default 1000) to FILE in pcap format, in the background.\n'show pcap' shows progress; 'pcap stop [ELEM[PORT]]' ends captures early.", Run: pcapCmd},
		{Name: "pcap stop", Args: "[ELEM[PORT]]", Summary: "stop pcap captures (all, or one)", Kinds: []ArgKind{ArgElement}, Run: pcapStop},
		{Name: "config load", Args: "[FILE]", Summary: "hot-reload a configuration (default: the running file) without losing packets", Kinds: []ArgKind{ArgFile}, Run: configLoad},
		{Name: "config diff", Args: "FILE", Summary: "what 'config load FILE' would change", Kinds: []ArgKind{ArgFile}, Run: configDiff},
		{Name: "clear counters", Summary: "zero port counters, drops and element counters", Run: func(c *Call) (string, error) { c.Router().ClearCounters(); return "", nil }},
		{Name: "top", Args: "[stop]", Summary: "per-element packet/bit rates and drops (the shell refreshes until a key is pressed)", Run: topCmd},
		{Name: "lua", Args: "EXPR", Summary: "evaluate Lua with read(h [,arg]) and write(h, v) bound to the handlers", Run: luaCmd},
	} {
		Register(c)
	}
}

func helpCmd(c *Call) (string, error) {
	var b strings.Builder
	if len(c.Args) > 0 {
		name := strings.Join(c.Args, " ")
		cmd, n := lookup(c.Args)
		if cmd == nil || n != len(c.Args) {
			if sub := group(name); len(sub) > 0 {
				for _, x := range Commands() {
					if strings.HasPrefix(x.Name, name+" ") {
						fmt.Fprintf(&b, "  %-28s %s\n", x.Usage(), x.Summary)
					}
				}
				return b.String(), nil
			}
			return "", &Error{Code: CodeSyntax, Msg: fmt.Sprintf("no command '%s' (type 'help' for the list)", name)}
		}
		fmt.Fprintf(&b, "usage: %s\n\n%s\n", cmd.Usage(), cmd.Summary)
		if cmd.Help != "" {
			fmt.Fprintf(&b, "\n%s\n", cmd.Help)
		}
		return b.String(), nil
	}
	b.WriteString("commands:\n")
	for _, x := range Commands() {
		fmt.Fprintf(&b, "  %-28s %s\n", x.Usage(), x.Summary)
	}
	b.WriteString("\nTab completes commands, element and handler names, classes and files.\n'help COMMAND' describes one command.\n")
	return b.String(), nil
}

func cdCmd(c *Call) (string, error) {
	if len(c.Args) != 1 {
		return "", usageErr(c.Cmd)
	}
	d := c.Sess.Path(c.Args[0])
	if fi, err := os.Stat(d); err != nil {
		msg := "cannot open"
		if os.IsNotExist(err) {
			msg = "no such directory"
		}
		return "", &Error{Code: CodeUnspecified, Msg: fmt.Sprintf("cd: %s: %s", c.Args[0], msg)}
	} else if !fi.IsDir() {
		return "", &Error{Code: CodeUnspecified, Msg: fmt.Sprintf("cd: %s: not a directory", c.Args[0])}
	}
	c.Sess.Dir = d
	return "", nil
}

func readCmd(c *Call) (string, error) {
	if len(c.Args) < 1 {
		return "", usageErr(c.Cmd)
	}
	return c.Router().Read(c.Args[0], c.Rest(1))
}

func writeCmd(c *Call) (string, error) {
	if len(c.Args) < 1 {
		return "", usageErr(c.Cmd)
	}
	return "", c.Router().Write(c.Args[0], c.Rest(1))
}

func docCmd(c *Call) (string, error) {
	if len(c.Args) != 1 {
		return "", usageErr(c.Cmd)
	}
	cls := core.Lookup(c.Args[0])
	if cls == nil {
		return "", &Error{Code: CodeUnspecified, Msg: fmt.Sprintf("no element class '%s' (see 'show classes')", c.Args[0])}
	}
	return fmt.Sprintf("%s\n\n%sPORT COUNT\n    %s\n\nPROCESSING\n    %s\n", cls.Name, cls.Doc.String(), cls.Ports, cls.Processing), nil
}

func noArgs(c *Call) error {
	if len(c.Args) != 0 {
		return usageErr(c.Cmd)
	}
	return nil
}

func showElements(c *Call) (string, error) {
	if err := noArgs(c); err != nil {
		return "", err
	}
	r := c.Router()
	var b strings.Builder
	fmt.Fprintf(&b, "%-4s %-20s %-16s %6s %5s %12s %10s\n", "#", "NAME", "CLASS", "THREAD", "PORTS", "PACKETS", "DROPS")
	for i, st := range r.Stats() {
		n := r.Nodes[i]
		var pk uint64
		for _, v := range st.Outputs {
			pk += v
		}
		ports := fmt.Sprintf("%d/%d", n.Elem.Core().NInputs(), n.Elem.Core().NOutputs())
		fmt.Fprintf(&b, "%-4d %-20s %-16s %6d %5s %12d %10d\n", i+1, st.Name, st.Class, st.Thread, ports, pk, st.Drops)
	}
	return b.String(), nil
}

func showClasses(c *Call) (string, error) {
	if err := noArgs(c); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, n := range core.ClassNames() {
		fmt.Fprintf(&b, "%-20s %s\n", n, core.Lookup(n).Doc.Summary)
	}
	return b.String(), nil
}

func showThreads(c *Call) (string, error) {
	if err := noArgs(c); err != nil {
		return "", err
	}
	r := c.Router()
	threads := c.Srv.opt.Threads
	byThread := map[int][]string{}
	for _, n := range r.Nodes {
		b := n.Elem.Core()
		t := b.Thread()
		threads = max(threads, t+1)
		name := n.Decl.Name
		if b.IsTask() {
			name += "*"
		}
		byThread[t] = append(byThread[t], name)
	}
	var b strings.Builder
	for t := 0; t < max(threads, 1); t++ {
		fmt.Fprintf(&b, "thread %d: %d elements: %s\n", t, len(byThread[t]), strings.Join(byThread[t], " "))
	}
	b.WriteString("(* = task: scheduled by the thread's loop)\n")
	return b.String(), nil
}

func showPorts(c *Call) (string, error) {
	if err := noArgs(c); err != nil {
		return "", err
	}
	r := c.Router()
	stats := r.Stats()
	var b strings.Builder
	fmt.Fprintf(&b, "%-24s %-8s %-30s %12s\n", "PORT", "KIND", "PEER", "PACKETS")
	for i, n := range r.Nodes {
		base := n.Elem.Core()
		for p := 0; p < base.NInputs(); p++ {
			var peers []string
			for _, cn := range r.Conns {
				if cn.To == i && cn.ToPort == p {
					peers = append(peers, fmt.Sprintf("%s [%d]", r.Nodes[cn.From].Decl.Name, cn.FromPort))
				}
			}
			fmt.Fprintf(&b, "%-24s %-8s %-30s %12s\n", fmt.Sprintf("[%d] %s", p, n.Decl.Name), base.Input(p).Kind, strings.Join(peers, ", "), "-")
		}
		for p := 0; p < base.NOutputs(); p++ {
			var peers []string
			for _, cn := range r.Conns {
				if cn.From == i && cn.FromPort == p {
					peers = append(peers, fmt.Sprintf("[%d] %s", cn.ToPort, r.Nodes[cn.To].Decl.Name))
				}
			}
			count := "-"
			if base.Output(p).Kind == core.Push {
				count = strconv.FormatUint(stats[i].Outputs[p], 10)
			}
			fmt.Fprintf(&b, "%-24s %-8s %-30s %12s\n", fmt.Sprintf("%s [%d]", n.Decl.Name, p), base.Output(p).Kind, strings.Join(peers, ", "), count)
		}
	}
	return b.String(), nil
}

// errorHandler reports whether a handler name counts drops or errors.
func errorHandler(name string) bool {
	for _, w := range []string{"drop", "error", "fail", "bad", "invalid", "malformed"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

func showErrors(c *Call) (string, error) {
	if err := noArgs(c); err != nil {
		return "", err
	}
	r := c.Router()
	var b strings.Builder
	for i, st := range r.Stats() {
		if st.Drops != 0 {
			fmt.Fprintf(&b, "%12d  %s  dropped\n", st.Drops, st.Name)
		}
		for _, h := range r.Handlers(r.Nodes[i]) {
			if h.Read == nil || !errorHandler(h.Name) {
				continue
			}
			v, err := r.Read(st.Name+"."+h.Name, "")
			v = strings.TrimSpace(v)
			if err != nil || v == "" || v == "0" || strings.Contains(v, "\n") {
				continue
			}
			fmt.Fprintf(&b, "%12s  %s.%s\n", v, st.Name, h.Name)
		}
	}
	if b.Len() == 0 {
		return "no drops or errors\n", nil
	}
	return b.String(), nil
}

func traceAdd(c *Call) (string, error) {
	if len(c.Args) < 1 {
		return "", usageErr(c.Cmd)
	}
	n, err := strconv.Atoi(c.Args[0])
	if err != nil || n < 1 {
		return "", &Error{Code: CodeSyntax, Msg: fmt.Sprintf("trace add: N must be a positive number, not '%s'", c.Args[0])}
	}
	filter, err := CompileFilter(c.Rest(1))
	if err != nil {
		return "", err
	}
	// Install the tracer on every port first (want 0), then ask for n
	// packets: TraceAdd sets the count before it walks the elements, so a
	// packet could otherwise start its trace before the ports downstream
	// are tapped and miss hops.
	c.Router().TraceAdd(0, filter)
	c.Router().TraceAdd(n, filter)
	c.Srv.taps.reapply() // keep pcap/top taps, now wrapping the tracer
	msg := fmt.Sprintf("tracing the next %d packet(s)", n)
	if f := c.Rest(1); f != "" {
		msg += " matching '" + f + "'"
	}
	return msg + "; 'show trace' prints them\n", nil
}

func traceClear(c *Call) (string, error) {
	if err := noArgs(c); err != nil {
		return "", err
	}
	c.Router().TraceClear()
	c.Srv.taps.reapply()
	return "", nil
}

func configLoad(c *Call) (string, error) {
	if len(c.Args) > 1 {
		return "", usageErr(c.Cmd)
	}
	file := ""
	if len(c.Args) == 1 {
		file = c.Sess.Path(c.Args[0])
	}
	start := time.Now()
	rep, err := c.Srv.Reload(file)
	if err != nil {
		if _, ok := err.(*Error); ok {
			return "", err
		}
		return "", &Error{Code: CodeUnspecified, Msg: "config load failed, running configuration unchanged: " + oneLine(err)}
	}
	msg := fmt.Sprintf("swapped in %s: %d kept, %d added, %d removed", time.Since(start).Round(time.Microsecond), len(rep.Kept), len(rep.Added), len(rep.Removed))
	if rep.Lost > 0 {
		msg += fmt.Sprintf("; %d packet(s) held by removed elements were freed", rep.Lost)
	}
	return msg + "\n", nil
}

func configDiff(c *Call) (string, error) {
	if len(c.Args) != 1 {
		return "", usageErr(c.Cmd)
	}
	g, err := c.Srv.load(c.Sess.Path(c.Args[0]))
	if err != nil {
		return "", &Error{Code: CodeUnspecified, Msg: "config diff: " + oneLine(err)}
	}
	return DiffGraphs(c.Router().Graph, g), nil
}

// DiffGraphs describes what replacing old by next changes: elements added
// (+), removed (-), reconfigured (~, state kept when the class allows) and
// connections added or removed.
func DiffGraphs(old, next *lang.Graph) string {
	var b strings.Builder
	oldBy := map[string]*lang.Element{}
	for _, e := range old.Elements {
		oldBy[e.Name] = e
	}
	newBy := map[string]*lang.Element{}
	for _, e := range next.Elements {
		newBy[e.Name] = e
	}
	desc := func(e *lang.Element) string {
		if e.Config == "" {
			return e.Name + " :: " + e.Class
		}
		return fmt.Sprintf("%s :: %s(%s)", e.Name, e.Class, e.Config)
	}
	for _, e := range old.Elements {
		if n := newBy[e.Name]; n == nil || n.Class != e.Class {
			fmt.Fprintf(&b, "- %s\n", desc(e))
		}
	}
	for _, e := range next.Elements {
		o := oldBy[e.Name]
		switch {
		case o == nil || o.Class != e.Class:
			fmt.Fprintf(&b, "+ %s\n", desc(e))
		case o.Config != e.Config:
			fmt.Fprintf(&b, "~ %s: (%s) -> (%s)\n", e.Name, o.Config, e.Config)
		}
	}
	conn := func(g *lang.Graph, c lang.Connection) string {
		return fmt.Sprintf("%s [%d] -> [%d] %s", g.Elements[c.From].Name, c.FromPort, c.ToPort, g.Elements[c.To].Name)
	}
	oc, nc := map[string]bool{}, map[string]bool{}
	for _, c := range old.Connections {
		oc[conn(old, c)] = true
	}
	for _, c := range next.Connections {
		nc[conn(next, c)] = true
	}
	for _, c := range old.Connections {
		if s := conn(old, c); !nc[s] {
			fmt.Fprintf(&b, "- %s\n", s)
			nc[s] = true // print once
		}
	}
	for _, c := range next.Connections {
		if s := conn(next, c); !oc[s] {
			fmt.Fprintf(&b, "+ %s\n", s)
			oc[s] = true
		}
	}
	if b.Len() == 0 {
		return "no changes\n"
	}
	return b.String()
}

func luaCmd(c *Call) (string, error) {
	if len(c.Args) == 0 {
		return "", usageErr(c.Cmd)
	}
	if c.Sess.lua == nil {
		srv := c.Srv
		read := func(h string) (string, error) {
			spec, arg, _ := strings.Cut(h, " ")
			return srv.Router().Read(spec, arg)
		}
		write := func(h, v string) error { return srv.Router().Write(h, v) }
		c.Sess.lua = lua.NewControlState(read, write)
	}
	// The whole line after "lua" is the expression, quotes included.
	expr := strings.TrimSpace(c.line[c.offs[0]:])
	out, err := c.Sess.lua.Eval(expr)
	if err != nil {
		// One line, single spaces, the source named once: the chunk
		// is called "lua", so errors read "lua:1: message" (with a
		// line) or "lua: message".
		msg := strings.Join(strings.Fields(err.Error()), " ")
		if !strings.HasPrefix(msg, "lua:") {
			msg = "lua: " + msg
		}
		return "", &Error{Code: CodeHandlerError, Msg: msg}
	}
	return withNL(out), nil
}
