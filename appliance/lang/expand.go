package lang

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// maxExpandedNodes bounds compound expansion (nested classes can grow
// exponentially).
const maxExpandedNodes = 1 << 18

// env is one variable scope at expansion time.
type env struct {
	sc     *scope
	vars   map[string]string
	parent *env
}

func (e *env) lookup(name string) (string, bool) {
	for ; e != nil; e = e.parent {
		if v, ok := e.vars[name]; ok {
			return v, true
		}
	}
	return "", false
}

// gnode is a node of the expanded graph: a real element (elem >= 0) or a
// tunnel. For a tunnel with fwd >= 0, its input port p is the same as
// output port p of node fwd.
type gnode struct {
	elem int
	fwd  int
}

type gconn struct {
	from, fport, to, tport int
	loc                    loc
}

type expander struct {
	p        *parser
	g        *Graph
	nodes    []gnode
	conns    []gconn
	names    map[string]int
	elocs    []loc
	overflow bool
}

func newExpander(p *parser, g *Graph) *expander {
	return &expander{p: p, g: g, names: map[string]int{}}
}

func (x *expander) run() {
	top := x.p.top
	global := &env{sc: top, vars: map[string]string{}}
	// File defines, expanded against the command-line values; then the
	// command line overrides them.
	// Command-line values override the file's; a define may use the
	// command line and earlier defines.
	for k, v := range x.p.opts.Defines {
		global.vars[k] = v
	}
	for _, d := range top.defines {
		if _, over := x.p.opts.Defines[d.name]; !over {
			global.vars[d.name] = x.substitute(d.value, d.loc, global)
		}
	}
	x.expand(top, "", global, -1, -1, 0)
	if x.overflow {
		return
	}
	x.resolve()
}

func (x *expander) newNode(elem, fwd int) int {
	x.nodes = append(x.nodes, gnode{elem: elem, fwd: fwd})
	if len(x.nodes) > maxExpandedNodes && !x.overflow {
		x.overflow = true
		x.p.errorf(loc{}, "configuration too large: more than %d elements after compound expansion", maxExpandedNodes)
	}
	return len(x.nodes) - 1
}

func (x *expander) addElement(name, class, config string, d *decl) int {
	if old, dup := x.names[name]; dup {
		x.p.errorf(d.loc, "redeclaration of element '%s'", name)
		if ol := x.elocs[old]; ol.src != nil {
			x.p.errorf(ol, "'%s' previously declared here", name)
		}
	}
	e := &Element{Name: name, Class: class, Config: config, Pos: d.loc.pos, Anonymous: d.anon}
	x.g.Elements = append(x.g.Elements, e)
	x.elocs = append(x.elocs, d.loc)
	idx := len(x.g.Elements) - 1
	x.names[name] = idx
	return x.newNode(idx, -1)
}

// expand instantiates scope sc with element names under prefix. inNode
// and outNode stand for the compound's input and output.
func (x *expander) expand(sc *scope, prefix string, ev *env, inNode, outNode, depth int) {
	m := make([]int, len(sc.decls))
	var nin, nout []int
	for i, d := range sc.decls {
		if x.overflow {
			return
		}
		m[i] = -1
		switch d.kind {
		case dInput:
			m[i] = inNode
		case dOutput:
			m[i] = outNode
		case dGroupIn:
			m[i] = x.newNode(-1, -1)
		case dGroupOut:
			m[i] = x.newNode(-1, -1)
		case dGroup:
			m[i] = x.newNode(-1, m[d.groupIn])
			x.nodes[m[d.groupOut]].fwd = m[i]
		case dPrim:
			m[i] = x.addElement(prefix+d.name, d.class, x.substitute(d.config, d.cfgLoc, ev), d)
		case dCompound:
			if nin == nil {
				nin, nout = portCounts(sc)
			}
			m[i] = x.instantiate(sc, d, prefix, ev, nin[i], nout[i], depth)
		}
	}
	for _, h := range sc.hooks {
		if h.from < 0 || h.to < 0 || m[h.from] < 0 || m[h.to] < 0 {
			continue
		}
		x.conns = append(x.conns, gconn{from: m[h.from], fport: h.fport, to: m[h.to], tport: h.tport, loc: h.loc})
	}
}

