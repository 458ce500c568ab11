package core

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Args holds an element's configuration arguments, split Click-style.
type Args struct {
	raw []string
}

// NewArgs splits a configuration string into arguments.
func NewArgs(config string) *Args { return &Args{raw: SplitArgs(config)} }

// Raw returns the arguments as written (for elements with their own
// grammars: Classifier, IPFilter, rewriters).
func (a *Args) Raw() []string { return a.raw }

// Len is the number of arguments.
func (a *Args) Len() int { return len(a.raw) }

// Spec declares one argument for Parse.
type Spec struct {
	Name       string
	positional bool
	mandatory  bool
	rest       bool
	set        func(string) error
}

// Pos declares an argument that may be given by position or by keyword.
func Pos(name string, v Value) Spec { return Spec{Name: name, positional: true, set: v} }

// Key declares a keyword-only argument.
func Key(name string, v Value) Spec { return Spec{Name: name, set: v} }

// Required marks the argument mandatory.
func (s Spec) Required() Spec { s.mandatory = true; return s }

// Value parses one argument's text into a destination.
type Value = func(string) error

// Parse matches the arguments against specs with Click's rules: keyword
// arguments by name (the last one given wins), the rest by position;
// unknown keywords, extra arguments and missing mandatory ones are errors.
// Errors are reported together, each prefixed with the argument name.
func (a *Args) Parse(specs ...Spec) error {
	var errs []string
	given := map[string]bool{}
	type posArg struct {
		text      string
		keywordly bool // looks like an (undeclared) upper-case keyword
	}
	var positional []posArg
	for _, arg := range a.raw {
		kw, val, ok := keywordOf(arg)
		if ok {
			if s := findSpec(specs, kw); s != nil {
				if err := s.set(val); err != nil {
					errs = append(errs, kw+": "+err.Error())
				}
				given[kw] = true
				continue
			}
		}
		positional = append(positional, posArg{arg, ok && isUpperWord(kw)})
	}
	// Click: a positional slot skips an argument that looks like a keyword,
	// unless the slot is mandatory and still unfilled.
	pi := 0
	for i := range specs {
		s := &specs[i]
		if !s.positional || given[s.Name] {
			continue
		}
		for pi < len(positional) && positional[pi].keywordly && !s.mandatory && !s.rest {
			kw, _, _ := keywordOf(positional[pi].text)
			errs = append(errs, kw+": unknown argument")
			pi++
		}
		if pi >= len(positional) {
			break
		}
		if s.rest {
			for ; pi < len(positional); pi++ {
				_ = s.set(positional[pi].text)
			}
			given[s.Name] = true
			break
		}
		if err := s.set(positional[pi].text); err != nil {
			errs = append(errs, s.Name+": "+err.Error())
		}
		given[s.Name] = true
		pi++
	}
	for ; pi < len(positional); pi++ {
		if kw, _, ok := keywordOf(positional[pi].text); ok && positional[pi].keywordly {
			errs = append(errs, kw+": unknown argument")
		} else {
			errs = append(errs, fmt.Sprintf("too many arguments (%q)", positional[pi].text))
		}
	}
	for _, s := range specs {
		if s.mandatory && !given[s.Name] {
			errs = append(errs, s.Name+": required argument missing")
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func findSpec(specs []Spec, name string) *Spec {
	for i := range specs {
		if specs[i].Name == name {
			return &specs[i]
		}
	}
	return nil
}

// keywordOf splits "WORD value" into keyword and value when the first word
// looks like an identifier and a non-empty value follows.
func keywordOf(arg string) (string, string, bool) {
	i := 0
	for i < len(arg) && isKeywordChar(arg[i], i == 0) {
		i++
	}
	if i == 0 || i >= len(arg) || (arg[i] != ' ' && arg[i] != '\t' && arg[i] != '\n') {
		return "", "", false
	}
	val := strings.TrimSpace(arg[i:])
	if val == "" {
		return "", "", false
	}
	return arg[:i], val, true
}

func isKeywordChar(c byte, first bool) bool {
	if c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') {
		return true
	}
	if first {
		return false
	}
	return (c >= '0' && c <= '9') || c == ':' || c == '.' || c == '?' || c == '!'
}

func isUpperWord(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '.' || c == '?' || c == '!') {
			return false
		}
	}
	return true
}

