package ipexpr

import "fmt"

type tokKind uint8

const (
	tEOF    tokKind = iota
	tWord           // identifiers, numbers, addresses, prefixes, names
	tOp             // == = != < > <= >=
	tAndAnd         // &&
	tOrOr           // ||
	tBang           // !
	tAmp            // &
	tLParen
	tRParen
	tLBrack
	tRBrack
	tQuest
	tColon
)

type token struct {
	kind tokKind
	text string
	col  int // 1-based column in the pattern
}

func (t token) String() string {
	if t.kind == tEOF {
		return "end of pattern"
	}
	return "'" + t.text + "'"
}

// lex splits a pattern into tokens. A colon inside a word (an Ethernet
// address) stays in the word; the ternary colon must stand alone, and
// inside brackets (ip[0:2]) the colon is always a separator.
func lex(s string) ([]token, error) {
	var toks []token
	depth := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		start := i
		emit := func(k tokKind, n int) {
			toks = append(toks, token{kind: k, text: s[start : start+n], col: start + 1})
			i = start + n
		}
		two := ""
		if i+1 < len(s) {
			two = s[i : i+2]
		}
		switch {
		case two == "==" || two == "!=" || two == "<=" || two == ">=":
			emit(tOp, 2)
		case two == "&&":
			emit(tAndAnd, 2)
		case two == "||":
			emit(tOrOr, 2)
		case c == '=' || c == '<' || c == '>':
			emit(tOp, 1)
		case c == '!':
			emit(tBang, 1)
		case c == '&':
			emit(tAmp, 1)
		case c == '(':
			emit(tLParen, 1)
		case c == ')':
			emit(tRParen, 1)
		case c == '[':
			depth++
			emit(tLBrack, 1)
		case c == ']':
			depth--
			emit(tRBrack, 1)
		case c == '?':
			emit(tQuest, 1)
		case c == ':':
			emit(tColon, 1)
		case isWordChar(c):
			j := i
			for j < len(s) && (isWordChar(s[j]) || (s[j] == ':' && depth == 0 && j+1 < len(s) && isWordChar(s[j+1]))) {
				j++
			}
			emit(tWord, j-i)
		default:
			return nil, &Error{Col: i + 1, Msg: fmt.Sprintf("unexpected character %q", c)}
		}
	}
	toks = append(toks, token{kind: tEOF, col: len(s) + 1})
	return toks, nil
}

func isWordChar(c byte) bool {
	return c == '_' || c == '.' || c == '-' || c == '/' || c == '+' ||
		(c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
