package rings

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// CompileFilter compiles a tcpdump-like filter expression into classic BPF
// for an Ethernet device. The supported subset:
//
//	ip | ip6 | arp | vlan | tcp | udp | icmp
//	ether proto N | ether (src|dst|host) MAC | ip proto N
//	[src|dst] host A.B.C.D | [src|dst] net A.B.C.D/LEN
//	[tcp|udp] [src|dst] port N      (IPv4 and IPv6 without extension headers)
//	greater N | less N              (frame length)
//
// combined with and/&&, or/||, not/! and parentheses. The program accepts a
// matching frame whole and drops the rest.
func CompileFilter(expr string) ([]bpf.RawInstruction, error) {
	toks := tokenize(expr)
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty filter")
	}
	p := &fparser{toks: toks}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.i])
	}
	var g fgen
	tl, fl := g.label(), g.label()
	g.gen(n, tl, fl)
	g.place(tl)
	g.emit(bpf.RetConstant{Val: 0x40000})
	g.place(fl)
	g.emit(bpf.RetConstant{Val: 0})
	prog, err := g.resolve()
	if err != nil {
		return nil, err
	}
	return bpf.Assemble(prog)
}

func attachFilter(fd int, prog []bpf.RawInstruction) error {
	if len(prog) == 0 {
		return nil
	}
	f := unix.SockFprog{
		Len:    uint16(len(prog)),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0])),
	}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &f)
}

