package nat

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// SpecKind says what a rewriter input does with packets that match no
// existing mapping.
type SpecKind uint8

const (
	SpecDrop    SpecKind = iota // drop / discard
	SpecPass                    // pass OUT: forward unchanged, no mapping
	SpecKeep                    // keep FOUT ROUT: identity mapping
	SpecPattern                 // pattern ... FOUT ROUT: rewriting mapping
)

// InputSpec is one parsed rewriter INPUTSPEC.
type InputSpec struct {
	Kind SpecKind
	// FOut is the output for forward packets (and for SpecPass), ROut the
	// output for reply packets.
	FOut, ROut int
	Pattern    Pattern // SpecPattern only
}

// Pattern is the rewrite of `pattern SADDR SPORT DADDR DPORT`. A field
// marked Keep* is left as the packet has it.
type Pattern struct {
	KeepSrc    bool
	SrcLo      uint32 // source address range (host order), inclusive
	SrcHi      uint32
	KeepSport  bool
	SportLo    uint16 // source port range, inclusive
	SportHi    uint16
	KeepDst    bool
	Dst        uint32
	KeepDport  bool
	Dport      uint16
	Sequential bool // '#': allocate in order from where the last one ended
	SameFirst  bool // try the packet's own source port first (no suffix)
	// cursor is where the next sequential search starts.
	cursor uint64
}

// ParseInputSpec parses one INPUTSPEC: `drop`, `discard`, `pass [OUT]`,
// `keep FOUT ROUT`, `pattern SADDR SPORT DADDR DPORT FOUT ROUT` or
// `pattern SADDR DADDR FOUT ROUT` (ports unchanged). It does not check
// output numbers against a port count; the element does.
func ParseInputSpec(s string) (InputSpec, error) {
	// Spec words never need quoting; strings.Fields also sidesteps a
	// core.SplitWords panic on an unterminated quote ending in '\'.
	words := strings.Fields(s)
	if len(words) == 0 {
		return InputSpec{}, errors.New("empty input spec")
	}
	rest := words[1:]
	switch words[0] {
	case "drop", "discard":
		if len(rest) != 0 {
			return InputSpec{}, fmt.Errorf("syntax error, expected %q", words[0])
		}
		return InputSpec{Kind: SpecDrop}, nil
	case "pass", "passthrough", "nochange":
		return parsePass(rest)
	case "keep":
		is := InputSpec{Kind: SpecKeep}
		var err error
		is.FOut, is.ROut, err = parseOutputs(rest)
		return is, err
	case "pattern":
		return parsePatternSpec(rest)
	}
	return InputSpec{}, fmt.Errorf("unknown input spec %q", words[0])
}

func parsePass(rest []string) (InputSpec, error) {
	is := InputSpec{Kind: SpecPass}
	switch len(rest) {
	case 0:
		return is, nil
	case 1:
		n, err := parsePortNumber(rest[0])
		if err != nil {
			return is, errors.New("syntax error, expected 'pass [OUTPUT]'")
		}
		is.FOut, is.ROut = n, n
		return is, nil
	}
	return is, errors.New("syntax error, expected 'pass [OUTPUT]'")
}

func parseOutputs(words []string) (int, int, error) {
	if len(words) != 2 {
		return 0, 0, errors.New("expected FOUTPUT ROUTPUT")
	}
	f, err := parsePortNumber(words[0])
	if err != nil {
		return 0, 0, errors.New("bad forward output")
	}
	r, err := parsePortNumber(words[1])
	if err != nil {
		return 0, 0, errors.New("bad reply output")
	}
	return f, r, nil
}

func parsePortNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 0xffff {
		return 0, fmt.Errorf("bad output %q", s)
	}
	return n, nil
}

func parsePatternSpec(words []string) (InputSpec, error) {
	is := InputSpec{Kind: SpecPattern}
	if len(words) != 6 && len(words) != 4 {
		if len(words) == 3 {
			return is, errors.New("named patterns (IPRewriterPatterns) are not supported")
		}
		return is, errors.New("syntax error, expected 'pattern SADDR SPORT DADDR DPORT FOUTPUT ROUTPUT'")
	}
	var err error
	n := len(words)
	if is.FOut, is.ROut, err = parseOutputs(words[n-2:]); err != nil {
		return is, err
	}
	p := &is.Pattern
	p.SameFirst = true
	if n == 4 { // SADDR DADDR: addresses only
		p.KeepSport, p.KeepDport = true, true
		if err = p.parseSrc(words[0]); err == nil {
			err = p.parseDst(words[1])
		}
		return is, err
	}
	if err = p.parseSrc(words[0]); err != nil {
		return is, err
	}
	if err = p.parseSport(words[1]); err != nil {
		return is, err
	}
	if err = p.parseDst(words[2]); err != nil {
		return is, err
	}
	return is, p.parseDport(words[3])
}

// cutSuffix strips a trailing '#' (sequential) or '?' (random) marker;
// either one turns off "own port first".
func (p *Pattern) cutSuffix(w string) string {
	switch {
	case strings.HasSuffix(w, "#"):
		p.Sequential, p.SameFirst = true, false
		return w[:len(w)-1]
	case strings.HasSuffix(w, "?"):
		p.SameFirst = false
		return w[:len(w)-1]
	}
	return w
}

func (p *Pattern) parseSrc(w string) error {
	if w == "-" {
		p.KeepSrc = true
		return nil
	}
	lo, hi, err := parseAddrRange(p.cutSuffix(w))
	if err != nil {
		return fmt.Errorf("bad source address %q", w)
	}
	p.SrcLo, p.SrcHi = lo, hi
	return nil
}

