package lang

import "strconv"

// tokKind is a lexical token kind.
type tokKind int

const (
	tEOF      tokKind = iota
	tIdent            // element, class or keyword name
	tVar              // $name (formals)
	tArrow            // ->
	tArrow2           // =>
	tColon2           // ::
	tSemi             // ;
	tComma            // ,
	tLParen           // ( starting a group
	tRParen           // )
	tLBrace           // {
	tRBrace           // }
	tBar              // |
	tBar2             // ||
	tEllipsis         // ...
	tPorts            // [ ... ] (text holds the contents)
	tConfig           // ( ... ) directly after an identifier (text holds the contents)
	tBad              // an unexpected character or malformed token
)

// loc is a token's location: the logical position (after line directives)
// plus the physical line and source text, for snippets.
type loc struct {
	pos    Pos
	pline  int
	lstart int // byte offset of the physical line's start in src
	src    []byte
}

type token struct {
	kind tokKind
	text string
	loc  loc
	nl   bool // preceded by a newline
	// unterminated is set for tConfig/tPorts without a closing bracket.
	unterminated bool
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tPorts:
		return "'['"
	case tConfig:
		return "'('"
	}
	return "'" + t.text + "'"
}

// lexer turns one file into tokens. Line directives change the logical
// file and line reported in positions.
type lexer struct {
	src       []byte
	i         int
	pline     int // physical line
	lineStart int // byte index of the physical line's start
	file      string
	ldelta    int // logical line = pline + ldelta
	prevIdent bool
	sawNL     bool
	errs      *[]*Error
	buf       []token
	consumed  int // tokens returned by next, to detect progress
}

func newLexer(file string, src []byte, errs *[]*Error) *lexer {
	return &lexer{src: src, pline: 1, file: file, errs: errs}
}

func (lx *lexer) here() loc {
	return loc{pos: Pos{File: lx.file, Line: lx.pline + lx.ldelta, Col: lx.i - lx.lineStart + 1}, pline: lx.pline, lstart: lx.lineStart, src: lx.src}
}

func (lx *lexer) errorAt(l loc, format string, args ...any) {
	*lx.errs = append(*lx.errs, locError(l, format, args...))
}

func locError(l loc, format string, args ...any) *Error {
	e := NewError(nil, l.pos, format, args...)
	if l.src != nil && l.lstart >= 0 && l.lstart <= len(l.src) {
		// Show at most a window of a very long line around the column.
		const window = 80
		start, col := l.lstart, l.pos.Col
		if col > window+1 {
			start += col - 1 - window
			col = window + 1
		}
		if start > len(l.src) {
			start = len(l.src)
		}
		end := start
		for end < len(l.src) && end-start < 2*window && l.src[end] != '\n' && l.src[end] != '\r' {
			end++
		}
		e.Snippet = Snippet(l.src[start:end], Pos{Line: 1, Col: col})
	}
	return e
}

// newline records a line break ending at index i (the index after it).
func (lx *lexer) newline(next int) {
	lx.pline++
	lx.lineStart = next
	lx.sawNL = true
}

// skipSpace skips white space, comments and line directives.
func (lx *lexer) skipSpace() {
	for lx.i < len(lx.src) {
		c := lx.src[lx.i]
		switch {
		case c == '\n':
			lx.i++
			lx.newline(lx.i)
		case c == '\r':
			lx.i++
			if lx.i < len(lx.src) && lx.src[lx.i] == '\n' {
				lx.i++
			}
			lx.newline(lx.i)
		case c == ' ' || c == '\t' || c == '\f' || c == '\v':
			lx.i++
		case c == '/' && lx.i+1 < len(lx.src) && lx.src[lx.i+1] == '/':
			for lx.i < len(lx.src) && lx.src[lx.i] != '\n' && lx.src[lx.i] != '\r' {
				lx.i++
			}
		case c == '/' && lx.i+1 < len(lx.src) && lx.src[lx.i+1] == '*':
			start := lx.here()
			lx.i += 2
			closed := false
			for lx.i < len(lx.src) {
				if lx.src[lx.i] == '*' && lx.i+1 < len(lx.src) && lx.src[lx.i+1] == '/' {
					lx.i += 2
					closed = true
					break
				}
				lx.step()
			}
			if !closed {
				lx.errorAt(start, "unterminated comment")
			}
		case c == '#' && lx.atLineStart():
			lx.lineDirective()
		default:
			return
		}
	}
}