// SplitArgs splits a config string on top-level commas, respecting quotes,
// parentheses and comments (which are removed). Arguments are trimmed; a
// trailing empty argument is dropped.
func SplitArgs(s string) []string {
	var args []string
	var cur strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\'':
			j := skipQuoted(s, i)
			cur.WriteString(s[i:j])
			i = j - 1
		case c == '/' && i+1 < len(s) && s[i+1] == '/':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			cur.WriteByte(' ')
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				i = len(s)
			} else {
				i += 2 + end + 1
			}
			cur.WriteByte(' ')
		case c == '(' || c == '[' || c == '{':
			depth++
			cur.WriteByte(c)
		case c == ')' || c == ']' || c == '}':
			depth--
			cur.WriteByte(c)
		case c == ',' && depth <= 0:
			args = append(args, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	last := strings.TrimSpace(cur.String())
	if last != "" {
		args = append(args, last)
	}
	return args
}

func skipQuoted(s string, i int) int {
	q := s[i]
	j := i + 1
	for j < len(s) && s[j] != q {
		if q == '"' && s[j] == '\\' {
			j++
		}
		j++
	}
	if j < len(s) {
		j++
	}
	// An unterminated quote ending in a backslash must not run past the end.
	return min(j, len(s))
}

// SplitWords splits an argument into space-separated words, keeping quoted
// strings together.
func SplitWords(s string) []string {
	var words []string
	i := 0
	for i < len(s) {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		j := i
		for j < len(s) && !isSpace(s[j]) {
			if s[j] == '"' || s[j] == '\'' {
				j = skipQuoted(s, j)
				continue
			}
			j++
		}
		words = append(words, s[i:j])
		i = j
	}
	return words
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Unquote interprets Click string syntax: double-quoted strings with C
// escapes, single-quoted literal strings, \<hex> data blocks, and adjacent
// pieces concatenated. Unquoted text is taken as is.
func Unquote(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case s[i] == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] != '\\' || j+1 >= len(s) {
					b.WriteByte(s[j])
					continue
				}
				j++
				n, err := writeEscape(&b, s, j)
				if err != nil {
					return "", err
				}
				j = n
			}
			if j >= len(s) {
				return "", errors.New("unterminated string")
			}
			i = j + 1
		case s[i] == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return "", errors.New("unterminated string")
			}
			b.WriteString(s[i+1 : i+1+j])
			i += j + 2
		case strings.HasPrefix(s[i:], `\<`):
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				return "", errors.New("unterminated \\< hex block")
			}
			hx := strings.Map(func(r rune) rune {
				if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
					return -1
				}
				return r
			}, s[i+2:i+j])
			data, err := hex.DecodeString(hx)
			if err != nil {
				return "", fmt.Errorf("bad hex data in \\<%s>", s[i+2:i+j])
			}
			b.Write(data)
			i += j + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}

// writeEscape decodes the escape whose letter is at s[j]; it returns the
// index of the escape's last byte.
func writeEscape(b *strings.Builder, s string, j int) (int, error) {
	switch c := s[j]; c {
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case 'r':
		b.WriteByte('\r')
	case 'a':
		b.WriteByte(7)
	case 'b':
		b.WriteByte(8)
	case 'f':
		b.WriteByte(12)
	case 'v':
		b.WriteByte(11)
	case 'x':
		k := j + 1
		for k < len(s) && k < j+3 && isHex(s[k]) {
			k++
		}
		if k == j+1 {
			return j, errors.New(`bad \x escape`)
		}
		v, _ := strconv.ParseUint(s[j+1:k], 16, 8)
		b.WriteByte(byte(v))
		return k - 1, nil
	case '<':
		k := strings.IndexByte(s[j:], '>')
		if k < 0 {
			return j, errors.New("unterminated \\< hex block")
		}
		data, err := hex.DecodeString(strings.ReplaceAll(s[j+1:j+k], " ", ""))
		if err != nil {
			return j, errors.New("bad hex data")
		}
		b.Write(data)
		return j + k, nil
	default:
		if c >= '0' && c <= '7' {
			k := j
			for k < len(s) && k < j+3 && s[k] >= '0' && s[k] <= '7' {
				k++
			}
			v, _ := strconv.ParseUint(s[j:k], 8, 8)
			b.WriteByte(byte(v))
			return k - 1, nil
		}
		b.WriteByte(c)
	}
	return j, nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// ---- Value parsers ----

// String parses a (possibly quoted) string.
func String(dst *string) Value {
	return func(s string) error {
		v, err := Unquote(s)
		if err != nil {
			return err
		}
		*dst = v
		return nil
	}
}

// Word takes the argument text verbatim.
func Word(dst *string) Value { return func(s string) error { *dst = s; return nil } }

// Bool parses true/false/yes/no/1/0.
func Bool(dst *bool) Value {
	return func(s string) error {
		v, err := ParseBool(s)
		if err == nil {
			*dst = v
		}
		return err
	}
}

// ParseBool parses Click booleans.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "1", "on":
		return true, nil
	case "false", "no", "0", "off":
		return false, nil
	}
	return false, fmt.Errorf("expected boolean, got %q", s)
}