// parseAddrRange accepts A, A-B and A/len. A prefix expands to its hosts
// without the network and broadcast addresses (a /31 keeps both, a /32
// is one host).
func parseAddrRange(w string) (uint32, uint32, error) {
	if a, b, ok := strings.Cut(w, "-"); ok {
		lo, err1 := parseAddr(a)
		hi, err2 := parseAddr(b)
		if err1 != nil || err2 != nil || hi < lo {
			return 0, 0, errors.New("bad range")
		}
		return lo, hi, nil
	}
	if !strings.Contains(w, "/") {
		a, err := parseAddr(w)
		return a, a, err
	}
	pfx, err := netip.ParsePrefix(w)
	if err != nil || !pfx.Addr().Is4() {
		return 0, 0, errors.New("bad prefix")
	}
	base := addrU32(pfx.Masked().Addr())
	switch l := pfx.Bits(); {
	case l == 32:
		return base, base, nil
	case l == 31:
		return base, base + 1, nil
	default:
		size := uint32(1) << (32 - l)
		return base + 1, base + size - 2, nil
	}
}

func parseAddr(w string) (uint32, error) {
	a, err := netip.ParseAddr(w)
	if err != nil || !a.Is4() {
		return 0, errors.New("bad address")
	}
	return addrU32(a), nil
}

func addrU32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func (p *Pattern) parseSport(w string) error {
	if w == "-" {
		p.KeepSport = true
		return nil
	}
	body := p.cutSuffix(w)
	a, b, isRange := strings.Cut(body, "-")
	lo, err := strconv.ParseUint(a, 10, 16)
	hi := lo
	if err == nil && isRange {
		hi, err = strconv.ParseUint(b, 10, 16)
	}
	if err != nil || lo == 0 || hi < lo {
		return fmt.Errorf("bad source port %q", w)
	}
	p.SportLo, p.SportHi = uint16(lo), uint16(hi)
	return nil
}

func (p *Pattern) parseDst(w string) error {
	if w == "-" {
		p.KeepDst = true
		return nil
	}
	a, err := parseAddr(w)
	if err != nil {
		return fmt.Errorf("bad destination address %q", w)
	}
	p.Dst = a
	return nil
}

func (p *Pattern) parseDport(w string) error {
	if w == "-" {
		p.KeepDport = true
		return nil
	}
	v, err := strconv.ParseUint(w, 10, 16)
	if err != nil || v == 0 {
		return fmt.Errorf("bad destination port %q", w)
	}
	p.Dport = uint16(v)
	return nil
}

// String prints the spec so that ParseInputSpec reads it back.
func (is InputSpec) String() string {
	switch is.Kind {
	case SpecPass:
		return "pass " + strconv.Itoa(is.FOut)
	case SpecKeep:
		return fmt.Sprintf("keep %d %d", is.FOut, is.ROut)
	case SpecPattern:
		return fmt.Sprintf("pattern %s %d %d", is.Pattern.String(), is.FOut, is.ROut)
	}
	return "drop"
}

// Summary prints the spec as Click's `patterns` handler does: "<drop>",
// "<nochange>", "<keep>" or the pattern's fields.
func (is InputSpec) Summary() string {
	switch is.Kind {
	case SpecPass:
		return "<nochange>"
	case SpecKeep:
		return "<keep>"
	case SpecPattern:
		return is.Pattern.String()
	}
	return "<drop>"
}

// String prints "SADDR SPORT DADDR DPORT" with '-' for kept fields and the
// '#'/'?' suffix on the varying field.
func (p *Pattern) String() string {
	suffix := ""
	switch {
	case p.Sequential:
		suffix = "#"
	case !p.SameFirst:
		suffix = "?"
	}
	var b strings.Builder
	portVaries := !p.KeepSport && p.SportHi > p.SportLo
	switch {
	case p.KeepSrc:
		b.WriteString("-")
	case p.SrcHi > p.SrcLo:
		b.WriteString(addrString(p.SrcLo) + "-" + addrString(p.SrcHi))
		if !portVaries {
			b.WriteString(suffix)
		}
	default:
		b.WriteString(addrString(p.SrcLo))
	}
	switch {
	case p.KeepSport:
		b.WriteString(" -")
	case portVaries:
		fmt.Fprintf(&b, " %d-%d%s", p.SportLo, p.SportHi, suffix)
	default:
		fmt.Fprintf(&b, " %d", p.SportLo)
	}
	if p.KeepDst {
		b.WriteString(" -")
	} else {
		b.WriteString(" " + addrString(p.Dst))
	}
	if p.KeepDport {
		b.WriteString(" -")
	} else {
		fmt.Fprintf(&b, " %d", p.Dport)
	}
	return b.String()
}

// candidates is how many (address, port) choices the pattern offers.
func (p *Pattern) candidates() (nAddr, nPort uint64) {
	nAddr, nPort = 1, 1
	if !p.KeepSrc {
		nAddr = uint64(p.SrcHi-p.SrcLo) + 1
	}
	if !p.KeepSport {
		nPort = uint64(p.SportHi-p.SportLo) + 1
	}
	return nAddr, nPort
}

// apply returns the rewritten tuple for fwd using candidate number v
// (address index v / nPort, port index v % nPort).
func (p *Pattern) apply(fwd FlowKey, v, nPort uint64) FlowKey {
	out := fwd
	if !p.KeepSrc {
		out.Src = p.SrcLo + uint32(v/nPort)
	}
	if !p.KeepSport {
		out.Sport = p.SportLo + uint16(v%nPort)
	}
	if !p.KeepDst {
		out.Dst = p.Dst
	}
	if !p.KeepDport {
		out.Dport = p.Dport
	}
	return out
}
