package lang

import (
	"path"
	"strconv"
	"strings"

	"flowbox/appliance/suggest"
)

// declKind says what a scope entry stands for.
type declKind int

const (
	dPrim     declKind = iota // primitive element
	dCompound                 // instance of a compound class, expanded later
	dInput                    // compound 'input' pseudo-element
	dOutput                   // compound 'output' pseudo-element
	dGroup                    // an element group used inline
	dGroupIn                  // a group's 'input'
	dGroupOut                 // a group's 'output'
)

// decl is one entry of a scope: an element, a pseudo-element or a group.
type decl struct {
	kind     declKind
	name     string // local name; "" for group tunnels
	class    string // primitive class name (dPrim)
	cdef     *classDef
	config   string // raw configuration text
	cfgLoc   loc
	loc      loc
	anon     bool
	groupIn  int // dGroup: index of its input tunnel
	groupOut int // dGroup: index of its output tunnel
}

// hookup is a connection between two entries of one scope.
type hookup struct {
	from, fport, to, tport int
	loc                    loc
}

type defineEntry struct {
	name  string
	value string
	loc   loc
}

type formal struct {
	keyword string // "" for positional; "__REST__" for the catch-all
	name    string // without '$'
}

// scope is a compound body (or the file): elements, connections, local
// element classes and variable definitions.
type scope struct {
	parent   *scope
	decls    []*decl
	names    map[string]int
	hooks    []hookup
	classes  map[string]*classDef
	defines  []defineEntry
	defSeen  map[string]bool
	nanon    int // elements declared so far, for Class@N names
	compound bool
}

func newScope(parent *scope, compound bool) *scope {
	return &scope{parent: parent, names: map[string]int{}, classes: map[string]*classDef{}, defSeen: map[string]bool{}, compound: compound}
}

// compoundBody is one overload of a compound class.
type compoundBody struct {
	sc      *scope
	formals []formal
	nin     int
	nout    int
	loc     loc
}

// classDef is a compound class (possibly with overloads) or an alias.
type classDef struct {
	name      string
	overloads []*compoundBody
	// next is the earlier definition extended with '|| ...', or the alias
	// target; prim is set when that is a primitive class.
	next *classDef
	prim string
	loc  loc
}

// aliasOnly reports whether def has no bodies and stands for prim or next.
func (c *classDef) aliasOnly() bool { return len(c.overloads) == 0 }

// groupCtx is an element group being parsed: the entries standing for
// its input and output.
type groupCtx struct{ in, out int }

type parser struct {
	opts    Options
	lx      *lexer
	errs    []*Error
	sources map[string][]byte
	top     *scope
	reqs    []string
	loaded  map[string]bool
	groups  []groupCtx // innermost last
	depth   int
	// noMultiBefore: no multi-declaration "a, b :: X" starts before this
	// token count (see multiDecl).
	noMultiBefore int
	nhooks        int
	hookOverflow  bool
	// broken is set after a syntax error that may have left the graph
	// incomplete; expansion then skips checks that would only cascade.
	broken bool
}

// Parse parses a Click configuration into a flat graph. On failure it
// returns an ErrorList with every error found.
func Parse(filename string, src []byte, opts Options) (*Graph, error) {
	g, errs := ParseAll(filename, src, opts)
	if len(errs) > 0 {
		return nil, errs
	}
	return g, nil
}

// ParseAll is Parse that also returns the (possibly incomplete) graph when
// there are errors, so a checker can report element argument errors in
// the same run as syntax errors.
func ParseAll(filename string, src []byte, opts Options) (g *Graph, errs ErrorList) {
	p := &parser{opts: opts, sources: map[string][]byte{}, loaded: map[string]bool{}}
	p.sources[filename] = src
	p.loaded[path.Clean(filename)] = true
	p.top = newScope(nil, false)
	p.parseFile(filename, src)
	g = &Graph{Requirements: p.reqs, Sources: p.sources}
	// Expand even after errors, to report errors found only then
	// (undefined variables, overload mismatches).
	newExpander(p, g).run()
	if len(p.errs) > 0 {
		l := ErrorList(dedupErrors(p.errs))
		l.Sort()
		return g, l
	}
	return g, nil
}