// Int parses a decimal, 0x-hex or 0-octal integer.
func Int(dst *int) Value {
	return func(s string) error {
		v, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			return fmt.Errorf("expected integer, got %q", s)
		}
		*dst = int(v)
		return nil
	}
}

// Int64 parses an integer into an int64.
func Int64(dst *int64) Value {
	return func(s string) error {
		v, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			return fmt.Errorf("expected integer, got %q", s)
		}
		*dst = v
		return nil
	}
}

// Uint parses an unsigned integer of at most bits bits.
func Uint(dst *uint64, bits int) Value {
	return func(s string) error {
		v, err := strconv.ParseUint(s, 0, bits)
		if err != nil {
			return fmt.Errorf("expected unsigned %d-bit integer, got %q", bits, s)
		}
		*dst = v
		return nil
	}
}

// Uint8 parses a byte-sized unsigned integer.
func Uint8(dst *uint8) Value {
	return func(s string) error {
		v, err := strconv.ParseUint(s, 0, 8)
		if err != nil {
			return fmt.Errorf("expected integer 0-255, got %q", s)
		}
		*dst = uint8(v)
		return nil
	}
}

// Uint16 parses a 16-bit unsigned integer.
func Uint16(dst *uint16) Value {
	return func(s string) error {
		v, err := strconv.ParseUint(s, 0, 16)
		if err != nil {
			return fmt.Errorf("expected integer 0-65535, got %q", s)
		}
		*dst = uint16(v)
		return nil
	}
}

// Float parses a real number.
func Float(dst *float64) Value {
	return func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("expected real number, got %q", s)
		}
		*dst = v
		return nil
	}
}

// Duration parses a time with Click's units (s/sec, ms, us, ns, m/min,
// h/hr); a bare number is seconds.
func Duration(dst *time.Duration) Value {
	return func(s string) error {
		v, err := ParseDuration(s)
		if err == nil {
			*dst = v
		}
		return err
	}
}

// ParseDuration parses Click time syntax.
func ParseDuration(s string) (time.Duration, error) {
	num, unit := splitNumber(s)
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("expected time, got %q", s)
	}
	mult := map[string]float64{"": 1e9, "s": 1e9, "sec": 1e9, "secs": 1e9, "ms": 1e6, "msec": 1e6,
		"us": 1e3, "usec": 1e3, "ns": 1, "nsec": 1, "m": 60e9, "min": 60e9, "h": 3600e9, "hr": 3600e9}
	m, ok := mult[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("expected time, got %q (unknown unit %q)", s, unit)
	}
	return time.Duration(f * m), nil
}

// Bandwidth parses a rate in bytes per second; bps/Bps with k/M/G prefixes.
func Bandwidth(dst *float64) Value {
	return func(s string) error {
		num, unit := splitNumber(s)
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || num == "" {
			return fmt.Errorf("expected bandwidth, got %q", s)
		}
		scale := 1.0
		if len(unit) > 0 {
			switch unit[0] {
			case 'k', 'K':
				scale, unit = 1e3, unit[1:]
			case 'M':
				scale, unit = 1e6, unit[1:]
			case 'G':
				scale, unit = 1e9, unit[1:]
			}
		}
		switch unit {
		case "", "Bps", "B/s":
		case "bps", "b/s":
			scale /= 8
		default:
			return fmt.Errorf("expected bandwidth, got %q", s)
		}
		*dst = f * scale
		return nil
	}
}