func tokenize(s string) []string {
	var out []string
	cur := strings.Builder{}
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			flush()
		case c == '(' || c == ')':
			flush()
			out = append(out, string(c))
		case c == '!' && (i+1 >= len(s) || s[i+1] != '='):
			flush()
			out = append(out, "!")
		case c == '&' && i+1 < len(s) && s[i+1] == '&':
			flush()
			out = append(out, "and")
			i++
		case c == '|' && i+1 < len(s) && s[i+1] == '|':
			flush()
			out = append(out, "or")
			i++
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// fnode is a filter expression tree node.
type fnode struct {
	op   string // "and", "or", "not", "check"
	a, b *fnode
	c    fcheck
}

// fcheck compares a loaded value: (load & mask) op val.
type fcheck struct {
	off      uint32
	size     int  // 1, 2, 4; 0 = frame length extension; -1 = VLAN present extension
	indirect bool // offset relative to 14 + IPv4 header length
	mask     uint32
	cond     bpf.JumpTest
	val      uint32
}

func and(a, b *fnode) *fnode { return &fnode{op: "and", a: a, b: b} }
func or(a, b *fnode) *fnode  { return &fnode{op: "or", a: a, b: b} }
func chk(off uint32, size int, val uint32) *fnode {
	return &fnode{op: "check", c: fcheck{off: off, size: size, cond: bpf.JumpEqual, val: val}}
}

func ethType(t uint32) *fnode { return chk(12, 2, t) }

var (
	isIP  = func() *fnode { return ethType(0x0800) }
	isIP6 = func() *fnode { return ethType(0x86dd) }
)

func ipProto(p uint32) *fnode {
	return or(and(isIP(), chk(23, 1, p)), and(isIP6(), chk(20, 1, p)))
}

type fparser struct {
	toks []string
	i    int
}

func (p *fparser) peek() string {
	if p.i < len(p.toks) {
		return strings.ToLower(p.toks[p.i])
	}
	return ""
}

func (p *fparser) next() string {
	t := p.peek()
	p.i++
	return t
}

func (p *fparser) expr() (*fnode, error) {
	n, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.peek() == "or" {
		p.i++
		m, err := p.term()
		if err != nil {
			return nil, err
		}
		n = or(n, m)
	}
	return n, nil
}

func (p *fparser) term() (*fnode, error) {
	n, err := p.factor()
	if err != nil {
		return nil, err
	}
	for p.peek() == "and" {
		p.i++
		m, err := p.factor()
		if err != nil {
			return nil, err
		}
		n = and(n, m)
	}
	return n, nil
}

func (p *fparser) factor() (*fnode, error) {
	switch p.peek() {
	case "":
		return nil, fmt.Errorf("unexpected end of filter")
	case "not", "!":
		p.i++
		n, err := p.factor()
		if err != nil {
			return nil, err
		}
		return &fnode{op: "not", a: n}, nil
	case "(":
		p.i++
		n, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		return n, nil
	}
	return p.primitive()
}

func parseNum(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return uint32(v), nil
}

func (p *fparser) primitive() (*fnode, error) {
	t := p.next()
	switch t {
	case "ip", "ip6":
		if p.peek() == "proto" {
			p.i++
			v, err := parseNum(p.next())
			if err != nil {
				return nil, err
			}
			if t == "ip" {
				return and(isIP(), chk(23, 1, v)), nil
			}
			return and(isIP6(), chk(20, 1, v)), nil
		}
		if t == "ip" {
			return isIP(), nil
		}
		return isIP6(), nil
	case "arp":
		return ethType(0x0806), nil
	case "vlan":
		return or(&fnode{op: "check", c: fcheck{size: -1, cond: bpf.JumpEqual, val: 1}}, ethType(0x8100)), nil
	case "icmp":
		return and(isIP(), chk(23, 1, 1)), nil
	case "tcp", "udp":
		proto := uint32(6)
		if t == "udp" {
			proto = 17
		}
		switch p.peek() {
		case "port", "src", "dst":
			return p.port(proto)
		}
		return ipProto(proto), nil
	case "ether":
		switch w := p.next(); w {
		case "proto":
			v, err := parseNum(p.next())
			if err != nil {
				return nil, err
			}
			return ethType(v), nil
		case "src", "dst", "host":
			hw, err := parseMAC(p.next())
			if err != nil {
				return nil, err
			}
			at := func(off uint32) *fnode {
				return and(chk(off, 4, uint32(hw[0])<<24|uint32(hw[1])<<16|uint32(hw[2])<<8|uint32(hw[3])),
					chk(off+4, 2, uint32(hw[4])<<8|uint32(hw[5])))
			}
			switch w {
			case "src":
				return at(6), nil
			case "dst":
				return at(0), nil
			}
			return or(at(0), at(6)), nil
		default:
			return nil, fmt.Errorf("ether %q: want proto, src, dst or host", w)
		}
	case "src", "dst":
		switch p.peek() {
		case "host", "net":
			return p.hostNet(t, p.next())
		case "port":
			p.i--
			return p.port(0)
		}
		return nil, fmt.Errorf("%s: want host, net or port", t)
	case "host", "net":
		return p.hostNet("", t)
	case "port":
		p.i--
		return p.port(0)
	case "greater", "less":
		v, err := parseNum(p.next())
		if err != nil {
			return nil, err
		}
		if t == "greater" {
			return &fnode{op: "check", c: fcheck{size: 0, cond: bpf.JumpGreaterOrEqual, val: v}}, nil
		}
		return &fnode{op: "check", c: fcheck{size: 0, cond: bpf.JumpLessOrEqual, val: v}}, nil
	}
	return nil, fmt.Errorf("unknown filter word %q", t)
}

func (p *fparser) hostNet(dir, kind string) (*fnode, error) {
	arg := p.next()
	var pfx netip.Prefix
	var err error
	if kind == "host" {
		var a netip.Addr
		a, err = netip.ParseAddr(arg)
		if err == nil {
			pfx = netip.PrefixFrom(a, 32)
		}
	} else {
		pfx, err = netip.ParsePrefix(arg)
	}
	if err != nil || !pfx.Addr().Is4() {
		return nil, fmt.Errorf("%s %q: want an IPv4 address%s", kind, arg, map[bool]string{true: "/len", false: ""}[kind == "net"])
	}
	pfx = pfx.Masked()
	a4 := pfx.Addr().As4()
	val := uint32(a4[0])<<24 | uint32(a4[1])<<16 | uint32(a4[2])<<8 | uint32(a4[3])
	mask := uint32(0)
	if pfx.Bits() > 0 {
		mask = ^uint32(0) << (32 - pfx.Bits())
	}
	at := func(off uint32) *fnode {
		return &fnode{op: "check", c: fcheck{off: off, size: 4, mask: mask, cond: bpf.JumpEqual, val: val}}
	}
	var n *fnode
	switch dir {
	case "src":
		n = at(26)
	case "dst":
		n = at(30)
	default:
		n = or(at(26), at(30))
	}
	return and(isIP(), n), nil
}

// port parses "[src|dst] port N" (after tcp/udp when proto != 0).
func (p *fparser) port(proto uint32) (*fnode, error) {
	dir := ""
	if w := p.peek(); w == "src" || w == "dst" {
		dir = w
		p.i++
	}
	if p.next() != "port" {
		return nil, fmt.Errorf("expected port")
	}
	w := p.next()
	v, err := parseNum(w)
	if err != nil || v > 65535 {
		return nil, fmt.Errorf("bad port %q", w)
	}
	v4 := func(off uint32) *fnode {
		return &fnode{op: "check", c: fcheck{off: off, size: 2, indirect: true, cond: bpf.JumpEqual, val: v}}
	}
	v6 := func(off uint32) *fnode { return chk(54+off, 2, v) }
	sel := func(f func(uint32) *fnode) *fnode {
		switch dir {
		case "src":
			return f(0)
		case "dst":
			return f(2)
		}
		return or(f(0), f(2))
	}
	notFrag := &fnode{op: "check", c: fcheck{off: 20, size: 2, mask: 0x1fff, cond: bpf.JumpEqual, val: 0}}
	var p4, p6 *fnode
	if proto == 0 {
		p4 = or(chk(23, 1, 6), chk(23, 1, 17))
		p6 = or(chk(20, 1, 6), chk(20, 1, 17))
	} else {
		p4, p6 = chk(23, 1, proto), chk(20, 1, proto)
	}
	return or(and(and(isIP(), p4), and(notFrag, sel(v4))), and(and(isIP6(), p6), sel(v6))), nil
}

func parseMAC(s string) ([6]byte, error) {
	var hw [6]byte
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return hw, fmt.Errorf("bad MAC address %q", s)
	}
	for i, x := range parts {
		v, err := strconv.ParseUint(x, 16, 8)
		if err != nil {
			return hw, fmt.Errorf("bad MAC address %q", s)
		}
		hw[i] = byte(v)
	}
	return hw, nil
}