func dedupErrors(errs []*Error) []*Error {
	seen := map[string]bool{}
	out := errs[:0]
	for _, e := range errs {
		k := e.Pos.String() + "\x00" + e.Msg
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

func (p *parser) parseFile(filename string, src []byte) {
	saved, savedGroups := p.lx, p.groups
	p.lx = newLexer(filename, src, &p.errs)
	p.groups = nil
	p.parseStmts(p.top, true)
	if t := p.lx.peek(); t.kind != tEOF {
		p.errorf(t.loc, "syntax error near %s", t.describe())
	}
	p.lx, p.groups = saved, savedGroups
}

func (p *parser) errorf(l loc, format string, args ...any) {
	p.errs = append(p.errs, locError(l, format, args...))
}

// parseStmts parses statements until EOF or a closing '}', ')' or '||',
// which it leaves unread (at file level, stray closers are reported).
func (p *parser) parseStmts(sc *scope, fileLevel bool) {
	for {
		t := p.lx.peek()
		switch t.kind {
		case tEOF:
			return
		case tRBrace, tRParen, tBar2:
			if !fileLevel {
				return
			}
			p.lx.next()
			p.errorf(t.loc, "syntax error near %s", t.describe())
			continue
		case tSemi:
			p.lx.next()
			continue
		case tIdent:
			switch t.text {
			case "elementclass":
				p.lx.next()
				p.parseElementclass(sc, t)
				continue
			case "require", "provide", "define":
				if p.lx.peekN(1).kind == tConfig {
					p.lx.next()
					cfg := p.lx.next()
					p.keywordStmt(sc, t, cfg)
					continue
				}
				p.lx.next()
				p.errorf(t.loc, "syntax error: expected '(' after '%s'", t.text)
				p.resync()
				continue
			}
		}
		start := p.lx.consumed
		if !p.parseConnection(sc) {
			if p.lx.consumed == start {
				p.lx.next()
			}
			p.resync()
		}
	}
}

// resync skips to a statement boundary after a syntax error: past a ';',
// or before a token that starts a new line, or before a closer.
func (p *parser) resync() {
	p.broken = true
	for {
		t := p.lx.peek()
		switch t.kind {
		case tEOF, tRBrace, tRParen, tBar2:
			return
		case tSemi:
			p.lx.next()
			return
		}
		if t.nl && (t.kind == tIdent || t.kind == tPorts) {
			return
		}
		p.lx.next()
		if t.kind == tLBrace || t.kind == tLParen {
			p.skipBalanced(t.kind)
		}
	}
}

func (p *parser) skipBalanced(open tokKind) {
	depth := 1
	for depth > 0 {
		t := p.lx.next()
		switch t.kind {
		case tEOF:
			return
		case tLBrace, tLParen:
			depth++
		case tRBrace, tRParen:
			depth--
		}
	}
}

func (p *parser) keywordStmt(sc *scope, kw, cfg token) {
	if cfg.unterminated {
		p.errorf(kw.loc, "unterminated '%s(' statement", kw.text)
		return
	}
	args := splitArgs(stripComments(cfg.text))
	switch kw.text {
	case "provide":
		// Reserved; accepted and ignored.
	case "require":
		for _, a := range args {
			if a == "" {
				continue
			}
			p.reqs = append(p.reqs, a)
			w, rest := firstWord(a)
			if w == "library" {
				if sc != p.top || len(p.groups) > 0 {
					p.errorf(kw.loc, "'require(library)' may only be used at file scope")
					continue
				}
				p.includeLibrary(kw.loc, unquote(strings.TrimSpace(rest)))
			}
		}
	case "define":
		for _, a := range args {
			if a == "" {
				continue
			}
			w, rest := firstWord(a)
			if len(w) < 2 || w[0] != '$' || !allWordChars(w[1:]) {
				p.errorf(cfg.loc, "bad define: expected '$VARIABLE value', got '%s'", a)
				continue
			}
			name := w[1:]
			if sc.defSeen[name] {
				p.errorf(cfg.loc, "parameter '$%s' multiply defined", name)
				continue
			}
			sc.defSeen[name] = true
			sc.defines = append(sc.defines, defineEntry{name: name, value: strings.TrimSpace(rest), loc: cfg.loc})
		}
	}
}

func (p *parser) includeLibrary(l loc, file string) {
	if file == "" {
		p.errorf(l, "require(library): missing file name")
		return
	}
	if !path.IsAbs(file) {
		file = path.Join(path.Dir(l.pos.File), file)
	}
	file = path.Clean(file)
	if p.loaded[file] {
		return
	}
	p.loaded[file] = true
	if p.opts.ReadFile == nil {
		p.errorf(l, "require(library %s): file inclusion not allowed", file)
		return
	}
	if p.depth > 50 {
		p.errorf(l, "require(library %s): libraries nested too deeply", file)
		return
	}
	data, err := p.opts.ReadFile(file)
	if err != nil {
		p.errorf(l, "require(library %s): %v", file, err)
		return
	}
	p.sources[file] = data
	p.depth++
	p.parseFile(file, data)
	p.depth--
}

// lookupClass finds a compound class or alias visible in sc.
func lookupClass(sc *scope, name string) *classDef {
	for s := sc; s != nil; s = s.parent {
		if d, ok := s.classes[name]; ok {
			return d
		}
	}
	return nil
}

func (p *parser) isClass(sc *scope, name string) bool {
	if lookupClass(sc, name) != nil {
		return true
	}
	if p.opts.IsClass != nil {
		return p.opts.IsClass(name)
	}
	return name != "" && name[0] >= 'A' && name[0] <= 'Z'
}

func (p *parser) parseElementclass(sc *scope, kw token) {
	nt := p.lx.next()
	if nt.kind != tIdent {
		p.errorf(nt.loc, "syntax error: expected element class name after 'elementclass'")
		p.resync()
		return
	}
	name := nt.text
	if !validIdent(name) {
		p.errorf(nt.loc, "bad element class name '%s'", name)
	}
	t := p.lx.peek()
	var def *classDef
	switch t.kind {
	case tIdent:
		p.lx.next()
		def = &classDef{name: name, loc: nt.loc}
		if target := lookupClass(sc, t.text); target != nil {
			def.next = target
		} else {
			def.prim = t.text
		}
	case tLBrace:
		p.lx.next()
		def = p.parseCompoundClass(sc, name, nt.loc)
	default:
		p.errorf(t.loc, "syntax error: expected element class definition after 'elementclass %s'", name)
		p.resync()
		return
	}
	if _, dup := sc.names[name]; dup {
		p.errorf(nt.loc, "element class '%s' has the same name as an element", name)
	}
	// A redefinition in the same scope replaces the earlier one (which
	// stays reachable through '|| ...' and from earlier uses).
	sc.classes[name] = def
}

// parseCompoundClass parses '{' ... '}' (the '{' already read) with
// overloads. name is "" for anonymous compounds.
func (p *parser) parseCompoundClass(sc *scope, name string, l loc) *classDef {
	def := &classDef{name: name, loc: l}
	savedGroups := p.groups
	p.groups = nil
	defer func() { p.groups = savedGroups }()
	if p.depth > 100 {
		p.errorf(l, "compound elements nested too deeply")
		p.skipBalanced(tLBrace)
		return def
	}
	p.depth++
	defer func() { p.depth-- }()
	for {
		if t := p.lx.peek(); t.kind == tEllipsis {
			p.lx.next()
			if name == "" {
				p.errorf(t.loc, "'...' may only be used in a named element class")
			} else if prev := lookupClass(sc, name); prev != nil {
				def.next = prev
			} else {
				def.prim = name
			}
			if c := p.lx.peek(); c.kind != tRBrace {
				p.errorf(c.loc, "syntax error: expected '}' after '...'")
				p.skipToBrace()
			} else {
				p.lx.next()
			}
			return def
		}
		body := p.parseCompoundBody(sc, name)
		def.overloads = append(def.overloads, body)
		t := p.lx.next()
		switch t.kind {
		case tBar2:
			continue
		case tRBrace:
			return def
		case tEOF:
			p.errorf(l, "unterminated compound element (missing '}')")
			p.broken = true
			return def
		default:
			p.errorf(t.loc, "syntax error near %s", t.describe())
			p.skipToBrace()
			return def
		}
	}
}

// skipToBrace skips to and past the '}' closing the current compound.
func (p *parser) skipToBrace() {
	for {
		t := p.lx.next()
		switch t.kind {
		case tEOF, tRBrace:
			return
		case tLBrace, tLParen:
			p.skipBalanced(t.kind)
		}
	}
}

func (p *parser) parseCompoundBody(outer *scope, name string) *compoundBody {
	body := &compoundBody{sc: newScope(outer, true), loc: p.lx.peek().loc}
	sc := body.sc
	sc.decls = append(sc.decls, &decl{kind: dInput, name: "input"}, &decl{kind: dOutput, name: "output"})
	sc.names["input"], sc.names["output"] = 0, 1
	// Formals: "$a, $b |", "KEYWORD $x |", "__REST__ $r |".
	t0, t1 := p.lx.peek(), p.lx.peekN(1)
	if t0.kind == tVar || (t0.kind == tIdent && t1.kind == tVar) {
		p.parseFormals(body)
	}
	p.parseStmts(sc, false)
	p.finishBody(body, name)
	return body
}

func (p *parser) parseFormals(body *compoundBody) {
	seenKW := map[string]bool{}
	orderErr := false
	for {
		t := p.lx.next()
		f := formal{}
		if t.kind == tIdent {
			f.keyword = t.text
			t = p.lx.next()
		}
		if t.kind != tVar {
			p.errorf(t.loc, "syntax error near %s: expected '$PARAMETER'", t.describe())
			p.resyncFormals()
			return
		}
		f.name = t.text[1:]
		if body.sc.defSeen[f.name] {
			p.errorf(t.loc, "parameter '$%s' multiply defined", f.name)
		} else {
			body.sc.defSeen[f.name] = true
		}
		if f.keyword != "" {
			if seenKW[f.keyword] {
				p.errorf(t.loc, "repeated keyword parameter '%s' in compound element", f.keyword)
			}
			seenKW[f.keyword] = true
		}
		if n := len(body.formals); n > 0 && !orderErr {
			prev := body.formals[n-1]
			if prev.keyword == "__REST__" || (f.keyword == "" && prev.keyword != "") {
				p.errorf(t.loc, "compound element parameters out of order (the correct order is '[positional], [keywords], [__REST__]')")
				orderErr = true
			}
		}
		body.formals = append(body.formals, f)
		switch n := p.lx.next(); n.kind {
		case tComma:
			continue
		case tBar:
			return
		default:
			p.errorf(n.loc, "syntax error near %s: expected ',' or '|' in compound parameters", n.describe())
			p.resyncFormals()
			return
		}
	}
}

func (p *parser) resyncFormals() {
	for {
		t := p.lx.peek()
		switch t.kind {
		case tEOF, tRBrace, tBar2:
			return
		case tBar:
			p.lx.next()
			return
		}
		p.lx.next()
	}
}

// finishBody counts a compound body's ports and checks their use.
func (p *parser) finishBody(body *compoundBody, name string) {
	pname := name
	if pname == "" {
		pname = "<anonymous>"
	}
	var fromIn, toOut []bool
	toIn, fromOut := false, false
	for _, h := range body.sc.hooks {
		if h.from == 0 {
			fromIn = markPort(fromIn, h.fport)
		} else if h.from == 1 {
			fromOut = true
		}
		if h.to == 1 {
			toOut = markPort(toOut, h.tport)
		} else if h.to == 0 {
			toIn = true
		}
	}
	body.nin, body.nout = len(fromIn), len(toOut)
	if toIn {
		p.errorf(body.loc, "'%s' pseudoelement 'input' may only be used as output", pname)
	}
	if fromOut {
		p.errorf(body.loc, "'%s' pseudoelement 'output' may only be used as input", pname)
	}
	for i, used := range fromIn {
		if !used {
			p.errorf(body.loc, "compound element '%s' input %d unused", pname, i)
		}
	}
	for i, used := range toOut {
		if !used {
			p.errorf(body.loc, "compound element '%s' output %d unused", pname, i)
		}
	}
}

func markPort(v []bool, port int) []bool {
	for len(v) <= port {
		v = append(v, false)
	}
	v[port] = true
	return v
}

// ---- connections ----

// portList is a parsed "[...]"; expandable is "[]".
type portList struct {
	ports      []int
	expandable bool
	bad        bool // a syntax error was reported
	loc        loc
}

// item is one element of a comma-separated list in a connection.
type item struct {
	in, out *portList
	idx     int // scope entry; -1 if erroneous
	loc     loc
	// implicit marks a missing element (group/compound input or output).
	implicit bool
	// pending is a bare identifier not yet resolved (it may still be
	// declared by a following "::").
	pending string
	// before lists the other elements of a multi-declaration
	// "a, b :: X" (all but the last), which join the list unported.
	before []int
}

const (
	maxPorts   = 1 << 16
	maxHookups = 1 << 18 // connections written in one configuration
)

func (p *parser) parsePorts(t token) *portList {
	pl := &portList{loc: t.loc}
	if t.unterminated {
		p.errorf(t.loc, "syntax error: missing ']' in port specification")
		pl.bad = true
		return pl
	}
	txt := strings.TrimSpace(stripComments(t.text))
	if txt == "" {
		pl.expandable = true
		return pl
	}
	for _, part := range strings.Split(txt, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil || a < 0 || b < a || !allDigits(strings.TrimSpace(lo)) || (isRange && !allDigits(strings.TrimSpace(hi))) {
			p.errorf(t.loc, "syntax error: bad port number '%s'", part)
			pl.bad = true
			return pl
		}
		if b >= maxPorts || len(pl.ports)+(b-a+1) > maxPorts {
			p.errorf(t.loc, "port number too large in '%s'", part)
			pl.bad = true
			return pl
		}
		for i := a; i <= b; i++ {
			pl.ports = append(pl.ports, i)
		}
	}
	return pl
}

// parseConnection parses one connection statement (possibly a lone
// declaration). It returns false on a syntax error.
func (p *parser) parseConnection(sc *scope) bool {
	left, ok := p.parseList(sc, true)
	if !ok {
		return false
	}
	for {
		t := p.lx.peek()
		if t.kind != tArrow && t.kind != tArrow2 {
			break
		}
		p.lx.next()
		if left == nil {
			// Leading arrow: implicit input.
			in := p.implicitEnd(sc, t, true)
			if in < 0 {
				p.errorf(t.loc, "syntax error near '%s': expected an element before '%s'", t.text, t.text)
				return false
			}
			left = []*item{{idx: in, loc: t.loc, implicit: true}}
		}
		right, ok := p.parseList(sc, false)
		if !ok {
			return false
		}
		if right == nil {
			out := -1
			if endsStmt(p.lx.peek()) {
				out = p.implicitEnd(sc, t, false)
			}
			if out < 0 {
				switch n := p.lx.peek(); n.kind {
				case tEOF, tSemi, tRBrace, tRParen, tBar2:
					p.errorf(t.loc, "syntax error near '%s': expected an element after '%s'", t.text, t.text)
				default:
					p.errorf(n.loc, "syntax error near %s: expected an element after '%s'", n.describe(), t.text)
				}
				return false
			}
			right = []*item{{idx: out, loc: t.loc, implicit: true}}
		}
		p.connect(sc, left, right, t)
		left = right
	}
	if left == nil {
		t := p.lx.peek()
		p.lx.next()
		p.errorf(t.loc, "syntax error near %s", t.describe())
		return false
	}
	for _, it := range left {
		if it.out != nil {
			p.errorf(it.out.loc, "syntax error: output port specification with no connection")
			return false
		}
	}
	return true
}

// endsStmt reports whether t ends a connection statement.
func endsStmt(t token) bool {
	switch t.kind {
	case tEOF, tSemi, tRBrace, tRParen, tBar2:
		return true
	}
	return t.nl
}

// implicitEnd returns the entry for an omitted connection end inside a
// group or compound (input for a leading arrow, output for a trailing
// one), or -1 at file level.
func (p *parser) implicitEnd(sc *scope, t token, input bool) int {
	if n := len(p.groups); n > 0 {
		if input {
			return p.groups[n-1].in
		}
		return p.groups[n-1].out
	}
	if sc.compound {
		if input {
			return 0
		}
		return 1
	}
	return -1
}

// parseList parses "item, item, ..." and resolves it. It returns nil (and
// true) for an empty list.
func (p *parser) parseList(sc *scope, stmtStart bool) ([]*item, bool) {
	var items []*item
	for {
		it, ok := p.parseItem(sc)
		if !ok {
			return nil, false
		}
		if it == nil {
			if len(items) > 0 {
				t := p.lx.peek()
				p.errorf(t.loc, "syntax error near %s", t.describe())
				return nil, false
			}
			return nil, true
		}
		for _, b := range it.before {
			items = append(items, &item{idx: b, loc: it.loc})
		}
		items = append(items, it)
		if p.lx.peek().kind != tComma {
			break
		}
		p.lx.next()
	}
	// Resolve pending bare identifiers.
	for _, it := range items {
		if it.pending != "" {
			it.idx = p.resolveRef(sc, it.pending, it.loc)
			it.pending = ""
		}
	}
	return items, true
}

// parseItem parses "[ports] element [ports]". It returns nil if there
// is no element here.
func (p *parser) parseItem(sc *scope) (*item, bool) {
	it := &item{idx: -1}
	t := p.lx.peek()
	it.loc = t.loc
	if t.kind == tPorts {
		p.lx.next()
		it.in = p.parsePorts(t)
		t = p.lx.peek()
	}
	switch t.kind {
	case tIdent:
		p.lx.next()
		if isKeyword(t.text) {
			p.errorf(t.loc, "syntax error near '%s'", t.text)
			return nil, false
		}
		n := p.lx.peek()
		switch {
		case n.kind == tColon2:
			p.lx.next()
			idxs, ok := p.parseDeclaration(sc, []token{t})
			if !ok {
				return nil, false
			}
			it.idx = idxs[0]
		case n.kind == tComma && p.multiDecl():
			// "a, b, c :: Class": collect the names.
			names := []token{t}
			for p.lx.peek().kind == tComma {
				p.lx.next()
				names = append(names, p.lx.next())
				if p.lx.peek().kind == tColon2 {
					break
				}
			}
			p.lx.next() // '::'
			idxs, ok := p.parseDeclaration(sc, names)
			if !ok {
				return nil, false
			}
			it.before, it.idx = idxs[:len(idxs)-1], idxs[len(idxs)-1]
		case n.kind == tConfig:
			p.lx.next()
			it.idx = p.anonymous(sc, t.text, t.loc, n)
		default:
			it.pending = t.text
		}
	case tLParen:
		p.lx.next()
		it.idx = p.parseGroup(sc, t)
	case tLBrace:
		p.lx.next()
		def := p.parseCompoundClass(sc, "", t.loc)
		var cfg *token
		if c := p.lx.peek(); c.kind == tConfig {
			p.lx.next()
			cfg = &c
		}
		it.idx = p.addDecl(sc, "", "", def, cfg, t.loc)
	default:
		if it.in != nil {
			// "[n] ->" inside a group or compound: implicit input.
			// "[n] ->" inside a group or compound is "input [n] ->".
			if in := p.implicitEnd(sc, t, true); in >= 0 && (t.kind == tArrow || t.kind == tArrow2) {
				it.idx, it.implicit = in, true
				it.in, it.out = nil, it.in
				return it, true
			}
			// "-> [n]" ending a connection is "-> [n] output".
			if out := p.implicitEnd(sc, t, false); out >= 0 && endsStmt(t) {
				it.idx, it.implicit = out, true
				return it, true
			}
			p.errorf(it.in.loc, "syntax error near '['")
			return nil, false
		}
		return nil, true
	}
	if t := p.lx.peek(); t.kind == tPorts {
		p.lx.next()
		it.out = p.parsePorts(t)
	}
	return it, true
}

// multiDecl looks ahead over ", IDENT , IDENT ..." for a "::". A
// negative answer is remembered for the rest of the list, so long lists
// are scanned once.
func (p *parser) multiDecl() bool {
	if p.lx.consumed < p.noMultiBefore {
		return false
	}
	for k := 0; ; k += 2 {
		if p.lx.peekN(k).kind != tComma || p.lx.peekN(k+1).kind != tIdent {
			p.noMultiBefore = p.lx.consumed + k
			return false
		}
		if p.lx.peekN(k+2).kind == tColon2 {
			return true
		}
	}
}

func isKeyword(s string) bool {
	switch s {
	case "elementclass", "require", "provide", "define":
		return true
	}
	return false
}

// parseDeclaration parses the class after "::" and declares names,
// returning their entries.
func (p *parser) parseDeclaration(sc *scope, names []token) ([]int, bool) {
	t := p.lx.next()
	var def *classDef
	class := ""
	switch t.kind {
	case tIdent:
		if isKeyword(t.text) {
			p.errorf(t.loc, "syntax error near '%s'", t.text)
			return nil, false
		}
		class = t.text
		def = lookupClass(sc, class)
	case tLBrace:
		def = p.parseCompoundClass(sc, "", t.loc)
	default:
		p.errorf(t.loc, "syntax error near %s: expected element class after '::'", t.describe())
		return nil, false
	}
	var cfg *token
	if c := p.lx.peek(); c.kind == tConfig {
		p.lx.next()
		cfg = &c
	}
	var idxs []int
	for _, n := range names {
		if n.kind != tIdent {
			p.errorf(n.loc, "syntax error near %s", n.describe())
			return nil, false
		}
		idxs = append(idxs, p.declare(sc, n, class, def, cfg))
	}
	return idxs, true
}

// declare adds a named element, checking the name.
func (p *parser) declare(sc *scope, n token, class string, def *classDef, cfg *token) int {
	name := n.text
	switch {
	case !validIdent(name):
		p.errorf(n.loc, "bad element name '%s'", name)
	case isKeyword(name):
		p.errorf(n.loc, "syntax error near '%s'", name)
	case (name == "input" || name == "output") && (sc.compound || len(p.groups) > 0):
		p.errorf(n.loc, "'%s' is a reserved element name", name)
		return -1
	case lookupClass(sc, name) != nil || (p.opts.IsClass != nil && p.opts.IsClass(name)):
		p.errorf(n.loc, "class '%s' used as element name", name)
	}
	if old, dup := sc.names[name]; dup {
		p.errorf(n.loc, "redeclaration of element '%s'", name)
		if d := sc.decls[old]; d.loc.src != nil {
			p.errorf(d.loc, "'%s' previously declared here", name)
		}
		return old
	}
	return p.addDecl(sc, name, class, def, cfg, n.loc)
}

// anonymous adds an anonymous element of the named class.
func (p *parser) anonymous(sc *scope, class string, l loc, cfg token) int {
	return p.addDecl(sc, "", class, lookupClass(sc, class), &cfg, l)
}

func (p *parser) addDecl(sc *scope, name, class string, def *classDef, cfg *token, l loc) int {
	sc.nanon++
	d := &decl{kind: dPrim, name: name, class: class, cdef: def, loc: l, cfgLoc: l}
	if def != nil {
		d.kind = dCompound
	}
	if name == "" {
		d.anon = true
		d.name = class + "@" + strconv.Itoa(sc.nanon)
	}
	if cfg != nil {
		if cfg.unterminated {
			l := cfg.loc
			l.pos.Col-- // point at the '('
			p.errorf(l, "unterminated configuration string (missing ')')")
			p.broken = true
		} else {
			d.config, d.cfgLoc = cfg.text, cfg.loc
		}
	}
	sc.decls = append(sc.decls, d)
	if _, dup := sc.names[d.name]; !dup {
		sc.names[d.name] = len(sc.decls) - 1
	}
	return len(sc.decls) - 1
}

// resolveRef resolves a bare identifier in a connection: a declared
// element, input/output, or an anonymous element of a class.
func (p *parser) resolveRef(sc *scope, name string, l loc) int {
	if name == "input" || name == "output" {
		if n := len(p.groups); n > 0 {
			if name == "input" {
				return p.groups[n-1].in
			}
			return p.groups[n-1].out
		}
	}
	if idx, ok := sc.names[name]; ok {
		return idx
	}
	if p.isClass(sc, name) {
		return p.addDecl(sc, "", name, lookupClass(sc, name), nil, l)
	}
	if !validIdent(name) {
		p.errorf(l, "bad element name '%s'", name)
		return -1
	}
	p.errorf(l, "undeclared element '%s'%s", name, p.suggest(sc, name))
	return -1
}

// suggest offers the declared element or class closest to a mistyped
// name, as " (did you mean 'X'?)", or "".
func (p *parser) suggest(sc *scope, name string) string {
	f := suggest.New(name, 3)
	try := f.Try
	for s := sc; s != nil; s = s.parent {
		for n, i := range s.names {
			if d := s.decls[i]; !d.anon && d.name != "" {
				try(n)
			}
		}
		for n := range s.classes {
			try(n)
		}
	}
	if p.opts.ClassNames != nil {
		for _, c := range p.opts.ClassNames() {
			try(c)
		}
	}
	if f.Best() == "" {
		return ""
	}
	return " (did you mean '" + f.Best() + "'?)"
}

// parseGroup parses "( stmts )" (the '(' already read) into sc and
// returns the group's entry.
func (p *parser) parseGroup(sc *scope, open token) int {
	if p.depth > 100 {
		p.errorf(open.loc, "element groups nested too deeply")
		p.skipBalanced(tLParen)
		return -1
	}
	p.depth++
	defer func() { p.depth-- }()
	sc.decls = append(sc.decls, &decl{kind: dGroupIn, loc: open.loc}, &decl{kind: dGroupOut, loc: open.loc})
	in, out := len(sc.decls)-2, len(sc.decls)-1
	sc.decls = append(sc.decls, &decl{kind: dGroup, loc: open.loc, groupIn: in, groupOut: out})
	g := len(sc.decls) - 1
	p.groups = append(p.groups, groupCtx{in: in, out: out})
	p.parseStmts(sc, false)
	p.groups = p.groups[:len(p.groups)-1]
	t := p.lx.peek()
	if t.kind != tRParen {
		p.errorf(open.loc, "unterminated element group (missing ')')")
		p.broken = true
		return g
	}
	p.lx.next()
	return g
}

// connect adds the hookups for "left arrow right".
func (p *parser) connect(sc *scope, left, right []*item, arrow token) {
	before := len(sc.hooks)
	defer func() {
		added := len(sc.hooks) - before
		if p.nhooks+added > maxHookups {
			sc.hooks = sc.hooks[:before]
			if !p.hookOverflow {
				p.hookOverflow = true
				p.errorf(arrow.loc, "too many connections (more than %d)", maxHookups)
			}
			return
		}
		p.nhooks += added
	}()
	for _, it := range append(append([]*item{}, left...), right...) {
		if it.idx < 0 || (it.in != nil && it.in.bad) || (it.out != nil && it.out.bad) {
			return // an error was already reported
		}
	}
	if p.nhooks+len(left)*len(right) > maxHookups {
		if !p.hookOverflow {
			p.hookOverflow = true
			p.errorf(arrow.loc, "too many connections (more than %d)", maxHookups)
		}
		return
	}
	if arrow.kind == tArrow {
		for _, it := range left {
			if it.out != nil && (it.out.expandable || len(it.out.ports) != 1) {
				p.errorf(it.out.loc, "many-to-many connections require '=>'")
				return
			}
		}
		for _, it := range right {
			if it.in != nil && (it.in.expandable || len(it.in.ports) != 1) {
				p.errorf(it.in.loc, "many-to-many connections require '=>'")
				return
			}
		}
		for _, l := range left {
			for _, r := range right {
				sc.hooks = append(sc.hooks, hookup{from: l.idx, fport: firstPort(l.out), to: r.idx, tport: firstPort(r.in), loc: arrow.loc})
			}
		}
		return
	}
	// "=>": many-to-many, port by port.
	nexp := 0
	for _, it := range left {
		if it.out != nil && it.out.expandable {
			nexp++
		}
	}
	for _, it := range right {
		if it.in != nil && it.in.expandable {
			nexp++
		}
	}
	if nexp > 1 {
		p.errorf(arrow.loc, "at most one expandable port '[]' allowed per connection")
		return
	}
	outs := p.sidePorts(sc, left, true)
	ins := p.sidePorts(sc, right, false)
	// Fill a single unported element or an expandable port list to match
	// the other side.
	fill := func(side []*item, ports []portRef, isOut bool, want int) []portRef {
		if want <= len(ports) {
			return ports
		}
		for i, it := range side {
			pl := it.in
			if isOut {
				pl = it.out
			}
			if (pl != nil && pl.expandable) || (pl == nil && len(side) == 1) {
				var res []portRef
				for j := 0; j < i; j++ {
					res = append(res, p.sidePorts(sc, side[j:j+1], isOut)...)
				}
				extra := want - len(ports)
				if pl == nil {
					extra += len(p.sidePorts(sc, side, isOut)) // its own ports were counted
				}
				if extra > maxPorts {
					extra = maxPorts
				}
				for k := 0; k < extra; k++ {
					res = append(res, portRef{idx: it.idx, port: k})
				}
				for j := i + 1; j < len(side); j++ {
					res = append(res, p.sidePorts(sc, side[j:j+1], isOut)...)
				}
				return res
			}
		}
		return ports
	}
	outs = fill(left, outs, true, len(ins))
	ins = fill(right, ins, false, len(outs))
	if len(outs) != len(ins) {
		p.errorf(arrow.loc, "connection mismatch: %d %s connected to %d %s", len(outs), plural(len(outs), "output", "outputs"), len(ins), plural(len(ins), "input", "inputs"))
		return
	}
	for i := range outs {
		sc.hooks = append(sc.hooks, hookup{from: outs[i].idx, fport: outs[i].port, to: ins[i].idx, tport: ins[i].port, loc: arrow.loc})
	}
}

type portRef struct{ idx, port int }

// sidePorts lists the ports of one side of "=>" before filling:
// explicit lists as written, a lone unported group as all its ports,
// other unported elements as port 0, expandable lists as nothing.
func (p *parser) sidePorts(sc *scope, side []*item, isOut bool) []portRef {
	var res []portRef
	for _, it := range side {
		pl := it.in
		if isOut {
			pl = it.out
		}
		switch {
		case pl == nil:
			n := 1
			if d := sc.decls[it.idx]; len(side) == 1 && d.kind == dGroup {
				if k := groupPorts(sc, d, isOut); k > 1 {
					n = k
				}
			}
			for k := 0; k < n; k++ {
				res = append(res, portRef{it.idx, k})
			}
		case pl.expandable:
		default:
			for _, n := range pl.ports {
				res = append(res, portRef{it.idx, n})
			}
		}
	}
	return res
}

// groupPorts counts a group's inputs (or outputs) from its contents.
func groupPorts(sc *scope, g *decl, outputs bool) int {
	n := 0
	for _, h := range sc.hooks {
		if !outputs && h.from == g.groupIn && h.fport+1 > n {
			n = h.fport + 1
		}
		if outputs && h.to == g.groupOut && h.tport+1 > n {
			n = h.tport + 1
		}
	}
	return n
}

func firstPort(pl *portList) int {
	if pl == nil || len(pl.ports) == 0 {
		return 0
	}
	return pl.ports[0]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ---- identifiers and small helpers ----

// validIdent checks Click's identifier rules: no leading or trailing
// '/', no "//", and no all-digit '/'-separated component.
func validIdent(s string) bool {
	if s == "" || s[0] == '/' || s[len(s)-1] == '/' || strings.Contains(s, "//") {
		return false
	}
	for _, c := range strings.Split(s, "/") {
		if allDigits(c) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func allWordChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isWordChar(s[i]) {
			return false
		}
	}
	return true
}

// firstWord splits off the first space-separated word.
func firstWord(s string) (string, string) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, " \t\r\n")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}