// portCounts returns, per entry of sc, the number of input and output
// ports its connections use.
func portCounts(sc *scope) (nin, nout []int) {
	nin, nout = make([]int, len(sc.decls)), make([]int, len(sc.decls))
	for _, h := range sc.hooks {
		if h.to >= 0 && h.tport+1 > nin[h.to] {
			nin[h.to] = h.tport + 1
		}
		if h.from >= 0 && h.fport+1 > nout[h.from] {
			nout[h.from] = h.fport + 1
		}
	}
	return
}

// instantiate expands one compound element (or an alias that ends up at
// a primitive class) and returns its node.
func (x *expander) instantiate(sc *scope, d *decl, prefix string, ev *env, nin, nout, depth int) int {
	name := prefix + d.name
	config := x.substitute(d.config, d.cfgLoc, ev)
	if depth > 200 {
		x.p.errorf(d.loc, "compound elements nested too deeply")
		return -1
	}
	args := splitArgs(config)
	var cands []*compoundBody
	prim := ""
	for c := d.cdef; c != nil; c = c.next {
		cands = append(cands, c.overloads...)
		if c.next == nil {
			prim = c.prim
		}
	}
	var body *compoundBody
	var vals map[string]string
	for _, c := range cands {
		if c.nin == nin && c.nout == nout {
			if v, ok := assignArgs(c.formals, args); ok {
				body, vals = c, v
				break
			}
		}
	}
	if body == nil {
		if prim != "" {
			return x.addElement(name, prim, config, d)
		}
		if len(cands) == 1 {
			if v, ok := assignArgs(cands[0].formals, args); ok {
				body, vals = cands[0], v
			}
		}
	}
	if body == nil {
		if !x.p.broken {
			x.p.errorf(d.loc, "no match for '%s'", signature(d.cdef.name, len(args), nin, nout))
		}
		return -1
	}
	// Port counts may be off after a syntax error; don't cascade.
	if !x.p.broken && nin > body.nin {
		x.p.errorf(d.loc, "'%s' input %d out of range (compound has %d %s)", name, nin-1, body.nin, plural(body.nin, "input", "inputs"))
	}
	if !x.p.broken && nout > body.nout {
		x.p.errorf(d.loc, "'%s' output %d out of range (compound has %d %s)", name, nout-1, body.nout, plural(body.nout, "output", "outputs"))
	}
	c := x.newNode(-1, -1)
	cin := x.newNode(-1, -1)
	cout := x.newNode(-1, c)
	x.nodes[c].fwd = cin
	// Lexical scoping: the body's variables sit on the environment of the
	// scope where the class was defined.
	parent := ev
	for e := ev; e != nil; e = e.parent {
		if e.sc == body.sc.parent {
			parent = e
			break
		}
	}
	child := &env{sc: body.sc, vars: vals, parent: parent}
	for _, df := range body.sc.defines {
		child.vars[df.name] = x.substitute(df.value, df.loc, child)
	}
	x.expand(body.sc, name+"/", child, cin, cout, depth+1)
	return c
}