// fgen emits code with symbolic jump labels, resolved at the end.
type fgen struct {
	ins    []bpf.Instruction
	jumps  map[int][2]int // instruction index -> (true label, false label)
	labels []int          // label -> instruction index
}

func (g *fgen) label() int {
	g.labels = append(g.labels, -1)
	return len(g.labels) - 1
}

func (g *fgen) place(l int) { g.labels[l] = len(g.ins) }

func (g *fgen) emit(i bpf.Instruction) { g.ins = append(g.ins, i) }

func (g *fgen) gen(n *fnode, t, f int) {
	switch n.op {
	case "and":
		m := g.label()
		g.gen(n.a, m, f)
		g.place(m)
		g.gen(n.b, t, f)
	case "or":
		m := g.label()
		g.gen(n.a, t, m)
		g.place(m)
		g.gen(n.b, t, f)
	case "not":
		g.gen(n.a, f, t)
	case "check":
		c := n.c
		switch {
		case c.size == 0:
			g.emit(bpf.LoadExtension{Num: bpf.ExtLen})
		case c.size == -1:
			g.emit(bpf.LoadExtension{Num: bpf.ExtVLANTagPresent})
		case c.indirect:
			g.emit(bpf.LoadMemShift{Off: 14})
			g.emit(bpf.LoadIndirect{Off: 14 + c.off, Size: c.size})
		default:
			g.emit(bpf.LoadAbsolute{Off: c.off, Size: c.size})
		}
		if c.mask != 0 {
			g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: c.mask})
		}
		if g.jumps == nil {
			g.jumps = map[int][2]int{}
		}
		g.jumps[len(g.ins)] = [2]int{t, f}
		g.emit(bpf.JumpIf{Cond: c.cond, Val: c.val})
	}
}

func (g *fgen) resolve() ([]bpf.Instruction, error) {
	for idx, tf := range g.jumps {
		j := g.ins[idx].(bpf.JumpIf)
		st, sf := g.labels[tf[0]]-idx-1, g.labels[tf[1]]-idx-1
		if st < 0 || sf < 0 || st > 255 || sf > 255 {
			return nil, fmt.Errorf("filter too complex (jump of %d instructions)", max(st, sf))
		}
		j.SkipTrue, j.SkipFalse = uint8(st), uint8(sf)
		g.ins[idx] = j
	}
	return g.ins, nil
}