// step advances one byte, tracking line breaks.
func (lx *lexer) step() {
	c := lx.src[lx.i]
	lx.i++
	if c == '\n' {
		lx.newline(lx.i)
	} else if c == '\r' {
		if lx.i < len(lx.src) && lx.src[lx.i] == '\n' {
			lx.i++
		}
		lx.newline(lx.i)
	}
}

func (lx *lexer) atLineStart() bool {
	for j := lx.i - 1; j >= lx.lineStart; j-- {
		if lx.src[j] != ' ' && lx.src[j] != '\t' {
			return false
		}
	}
	return true
}

// lineDirective handles `# 100 "file"` and `#line 100 "file"`; the line
// after the directive gets the given number.
func (lx *lexer) lineDirective() {
	start := lx.here()
	j := lx.i + 1
	end := j
	for end < len(lx.src) && lx.src[end] != '\n' && lx.src[end] != '\r' {
		end++
	}
	line := string(lx.src[j:end])
	lx.i = end
	k := 0
	skipWS := func() {
		for k < len(line) && (line[k] == ' ' || line[k] == '\t') {
			k++
		}
	}
	skipWS()
	if len(line)-k >= 5 && line[k:k+4] == "line" && (line[k+4] == ' ' || line[k+4] == '\t') {
		k += 4
		skipWS()
	}
	d := k
	for k < len(line) && line[k] >= '0' && line[k] <= '9' {
		k++
	}
	if d == k {
		lx.errorAt(start, "unknown preprocessor directive")
		return
	}
	n, err := strconv.Atoi(line[d:k])
	if err != nil || n > 1<<30 {
		lx.errorAt(start, "bad line number in line directive")
		return
	}
	skipWS()
	if k < len(line) && line[k] == '"' {
		e := k + 1
		for e < len(line) && line[e] != '"' {
			if line[e] == '\\' && e+1 < len(line) {
				e++
			}
			e++
		}
		if e < len(line) {
			lx.file = line[k+1 : e]
		} else {
			lx.errorAt(start, "unterminated file name in line directive")
		}
	}
	// The next physical line (pline+1) is logical line n.
	lx.ldelta = n - (lx.pline + 1)
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '@'
}

func isWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func (lx *lexer) peek() token { return lx.peekN(0) }

func (lx *lexer) peekN(n int) token {
	for len(lx.buf) <= n {
		lx.buf = append(lx.buf, lx.lex())
	}
	return lx.buf[n]
}

func (lx *lexer) next() token {
	t := lx.peek()
	lx.buf = lx.buf[1:]
	lx.consumed++
	return t
}