func splitNumber(s string) (string, string) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] == '.' || s[i] == '-' || s[i] == '+' || s[i] == 'e' && i > 0 || (s[i] >= '0' && s[i] <= '9')) {
		i++
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// IPv4 parses a dotted-quad address.
func IPv4(dst *netip.Addr) Value {
	return func(s string) error {
		a, err := ParseIPv4(s)
		if err == nil {
			*dst = a
		}
		return err
	}
}

// ParseIPv4 parses an IPv4 address.
func ParseIPv4(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("expected IP address, got %q", s)
	}
	return a, nil
}

// IPAddr parses an IPv4 or IPv6 address.
func IPAddr(dst *netip.Addr) Value {
	return func(s string) error {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("expected IP address, got %q", s)
		}
		*dst = a
		return nil
	}
}

// IPPrefix parses "A/len", "A/mask", "A mask M", Click's short forms
// ("18.26.4/24") and a bare address (/32).
func IPPrefix(dst *netip.Prefix) Value {
	return func(s string) error {
		p, err := ParseIPPrefix(s)
		if err == nil {
			*dst = p
		}
		return err
	}
}

// ParseIPPrefix parses an IPv4 or IPv6 prefix in Click's forms.
func ParseIPPrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if a, m, ok := strings.Cut(s, " mask "); ok {
		s = strings.TrimSpace(a) + "/" + strings.TrimSpace(m)
	}
	addr, bits, hasLen := strings.Cut(s, "/")
	if strings.Contains(addr, ":") {
		p, err := netip.ParsePrefix(s)
		if !hasLen {
			a, err2 := netip.ParseAddr(addr)
			if err2 != nil {
				return netip.Prefix{}, fmt.Errorf("expected IP prefix, got %q", s)
			}
			return netip.PrefixFrom(a, 128), nil
		}
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("expected IP prefix, got %q", s)
		}
		return p.Masked(), nil
	}
	parts := strings.Split(addr, ".")
	if len(parts) < 1 || len(parts) > 4 {
		return netip.Prefix{}, fmt.Errorf("expected IP prefix, got %q", s)
	}
	for len(parts) < 4 {
		parts = append(parts, "0")
	}
	a, err := netip.ParseAddr(strings.Join(parts, "."))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("expected IP prefix, got %q", s)
	}
	n := 32
	if hasLen {
		if strings.Contains(bits, ".") {
			m, err := netip.ParseAddr(bits)
			if err != nil || !m.Is4() {
				return netip.Prefix{}, fmt.Errorf("bad netmask in %q", s)
			}
			b := m.As4()
			v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			n = 0
			for v&0x80000000 != 0 {
				n++
				v <<= 1
			}
			if v != 0 {
				return netip.Prefix{}, fmt.Errorf("netmask in %q is not contiguous", s)
			}
		} else {
			n, err = strconv.Atoi(bits)
			if err != nil || n < 0 || n > 32 {
				return netip.Prefix{}, fmt.Errorf("bad prefix length in %q", s)
			}
		}
	}
	return netip.PrefixFrom(a, n).Masked(), nil
}

// Ether parses an Ethernet address: 0:1:2:3:4:5 or 0-1-2-3-4-5.
func Ether(dst *[6]byte) Value {
	return func(s string) error {
		v, err := ParseEther(s)
		if err == nil {
			*dst = v
		}
		return err
	}
}

// ParseEther parses an Ethernet address.
func ParseEther(s string) ([6]byte, error) {
	var out [6]byte
	sep := ":"
	if strings.Contains(s, "-") {
		sep = "-"
	}
	parts := strings.Split(s, sep)
	if len(parts) != 6 {
		return out, fmt.Errorf("expected Ethernet address, got %q", s)
	}
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 16, 8)
		if err != nil || len(p) == 0 || len(p) > 2 {
			return out, fmt.Errorf("expected Ethernet address, got %q", s)
		}
		out[i] = byte(v)
	}
	return out, nil
}

// Rest declares a catch-all: every positional argument left after the
// other positional specs goes to dst (Click's __REST__).
func Rest(name string, dst *[]string) Spec {
	return Spec{Name: name, positional: true, rest: true,
		set: func(s string) error { *dst = append(*dst, s); return nil }}
}

// Clamp returns an error unless lo <= v <= hi.
func Clamp(name string, v, lo, hi float64) error {
	if v < lo || v > hi || math.IsNaN(v) {
		return fmt.Errorf("%s: must be between %v and %v", name, lo, hi)
	}
	return nil
}