func signature(name string, nargs, nin, nout int) string {
	if name == "" {
		name = "<anonymous>"
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('[')
	if nargs > 0 {
		b.WriteString(strconv.Itoa(nargs))
		b.WriteString(plural(nargs, " argument, ", " arguments, "))
	}
	b.WriteString(strconv.Itoa(nin))
	b.WriteString(plural(nin, " input, ", " inputs, "))
	b.WriteString(strconv.Itoa(nout))
	b.WriteString(plural(nout, " output", " outputs"))
	b.WriteByte(']')
	return b.String()
}

// assignArgs matches compound arguments to formals: positional formals
// take the leading arguments, then keyword arguments "KEYWORD value",
// then anything left goes to __REST__ (joined with ", ").
func assignArgs(formals []formal, args []string) (map[string]string, bool) {
	vals := make(map[string]string, len(formals))
	npos := 0
	for npos < len(formals) && formals[npos].keyword == "" {
		npos++
	}
	if len(args) < npos {
		return nil, false
	}
	for i := 0; i < npos; i++ {
		vals[formals[i].name] = args[i]
	}
	restName := ""
	for _, f := range formals[npos:] {
		if f.keyword == "__REST__" {
			restName = f.name
		} else {
			vals[f.name] = ""
		}
	}
	var rest []string
	for _, a := range args[npos:] {
		w, v := firstWord(a)
		matched := false
		for _, f := range formals[npos:] {
			if f.keyword != "__REST__" && f.keyword == w {
				vals[f.name] = v
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		if restName == "" {
			return nil, false
		}
		rest = append(rest, a)
	}
	if restName != "" {
		vals[restName] = strings.Join(rest, ", ")
	}
	return vals, true
}

// resolve rewires connections through compound and group tunnels into
// connections between real elements.
func (x *expander) resolve() {
	out := make([][]int, len(x.nodes))
	for i, c := range x.conns {
		out[c.from] = append(out[c.from], i)
	}
	type key struct{ n, port int }
	memo := map[key][]portRef{}
	visiting := map[key]bool{}
	var dests func(n, port int) []portRef
	dests = func(n, port int) []portRef {
		nd := x.nodes[n]
		if nd.elem >= 0 {
			return []portRef{{nd.elem, port}}
		}
		if nd.fwd < 0 {
			return nil
		}
		k := key{n, port}
		if r, ok := memo[k]; ok {
			return r
		}
		if visiting[k] {
			return nil
		}
		visiting[k] = true
		var res []portRef
		for _, ci := range out[nd.fwd] {
			c := x.conns[ci]
			if c.fport == port {
				res = append(res, dests(c.to, c.tport)...)
			}
		}
		delete(visiting, k)
		memo[k] = res
		return res
	}
	seen := map[[4]int]bool{}
	for _, c := range x.conns {
		from := x.nodes[c.from].elem
		if from < 0 {
			continue
		}
		for _, d := range dests(c.to, c.tport) {
			k := [4]int{from, c.fport, d.idx, d.port}
			if seen[k] {
				continue
			}
			seen[k] = true
			x.g.Connections = append(x.g.Connections, Connection{From: from, FromPort: c.fport, To: d.idx, ToPort: d.port, Pos: c.loc.pos})
		}
	}
	// A canonical order (by source element and port) keeps output and
	// reload diffs stable.
	// Keys are unique after deduplication, so an unstable sort is fine.
	slices.SortFunc(x.g.Connections, func(a, b Connection) int {
		if c := cmp.Compare(a.From, b.From); c != 0 {
			return c
		}
		if c := cmp.Compare(a.FromPort, b.FromPort); c != 0 {
			return c
		}
		if c := cmp.Compare(a.To, b.To); c != 0 {
			return c
		}
		return cmp.Compare(a.ToPort, b.ToPort)
	})
}

// locAt returns the location of byte off within a config string that
// starts at l.
func locAt(l loc, text string, off int) loc {
	nl := strings.Count(text[:off], "\n")
	if nl == 0 {
		l.pos.Col += off
		return l
	}
	base := l.lstart + l.pos.Col - 1 // offset of text in src
	last := strings.LastIndexByte(text[:off], '\n')
	l.pos.Line += nl
	l.pline += nl
	l.lstart = base + last + 1
	l.pos.Col = off - last
	return l
}

// substitute strips comments from a configuration string, replaces
// $VAR, ${VAR}, ${VAR-default} and ${VAR[i]} (not inside single quotes)
// and trims surrounding space.
func (x *expander) substitute(text string, l loc, ev *env) string {
	if text == "" {
		return ""
	}
	if !strings.ContainsAny(text, "$/") {
		return strings.TrimSpace(text)
	}
	var b strings.Builder
	n := len(text)
	for i := 0; i < n; {
		c := text[i]
		switch {
		case c == '/' && i+1 < n && text[i+1] == '/':
			for i < n && text[i] != '\n' && text[i] != '\r' {
				i++
			}
		case c == '/' && i+1 < n && text[i+1] == '*':
			j := strings.Index(text[i+2:], "*/")
			if j < 0 {
				i = n
			} else {
				i += j + 4
			}
			b.WriteByte(' ')
		case c == '\'':
			j := strings.IndexByte(text[i+1:], '\'')
			if j < 0 {
				j = n - i - 1
			} else {
				j++
			}
			b.WriteString(text[i : i+j+1])
			i += j + 1
		case c == '"':
			b.WriteByte('"')
			i++
			for i < n && text[i] != '"' {
				if text[i] == '\\' && i+1 < n {
					b.WriteString(text[i : i+2])
					i += 2
				} else if text[i] == '$' {
					i = x.variable(&b, text, i, l, ev)
				} else {
					b.WriteByte(text[i])
					i++
				}
			}
			if i < n {
				b.WriteByte('"')
				i++
			}
		case c == '\\' && i+1 < n && text[i+1] == '<':
			j := strings.IndexByte(text[i:], '>')
			if j < 0 {
				j = n - i - 1
			}
			b.WriteString(text[i : i+j+1])
			i += j + 1
		case c == '$':
			i = x.variable(&b, text, i, l, ev)
		default:
			b.WriteByte(c)
			i++
		}
	}
	return strings.TrimSpace(b.String())
}

// variable expands the variable reference at text[i] == '$' and returns
// the index after it.
func (x *expander) variable(b *strings.Builder, text string, i int, l loc, ev *env) int {
	n := len(text)
	j := i + 1
	if j < n && text[j] == '{' {
		end := strings.IndexByte(text[j:], '}')
		if end < 0 {
			b.WriteByte('$')
			return i + 1
		}
		inner := text[j+1 : j+end]
		next := j + end + 1
		name, def, hasDef := strings.Cut(inner, "-")
		index := -1
		if k := strings.IndexByte(name, '['); k >= 0 && strings.HasSuffix(name, "]") {
			iv, err := strconv.Atoi(name[k+1 : len(name)-1])
			if err != nil || iv < 0 {
				x.p.errorf(locAt(l, text, i), "bad variable index in '${%s}'", inner)
				return next
			}
			name, index = name[:k], iv
		}
		if !allWordChars(name) {
			b.WriteString(text[i:next])
			return next
		}
		v, ok := ev.lookup(name)
		if !ok {
			if hasDef {
				b.WriteString(def)
				return next
			}
			x.undefined(b, text[i:next], name, locAt(l, text, i))
			return next
		}
		if index >= 0 {
			words := strings.Fields(v)
			v = ""
			if index < len(words) {
				v = words[index]
			}
		}
		b.WriteString(v)
		return next
	}
	for j < n && isWordChar(text[j]) {
		j++
	}
	if j == i+1 {
		b.WriteByte('$')
		return j
	}
	name := text[i+1 : j]
	if v, ok := ev.lookup(name); ok {
		b.WriteString(v)
	} else {
		x.undefined(b, text[i:j], name, locAt(l, text, i))
	}
	return j
}

func (x *expander) undefined(b *strings.Builder, raw, name string, l loc) {
	b.WriteString(raw)
	if !x.p.opts.KeepUndefined {
		x.p.errorf(l, "undefined variable '$%s'", name)
	}
}

// stripComments removes // and /* */ comments outside quotes.
func stripComments(s string) string {
	if !strings.Contains(s, "/") {
		return s
	}
	var b strings.Builder
	n := len(s)
	for i := 0; i < n; {
		c := s[i]
		switch {
		case c == '/' && i+1 < n && s[i+1] == '/':
			for i < n && s[i] != '\n' && s[i] != '\r' {
				i++
			}
		case c == '/' && i+1 < n && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				i = n
			} else {
				i += j + 4
			}
			b.WriteByte(' ')
		case c == '"' || c == '\'':
			j := i + 1
			for j < n && s[j] != c {
				if c == '"' && s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= n {
				j = n - 1
			}
			b.WriteString(s[i : j+1])
			i = j + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// splitArgs splits a configuration string at top-level commas (quotes
// respected, comments removed), trimming each argument; a trailing empty
// argument is dropped, as in Click's cp_argvec.
func splitArgs(s string) []string {
	s = stripComments(s)
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var args []string
	start := 0
	n := len(s)
	for i := 0; i < n; i++ {
		switch c := s[i]; c {
		case '"', '\'':
			for i++; i < n && s[i] != c; i++ {
				if c == '"' && s[i] == '\\' {
					i++
				}
			}
		case '\\':
			if i+1 < n && s[i+1] == '<' {
				if j := strings.IndexByte(s[i:], '>'); j >= 0 {
					i += j
				} else {
					i = n
				}
			}
		case ',':
			args = append(args, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if start > n {
		start = n
	}
	last := strings.TrimSpace(s[start:])
	if last != "" || len(args) == 0 {
		args = append(args, last)
	}
	return args
}