func (lx *lexer) lex() token {
	lx.sawNL = false
	lx.skipSpace()
	t := token{loc: lx.here(), nl: lx.sawNL}
	prevIdent := lx.prevIdent
	lx.prevIdent = false
	if lx.i >= len(lx.src) {
		t.kind = tEOF
		return t
	}
	s := lx.src
	c := s[lx.i]
	two := func(k tokKind, txt string) token {
		t.kind, t.text = k, txt
		lx.i += len(txt)
		return t
	}
	has := func(str string) bool {
		return lx.i+len(str) <= len(s) && string(s[lx.i:lx.i+len(str)]) == str
	}
	switch {
	case isIdentStart(c):
		j := lx.i
		for j < len(s) {
			d := s[j]
			if isIdentStart(d) {
				j++
			} else if d == '/' && j+1 < len(s) && s[j+1] != '/' && s[j+1] != '*' {
				j++
			} else {
				break
			}
		}
		// An identifier may not end with '/'.
		for j > lx.i && s[j-1] == '/' {
			j--
		}
		t.kind, t.text = tIdent, string(s[lx.i:j])
		lx.i = j
		lx.prevIdent = true
		return t
	case c == '$':
		j := lx.i + 1
		for j < len(s) && isWordChar(s[j]) {
			j++
		}
		t.kind, t.text = tVar, string(s[lx.i:j])
		if j == lx.i+1 {
			t.kind = tBad
		}
		lx.i = j
		return t
	case has("->"):
		return two(tArrow, "->")
	case has("=>"):
		return two(tArrow2, "=>")
	case has("::"):
		return two(tColon2, "::")
	case has("||"):
		return two(tBar2, "||")
	case has("..."):
		return two(tEllipsis, "...")
	case c == ';':
		return two(tSemi, ";")
	case c == ',':
		return two(tComma, ",")
	case c == ')':
		return two(tRParen, ")")
	case c == '{':
		return two(tLBrace, "{")
	case c == '}':
		// "{ ... }(config)": a compound class may take a configuration.
		lx.prevIdent = true
		return two(tRBrace, "}")
	case c == '|':
		return two(tBar, "|")
	case c == '[':
		lx.i++
		j := lx.i
		for j < len(s) && s[j] != ']' && s[j] != '\n' && s[j] != '\r' && s[j] != ';' {
			j++
		}
		t.kind, t.text = tPorts, string(s[lx.i:j])
		if j < len(s) && s[j] == ']' {
			lx.i = j + 1
		} else {
			lx.i = j
			t.unterminated = true
		}
		return t
	case c == '(':
		lx.i++
		if !prevIdent {
			t.kind, t.text = tLParen, "("
			return t
		}
		return lx.config(t)
	}
	// Unknown character: one UTF-8 sequence at most.
	j := lx.i + 1
	for j < len(s) && s[j]&0xC0 == 0x80 && j-lx.i < 4 {
		j++
	}
	t.kind, t.text = tBad, string(s[lx.i:j])
	lx.i = j
	return t
}

// config reads a configuration string after '(' up to the matching ')'.
// Quotes, comments and \<...> blocks do not count toward balancing. The
// text is returned raw; comments are stripped during expansion.
func (lx *lexer) config(t token) token {
	t.kind = tConfig
	s := lx.src
	start := lx.i
	t.loc = lx.here()
	depth := 0
	for lx.i < len(s) {
		c := s[lx.i]
		switch {
		case c == '(':
			depth++
			lx.i++
		case c == ')':
			if depth == 0 {
				t.text = string(s[start:lx.i])
				lx.i++
				return t
			}
			depth--
			lx.i++
		case c == '"' || c == '\'':
			lx.i++
			for lx.i < len(s) && s[lx.i] != c {
				if c == '"' && s[lx.i] == '\\' && lx.i+1 < len(s) {
					lx.i++
				}
				lx.step()
			}
			if lx.i < len(s) {
				lx.i++
			}
		case c == '\\' && lx.i+1 < len(s) && s[lx.i+1] == '<':
			lx.i += 2
			for lx.i < len(s) && s[lx.i] != '>' {
				lx.step()
			}
			if lx.i < len(s) {
				lx.i++
			}
		case c == '/' && lx.i+1 < len(s) && s[lx.i+1] == '/':
			for lx.i < len(s) && s[lx.i] != '\n' && s[lx.i] != '\r' {
				lx.i++
			}
		case c == '/' && lx.i+1 < len(s) && s[lx.i+1] == '*':
			lx.i += 2
			for lx.i < len(s) && !(s[lx.i] == '*' && lx.i+1 < len(s) && s[lx.i+1] == '/') {
				lx.step()
			}
			if lx.i < len(s) {
				lx.i += 2
			}
		default:
			lx.step()
		}
	}
	t.text = string(s[start:])
	t.unterminated = true
	return t
}
