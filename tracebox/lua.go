package tracebox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"flowbox/lua/luaerr"
)

// LuaConfig configures the tracebox Lua API registered into a state.
type LuaConfig struct {
	// Options are the base options of every tracebox() / sendrecv() call
	// (interface, timeout, tries, compat, transport, pcap file...).
	// Options.Host is the default destination when a probe has none.
	Options Options
	Argv    []string
	Stdout  io.Writer // default os.Stdout
	Stderr  io.Writer // default os.Stderr
	// OnHop is called (from the Lua goroutine) for every hop of every
	// tracebox() call, after the Lua callback. The appliance uses it to
	// feed its on_probe_result hook.
	OnHop func(h *Hop)
	// NoNetwork makes filter(), send() and sendrecv() fail unless
	// Options.Transport is set (used by ParseProbe and sandboxes).
	NoNetwork bool
}

const (
	mtPacket = "tracebox.Packet"
	mtLayer  = "tracebox.Layer"
	mtMods   = "tracebox.PacketModifications"
	mtFilter = "tracebox.FWFilter"
)

type luaAPI struct {
	cfg    *LuaConfig
	minTTL int
	maxTTL int
}

// RegisterLua installs the tracebox Lua API (tracebox 0.4.4 compatible,
// with the 0.1–0.3 callback form) into L.
func RegisterLua(L *lua.LState, cfg *LuaConfig) {
	if cfg == nil {
		cfg = &LuaConfig{}
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	a := &luaAPI{cfg: cfg, minTTL: cfg.Options.MinTTL, maxTTL: cfg.Options.MaxTTL}
	a.register(L)
}

// ParseProbe evaluates a probe expression (as -p does: pkt = <expr>) in a
// sandboxed Lua state with a time limit. A single layer is accepted.
func ParseProbe(expr string) (*Packet, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		n string
		f lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.f))
		L.Push(lua.LString(lib.n))
		L.Call(1, 0)
	}
	for _, n := range []string{"dofile", "loadfile", "load", "loadstring", "require", "module", "collectgarbage"} {
		L.SetGlobal(n, lua.LNil)
	}
	RegisterLua(L, &LuaConfig{NoNetwork: true, Stdout: io.Discard, Stderr: io.Discard})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	L.SetContext(ctx)
	if err := RunLua(L, "__tbx_pkt = "+expr, "probe"); err != nil {
		return nil, probeError(expr, err)
	}
	p := toPacket(L.GetGlobal("__tbx_pkt"))
	if p == nil {
		return nil, fmt.Errorf("probe %q does not evaluate to a packet", expr)
	}
	return p, nil
}

// RunLua compiles src under the chunk name name (a script's path,
// "(command line)" for -l) and runs it in L. Errors are one line and name
// the source once, then the line: "NAME:LINE: message" (a compile error
// is a *luaerr.Error; a run-time error unwraps to gopher-lua's
// *lua.ApiError, whose stack traceback is left out of the message).
func RunLua(L *lua.LState, src, name string) error {
	proto, err := luaerr.Compile(src, name)
	if err != nil {
		return err
	}
	L.Push(L.NewFunctionFromProto(proto))
	if err := L.PCall(0, lua.MultRet, nil); err != nil {
		return &runError{luaerr.Message(err), err}
	}
	return nil
}

type runError struct {
	msg string
	err error
}

func (e *runError) Error() string { return e.msg }
func (e *runError) Unwrap() error { return e.err }

// probeError is a -p expression's error: the expression names the source,
// so the chunk name is left out (and the line too unless the expression
// has several), as is the stack traceback.
func probeError(expr string, err error) error {
	line, msg := 0, luaerr.Message(err)
	var le *luaerr.Error
	if errors.As(err, &le) {
		line, msg = le.Line, le.Msg
	} else if rest, ok := strings.CutPrefix(msg, "probe:"); ok {
		if n, m, ok := strings.Cut(rest, ": "); ok {
			if l, e := strconv.Atoi(n); e == nil {
				line, msg = l, m
			}
		}
	} else {
		msg = strings.TrimPrefix(msg, "probe: ")
	}
	if line > 0 && strings.ContainsAny(expr, "\n\r") {
		return fmt.Errorf("probe %q: line %d: %s", expr, line, msg)
	}
	return fmt.Errorf("probe %q: %s", expr, msg)
}

// toPacket converts a Lua Packet or Layer to a packet (a copy for layers).
func toPacket(v lua.LValue) *Packet {
	ud, ok := v.(*lua.LUserData)
	if !ok {
		return nil
	}
	switch x := ud.Value.(type) {
	case *Packet:
		return x
	case *Layer:
		return &Packet{Layers: []*Layer{x.Clone()}}
	}
	return nil
}

// PushPacket pushes a Go packet as a Lua Packet.
func PushPacket(L *lua.LState, p *Packet) lua.LValue { return pushUserData(L, p, mtPacket) }

func pushLayer(L *lua.LState, l *Layer) lua.LValue { return pushUserData(L, l, mtLayer) }

func pushMods(L *lua.LState, m *Mods) lua.LValue { return pushUserData(L, m, mtMods) }

// pushUserData wraps v in a userdata with metatable mt (nil for a nil v).
func pushUserData[T any](L *lua.LState, v *T, mt string) lua.LValue {
	if v == nil {
		return lua.LNil
	}
	ud := L.NewUserData()
	ud.Value = v
	L.SetMetatable(ud, L.GetTypeMetatable(mt))
	return ud
}

func checkPacket(L *lua.LState, n int) *Packet {
	ud := L.CheckUserData(n)
	if p, ok := ud.Value.(*Packet); ok {
		return p
	}
	if l, ok := ud.Value.(*Layer); ok {
		return &Packet{Layers: []*Layer{l}}
	}
	L.ArgError(n, "Packet expected")
	return nil
}

func checkLayer(L *lua.LState, n int) *Layer {
	ud := L.CheckUserData(n)
	if l, ok := ud.Value.(*Layer); ok {
		return l
	}
	L.ArgError(n, "layer expected")
	return nil
}

// ---- argument helpers (tracebox semantics: no string coercion) ----

func tInt(L *lua.LState, t *lua.LTable, key string) (uint64, bool) {
	if t == nil {
		return 0, false
	}
	v := t.RawGetString(key)
	if v == lua.LNil {
		return 0, false
	}
	n, ok := v.(lua.LNumber)
	if !ok {
		L.RaiseError("%s is not an integer", key)
	}
	return uint64(int64(n)), true
}

func tStr(L *lua.LState, t *lua.LTable, key string) (string, bool) {
	if t == nil {
		return "", false
	}
	v := t.RawGetString(key)
	if v == lua.LNil {
		return "", false
	}
	s, ok := v.(lua.LString)
	if !ok {
		L.RaiseError("%s is not a string", key)
	}
	return string(s), true
}

func tBool(L *lua.LState, t *lua.LTable, key string) (bool, bool) {
	if t == nil {
		return false, false
	}
	v := t.RawGetString(key)
	if v == lua.LNil {
		return false, false
	}
	b, ok := v.(lua.LBool)
	if !ok {
		L.RaiseError("%s is not a boolean", key)
	}
	return bool(b), true
}

func argInt(L *lua.LState, n int) uint64 {
	v := L.Get(n)
	num, ok := v.(lua.LNumber)
	if !ok {
		L.ArgError(n, "not an integer")
	}
	return uint64(int64(num))
}

func parseAddr(L *lua.LState, s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		L.RaiseError("invalid address %q", s)
	}
	return a.Unmap()
}

func byteTable(L *lua.LState, t *lua.LTable) []byte {
	var b []byte
	if t == nil {
		return nil
	}
	t.ForEach(func(k, v lua.LValue) {
		if _, ok := k.(lua.LNumber); !ok {
			return
		}
		n, ok := v.(lua.LNumber)
		if !ok {
			L.RaiseError("byte is not an integer")
		}
		b = append(b, byte(int(n)))
	})
	return b
}

func bytesToTable(L *lua.LState, b []byte) *lua.LTable {
	t := L.CreateTable(len(b), 0)
	for _, c := range b {
		t.Append(lua.LNumber(c))
	}
	return t
}

// ---- constructors ----

func mkIP(L *lua.LState, t *lua.LTable) *Layer {
	l := newIP()
	l.F[ipID].V = uint64(rand.Uint32() & 0xffff)
	if s, ok := tStr(L, t, "dst"); ok {
		l.setA(ipDst, parseAddr(L, s))
	}
	if s, ok := tStr(L, t, "src"); ok {
		l.setA(ipSrc, parseAddr(L, s))
	}
	for _, kv := range []struct {
		k string
		i int
	}{{"id", ipID}, {"flags", ipFlags}, {"ttl", ipTTL}, {"offset", ipFragOff}, {"ecn", ipECN}, {"dscp", ipDSCP}, {"proto", ipProto}} {
		if v, ok := tInt(L, t, kv.k); ok {
			l.setV(kv.i, v)
		}
	}
	return l
}

func mkIPv6(L *lua.LState, t *lua.LTable) *Layer {
	l := newIPv6()
	if s, ok := tStr(L, t, "dst"); ok {
		l.setA(v6Dst, parseAddr(L, s))
	}
	if s, ok := tStr(L, t, "src"); ok {
		l.setA(v6Src, parseAddr(L, s))
	}
	for _, kv := range []struct {
		k string
		i int
	}{{"tc", v6TC}, {"flowlabel", v6Flow}, {"hoplimit", v6Hop}} {
		if v, ok := tInt(L, t, kv.k); ok {
			l.setV(kv.i, v)
		}
	}
	return l
}

func mkTCP(L *lua.LState, t *lua.LTable) *Layer {
	l := newTCP()
	l.F[tcpSport].V = uint64(1024 + rand.IntN(64511))
	l.F[tcpDport].V = uint64(1024 + rand.IntN(64511))
	l.F[tcpSeq].V = uint64(rand.Uint32())
	for _, kv := range []struct {
		k string
		i int
	}{{"src", tcpSport}, {"dst", tcpDport}, {"seq", tcpSeq}, {"ack", tcpAck}, {"win", tcpWin}, {"flags", tcpFlags}} {
		if v, ok := tInt(L, t, kv.k); ok {
			l.setV(kv.i, v)
		}
	}
	return l
}

func mkUDP(L *lua.LState, t *lua.LTable) *Layer {
	l := newUDP()
	l.F[udpSport].V = uint64(1024 + rand.IntN(64511))
	l.F[udpDport].V = uint64(1024 + rand.IntN(64511))
	if v, ok := tInt(L, t, "src"); ok {
		l.setV(udpSport, v)
	}
	if v, ok := tInt(L, t, "dst"); ok {
		l.setV(udpDport, v)
	}
	return l
}

func mkICMP(L *lua.LState, t *lua.LTable) *Layer {
	l := newICMP(false)
	ty, ok := tInt(L, t, "type")
	if !ok {
		L.RaiseError("type is required")
	}
	l.F[icmpType].V = ty
	if v, ok := tInt(L, t, "code"); ok {
		l.F[icmpCode].V = v
	}
	rest := uint32(0)
	if v, ok := tInt(L, t, "id"); ok {
		rest = rest&0xffff | uint32(v)<<16
	}
	if v, ok := tInt(L, t, "seqno"); ok {
		rest = rest&0xffff0000 | uint32(v)&0xffff
	}
	if v, ok := tInt(L, t, "ptr"); ok {
		rest = uint32(v) << 24
	}
	if v, ok := tInt(L, t, "len"); ok {
		rest = rest&^0x00ff0000 | uint32(v&0xff)<<16
	}
	if v, ok := tInt(L, t, "mtu"); ok {
		rest = rest&0xffff0000 | uint32(v)&0xffff
	}
	if s, ok := tStr(L, t, "gw"); ok {
		a := parseAddr(L, s).As4()
		rest = be32(a[:])
	}
	l.F[icmpRest].V = uint64(rest)
	return l
}

func opt(kind uint8, data ...byte) *Layer { return newTCPOpt(kind, data) }

func mssOpt(v uint16) *Layer { return opt(OptMSS, byte(v>>8), byte(v)) }

func tsOpt(val, ecr uint32) *Layer {
	return opt(OptTimestamp, byte(val>>24), byte(val>>16), byte(val>>8), byte(val), byte(ecr>>24), byte(ecr>>16), byte(ecr>>8), byte(ecr))
}

func mpCapable(skey uint64, rkey *uint64, csum bool) *Layer {
	d := []byte{0, 1}
	if csum {
		d[1] |= 0x80
	}
	for s := 56; s >= 0; s -= 8 {
		d = append(d, byte(skey>>uint(s)))
	}
	if rkey != nil {
		for s := 56; s >= 0; s -= 8 {
			d = append(d, byte(*rkey>>uint(s)))
		}
	}
	return opt(OptMPTCP, d...)
}

func mpJoin(token, nonce uint32, id uint8, backup bool) *Layer {
	b := byte(0x10)
	if backup {
		b |= 1
	}
	return opt(OptMPTCP, b, id, byte(token>>24), byte(token>>16), byte(token>>8), byte(token), byte(nonce>>24), byte(nonce>>16), byte(nonce>>8), byte(nonce))
}

func edoOpt(n int) *Layer {
	switch n {
	case 2:
		return opt(OptEDO)
	case 6:
		return opt(OptEDO, 0, 0, 0, 0)
	}
	return opt(OptEDO, 0, 0)
}

func ipOpt(t byte, data []byte) *Layer {
	l := &Layer{Kind: KIPOpt}
	if t <= 1 {
		l.F = []Field{{Name: "CopyFlag", V: uint64(t >> 7)}, {Name: "Class", V: uint64(t>>5) & 3}, {Name: "Option", V: uint64(t & 0x1f)}}
		return l
	}
	l.F = []Field{{Name: "CopyFlag", V: uint64(t >> 7)}, {Name: "Class", V: uint64(t>>5) & 3}, {Name: "Option", V: uint64(t & 0x1f)}, {Name: "Length", V: uint64(len(data) + 2)}}
	l.Data = append([]byte(nil), data...)
	return l
}

func routeOpt(L *lua.LState, t byte, addrs []string, slots int) *Layer {
	d := []byte{4}
	for _, s := range addrs {
		a := parseAddr(L, s).As4()
		d = append(d, a[:]...)
	}
	for i := len(addrs); i < slots; i++ {
		d = append(d, 0, 0, 0, 0)
	}
	return ipOpt(t, d)
}

func strList(L *lua.LState, v lua.LValue) []string {
	var out []string
	if t, ok := v.(*lua.LTable); ok {
		t.ForEach(func(_, x lua.LValue) { out = append(out, x.String()) })
	} else if v != lua.LNil {
		out = append(out, v.String())
	}
	return out
}

func pkt(ls ...*Layer) *Packet { return &Packet{Layers: ls} }

// concat implements "/" "+" "..": layer/layer -> new packet; packet/layer
// -> appends a copy to the left packet (in place); layer/packet -> new
// packet; packet/packet -> appends copies into the left packet.
func concat(L *lua.LState) int {
	a, b := L.CheckUserData(1), L.CheckUserData(2)
	var right []*Layer
	switch x := b.Value.(type) {
	case *Layer:
		right = []*Layer{x.Clone()}
	case *Packet:
		for _, l := range x.Layers {
			right = append(right, l.Clone())
		}
	default:
		L.ArgError(2, "Packet or layer expected")
	}
	switch x := a.Value.(type) {
	case *Layer:
		L.Push(PushPacket(L, pkt(icmpAfterV6(append([]*Layer{x.Clone()}, right...))...)))
	case *Packet:
		x.Layers = icmpAfterV6(append(x.Layers, right...))
		L.Push(a)
	default:
		L.ArgError(1, "Packet or layer expected")
	}
	return 1
}

// icmpAfterV6 turns an ICMP layer following an IPv6 header into ICMPv6
// (ipv6{} / icmp{} is an ICMPv6 message); the ICMPv4 echo request/reply
// types 8/0 (unassigned in ICMPv6) become 128/129, other types are kept.
func icmpAfterV6(ls []*Layer) []*Layer {
	for i := 1; i < len(ls); i++ {
		if ls[i].Kind == KICMP && ls[i-1].Kind == KIPv6 {
			l := ls[i]
			l.Kind = KICMPv6
			switch l.F[icmpType].V {
			case 8:
				l.F[icmpType].V = 128
			case 0:
				l.F[icmpType].V = 129
			}
		}
	}
	return ls
}

func hexdump(b []byte) string {
	var s strings.Builder
	for i := 0; i < len(b); i += 16 {
		e := min(i+16, len(b))
		fmt.Fprintf(&s, "%08x  ", i)
		for j := i; j < i+16; j++ {
			if j < e {
				fmt.Fprintf(&s, "%02x ", b[j])
			} else {
				s.WriteString("   ")
			}
		}
		s.WriteString(" " + printable(b[i:e]) + "\n")
	}
	return s.String()
}

// craftAny crafts a packet whose addresses may be unset (0.0.0.0 / ::).
func craftAny(p *Packet) ([]byte, error) {
	c := p.Clone()
	for _, l := range c.Layers {
		switch l.Kind {
		case KIP:
			for _, i := range []int{ipSrc, ipDst} {
				if !l.F[i].A.Is4() {
					l.F[i].A = netip.IPv4Unspecified()
				}
			}
		case KIPv6:
			for _, i := range []int{v6Src, v6Dst} {
				if !l.F[i].A.Is6() {
					l.F[i].A = netip.IPv6Unspecified()
				}
			}
		}
	}
	if c.Net() == nil && len(c.Layers) > 0 && (c.Layers[0].Kind == KRaw || c.Layers[0].Kind == KTCPOpt) {
		var out []byte
		for _, l := range c.Layers {
			switch l.Kind {
			case KRaw:
				out = append(out, l.Data...)
			case KTCPOpt:
				out = append(out, l.optKind())
				if len(l.F) > 1 {
					out = append(out, byte(l.Size()))
					out = append(out, optData(l)...)
				}
			}
		}
		return out, nil
	}
	return Craft(c, 0)
}

func (a *luaAPI) register(L *lua.LState) {
	// Packet
	pm := L.NewTypeMetatable(mtPacket)
	L.SetField(pm, "__index", L.SetFuncs(L.NewTable(), a.packetMethods()))
	L.SetField(pm, "__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(strings.TrimSuffix(checkPacket(L, 1).String(), "\n")))
		return 1
	}))
	for _, op := range []string{"__div", "__add", "__concat"} {
		L.SetField(pm, op, L.NewFunction(concat))
	}
	// Layer
	lm := L.NewTypeMetatable(mtLayer)
	L.SetField(lm, "__index", L.NewFunction(a.layerIndex))
	L.SetField(lm, "__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(checkLayer(L, 1).String()))
		return 1
	}))
	for _, op := range []string{"__div", "__add", "__concat"} {
		L.SetField(lm, op, L.NewFunction(concat))
	}
	// Mods
	mm := L.NewTypeMetatable(mtMods)
	L.SetField(mm, "__index", L.SetFuncs(L.NewTable(), a.modsMethods()))
	L.SetField(mm, "__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(checkMods(L).String()))
		return 1
	}))
	// FWFilter
	fm := L.NewTypeMetatable(mtFilter)
	closeF := L.NewFunction(func(L *lua.LState) int {
		if f, ok := L.CheckUserData(1).Value.(*Filter); ok {
			_ = f.Close()
		}
		return 0
	})
	L.SetField(fm, "__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{"close": func(L *lua.LState) int {
		L.Push(closeF)
		L.Push(L.Get(1))
		L.Call(1, 0)
		return 0
	}}))
	L.SetField(fm, "__gc", closeF)

	reg := func(name string, f lua.LGFunction) { L.SetGlobal(name, L.NewFunction(f)) }
	layerCtor := func(mk func(*lua.LState, *lua.LTable) *Layer) lua.LGFunction {
		return func(L *lua.LState) int {
			L.Push(pushLayer(L, mk(L, L.OptTable(1, nil))))
			return 1
		}
	}
	reg("ip", layerCtor(mkIP))
	reg("ipv6", layerCtor(mkIPv6))
	reg("tcp", layerCtor(mkTCP))
	reg("udp", layerCtor(mkUDP))
	reg("icmp", layerCtor(mkICMP))
	reg("raw", func(L *lua.LState) int {
		switch v := L.Get(1).(type) {
		case lua.LString:
			L.Push(pushLayer(L, NewRaw([]byte(v))))
		case *lua.LTable:
			L.Push(pushLayer(L, NewRaw(byteTable(L, v))))
		default:
			L.Push(pushLayer(L, NewRaw(nil)))
		}
		return 1
	})
	// TCP options
	reg("nop", func(L *lua.LState) int { L.Push(pushLayer(L, opt(OptNOP))); return 1 })
	reg("eol", func(L *lua.LState) int { L.Push(pushLayer(L, opt(OptEOL))); return 1 })
	reg("mss", func(L *lua.LState) int { L.Push(pushLayer(L, mssOpt(uint16(argInt(L, 1))))); return 1 })
	reg("wscale", func(L *lua.LState) int { L.Push(pushLayer(L, opt(OptWScale, byte(argInt(L, 1))))); return 1 })
	reg("sackp", func(L *lua.LState) int { L.Push(pushLayer(L, opt(OptSACKP))); return 1 })
	sack := func(L *lua.LState) *Layer {
		var d []byte
		put := func(v lua.LValue) {
			n, ok := v.(lua.LNumber)
			if !ok {
				L.RaiseError("sack edge is not an integer")
			}
			x := uint32(int64(n))
			d = append(d, byte(x>>24), byte(x>>16), byte(x>>8), byte(x))
		}
		if t, ok := L.Get(1).(*lua.LTable); ok {
			t.ForEach(func(_, v lua.LValue) {
				if pair, ok := v.(*lua.LTable); ok {
					put(pair.RawGetInt(1))
					put(pair.RawGetInt(2))
				} else {
					put(v)
				}
			})
		}
		return opt(OptSACK, d...)
	}
	reg("sack", func(L *lua.LState) int { L.Push(pushLayer(L, sack(L))); return 1 })
	reg("timestamp", func(L *lua.LState) int {
		t := L.OptTable(1, nil)
		val, ok := tInt(L, t, "val")
		if !ok {
			val = uint64(rand.Uint32())
		}
		ecr, _ := tInt(L, t, "ecr")
		L.Push(pushLayer(L, tsOpt(uint32(val), uint32(ecr))))
		return 1
	})
	reg("mpcapable", func(L *lua.LState) int {
		t := L.OptTable(1, nil)
		sk, ok := tInt(L, t, "skey")
		if !ok {
			sk = rand.Uint64()
		}
		var rk *uint64
		if v, ok := tInt(L, t, "rkey"); ok {
			rk = &v
		}
		cs, ok := tBool(L, t, "csum")
		if !ok {
			cs = true
		}
		L.Push(pushLayer(L, mpCapable(sk, rk, cs)))
		return 1
	})
	reg("mpjoin", func(L *lua.LState) int {
		t := L.OptTable(1, nil)
		tok, ok := tInt(L, t, "token")
		if !ok {
			tok = uint64(rand.Uint32())
		}
		non, ok := tInt(L, t, "nonce")
		if !ok {
			non = uint64(rand.Uint32())
		}
		id, ok := tInt(L, t, "id")
		if !ok {
			id = 1
		}
		bk, _ := tBool(L, t, "backup")
		L.Push(pushLayer(L, mpJoin(uint32(tok), uint32(non), uint8(id), bk)))
		return 1
	})
	reg("tfo", func(L *lua.LState) int {
		L.Push(pushLayer(L, opt(OptTFO, byteTable(L, L.OptTable(1, nil))...)))
		return 1
	})
	reg("edo", func(L *lua.LState) int { L.Push(pushLayer(L, edoOpt(int(argInt(L, 1))))); return 1 })
	// IP options
	reg("ip_nop", func(L *lua.LState) int { L.Push(pushLayer(L, ipOpt(1, nil))); return 1 })
	reg("ip_eol", func(L *lua.LState) int { L.Push(pushLayer(L, ipOpt(0, nil))); return 1 })
	reg("rr", func(L *lua.LState) int {
		L.Push(pushLayer(L, routeOpt(L, 7, nil, int(L.OptNumber(1, 9)))))
		return 1
	})
	reg("ssrr", func(L *lua.LState) int {
		a := strList(L, L.Get(1))
		L.Push(pushLayer(L, routeOpt(L, 0x89, a, len(a))))
		return 1
	})
	reg("lsrr", func(L *lua.LState) int {
		a := strList(L, L.Get(1))
		L.Push(pushLayer(L, routeOpt(L, 0x83, a, len(a))))
		return 1
	})
	reg("traceroute", func(L *lua.LState) int {
		o := parseAddr(L, L.CheckString(1)).As4()
		L.Push(pushLayer(L, ipOpt(0x52, append([]byte{0, 1, 0, 0, 0, 0, 0, 0}, o[:]...))))
		return 1
	})
	padded := func(name string, mk func(L *lua.LState) *Layer) {
		reg(name, func(L *lua.LState) int { L.Push(PushPacket(L, pkt(ipOpt(1, nil), mk(L)))); return 1 })
	}
	padded("RR", func(L *lua.LState) *Layer { return routeOpt(L, 7, nil, int(L.OptNumber(1, 9))) })
	padded("SSRR", func(L *lua.LState) *Layer { a := strList(L, L.Get(1)); return routeOpt(L, 0x89, a, len(a)) })
	padded("LSRR", func(L *lua.LState) *Layer { a := strList(L, L.Get(1)); return routeOpt(L, 0x83, a, len(a)) })
	reg("SACK", func(L *lua.LState) int { L.Push(PushPacket(L, pkt(opt(OptNOP), opt(OptNOP), sack(L)))); return 1 })
	// ICMP helpers
	icmpHelper := func(ty uint8, f func(L *lua.LState, l *Layer)) lua.LGFunction {
		return func(L *lua.LState) int {
			l := newICMP(false)
			l.F[icmpType].V = uint64(ty)
			if f != nil {
				f(L, l)
			}
			L.Push(pushLayer(L, l))
			return 1
		}
	}
	idseq := func(L *lua.LState, l *Layer) {
		id := uint64(L.OptNumber(1, lua.LNumber(rand.IntN(65536))))
		seq := uint64(L.OptNumber(2, 0))
		l.F[icmpRest].V = (id&0xffff)<<16 | seq&0xffff
	}
	reg("ICMPEchoReq", icmpHelper(8, idseq))
	reg("ICMPEchoRep", icmpHelper(0, idseq))
	reg("ICMPDstUnreach", icmpHelper(3, func(L *lua.LState, l *Layer) { l.F[icmpRest].V = uint64(L.OptNumber(1, 0)) & 0xffff }))
	reg("ICMPRedirect", icmpHelper(5, func(L *lua.LState, l *Layer) {
		if s := L.OptString(1, ""); s != "" {
			a := parseAddr(L, s).As4()
			l.F[icmpRest].V = uint64(be32(a[:]))
		}
	}))
	reg("ICMPSrcQuench", icmpHelper(4, nil))
	reg("ICMPTimeExceeded", icmpHelper(11, nil))

	// predefined instances (once per state)
	setL := func(name string, l *Layer) { L.SetGlobal(name, pushLayer(L, l)) }
	setP := func(name string, p *Packet) { L.SetGlobal(name, PushPacket(L, p)) }
	ipl := newIP()
	ipl.F[ipID].V = uint64(rand.Uint32() & 0xffff)
	setL("IP", ipl)
	v6 := newIPv6()
	v6.F[v6Flow].V = uint64(rand.Uint32() & 0xfffff)
	setL("IPv6", v6)
	t := newTCP()
	t.F[tcpSport].V = uint64(1024 + rand.IntN(64511))
	t.F[tcpSeq].V = uint64(rand.Uint32())
	setL("TCP", t)
	u := newUDP()
	u.F[udpSport].V = uint64(1024 + rand.IntN(64511))
	setL("UDP", u)
	setL("MSS", mssOpt(1460))
	setL("NOP", opt(OptNOP))
	setL("EOL", opt(OptEOL))
	setP("WSCALE", pkt(opt(OptWScale, 14), opt(OptNOP)))
	setP("SACKP", pkt(opt(OptNOP), opt(OptNOP), opt(OptSACKP)))
	setP("TS", pkt(opt(OptNOP), opt(OptNOP), tsOpt(rand.Uint32(), 0)))
	setL("MPCAPABLE", mpCapable(rand.Uint64(), nil, true))
	setL("MPJOIN", mpJoin(rand.Uint32(), rand.Uint32(), 1, false))
	setP("TFO", pkt(opt(OptNOP), opt(OptNOP), opt(OptTFO)))
	setL("EDO", edoOpt(4))
	setL("EDOREQUEST", edoOpt(2))
	setL("EDOEXT", edoOpt(6))
	setL("IP_NOP", ipOpt(1, nil))
	setL("IP_EOL", ipOpt(0, nil))

	// class tables
	classTbl := func(name string, fns map[string]lua.LGFunction, consts map[string]int) {
		tb := L.SetFuncs(L.NewTable(), fns)
		for k, v := range consts {
			tb.RawSetString(k, lua.LNumber(v))
		}
		L.SetGlobal(name, tb)
	}
	tcpOptNew := map[string]lua.LGFunction{
		"new": func(L *lua.LState) int {
			t := L.OptTable(1, nil)
			k, _ := tInt(L, t, "kind")
			var d []byte
			if dt, ok := t.RawGetString("data").(*lua.LTable); ok {
				d = byteTable(L, dt)
			}
			l := opt(uint8(k), d...)
			if ln, ok := tInt(L, t, "length"); ok && len(l.F) > 1 {
				l.F[optLen].V = ln
			}
			L.Push(pushLayer(L, l))
			return 1
		},
		"new_nop":   func(L *lua.LState) int { L.Push(pushLayer(L, opt(OptNOP))); return 1 },
		"new_eol":   func(L *lua.LState) int { L.Push(pushLayer(L, opt(OptEOL))); return 1 },
		"new_sackp": func(L *lua.LState) int { L.Push(pushLayer(L, opt(OptSACKP))); return 1 },
		"new_sack":  func(L *lua.LState) int { L.Push(pushLayer(L, sack(L))); return 1 },
		"new_mss": func(L *lua.LState) int {
			L.Push(pushLayer(L, mssOpt(uint16(L.OptNumber(1, 1460)))))
			return 1
		},
		"new_wscale": func(L *lua.LState) int {
			L.Push(pushLayer(L, opt(OptWScale, byte(L.OptNumber(1, 14)))))
			return 1
		},
		"new_mpcapable": func(L *lua.LState) int { L.Push(pushLayer(L, mpCapable(rand.Uint64(), nil, true))); return 1 },
		"new_mpjoin": func(L *lua.LState) int {
			L.Push(pushLayer(L, mpJoin(rand.Uint32(), rand.Uint32(), 1, false)))
			return 1
		},
	}
	classTbl("TCPOption", tcpOptNew, nil)
	classTbl("TCPEDO", map[string]lua.LGFunction{"new": func(L *lua.LState) int {
		L.Push(pushLayer(L, edoOpt(int(L.OptNumber(1, 4)))))
		return 1
	}}, map[string]int{"EDOREQUEST": 2, "EDO": 4, "EDOEXT": 6})
	classTbl("IPOption", map[string]lua.LGFunction{
		"new": func(L *lua.LState) int {
			t := L.OptTable(1, nil)
			c, _ := tInt(L, t, "copy")
			cl, _ := tInt(L, t, "class")
			o, _ := tInt(L, t, "option")
			var d []byte
			if dt, ok := t.RawGetString("data").(*lua.LTable); ok {
				d = byteTable(L, dt)
			}
			l := ipOpt(byte(c<<7|(cl&3)<<5|o&0x1f), d)
			if ln, ok := tInt(L, t, "length"); ok && len(l.F) > 3 {
				l.F[ipoLen].V = ln
			}
			L.Push(pushLayer(L, l))
			return 1
		},
		"new_nop": func(L *lua.LState) int { L.Push(pushLayer(L, ipOpt(1, nil))); return 1 },
		"new_eol": func(L *lua.LState) int { L.Push(pushLayer(L, ipOpt(0, nil))); return 1 },
	}, nil)
	classTbl("Packet", map[string]lua.LGFunction{"new": func(L *lua.LState) int { L.Push(PushPacket(L, &Packet{})); return 1 }}, nil)
	classTbl("PacketModifications", map[string]lua.LGFunction{"new": func(L *lua.LState) int {
		o, r := checkPacket(L, 1), checkPacket(L, 2)
		m := &Mods{Original: o, Received: r}
		m.Items = Diff(o, r, false, DiffOptions{})
		L.Push(pushMods(L, m))
		return 1
	}}, nil)

	// globals
	argv := L.NewTable()
	for _, s := range a.cfg.Argv {
		argv.Append(lua.LString(s))
	}
	L.SetGlobal("argv", argv)
	reg("tracebox", a.luaTracebox)
	reg("set_ttl_range", func(L *lua.LState) int {
		t := L.OptTable(1, nil)
		old := L.NewTable()
		old.RawSetString("min_ttl", lua.LNumber(max(a.minTTL, 1)))
		mx := a.maxTTL
		if mx <= 0 {
			mx = 64
		}
		old.RawSetString("max_ttl", lua.LNumber(mx))
		if v, ok := tInt(L, t, "min_ttl"); ok {
			a.minTTL = int(v)
		}
		if v, ok := tInt(L, t, "max_ttl"); ok {
			a.maxTTL = int(v)
		}
		L.Push(old)
		return 1
	})
	reg("filter", a.luaFilter)
	// fragment(pkt, size): a table of IPv4 fragments of pkt (see Fragment).
	reg("fragment", func(L *lua.LState) int {
		fs, err := Fragment(checkPacket(L, 1), int(L.OptNumber(2, 8)))
		if err != nil {
			L.RaiseError("%v", err)
		}
		t := L.NewTable()
		for _, f := range fs {
			t.Append(PushPacket(L, f))
		}
		L.Push(t)
		return 1
	})
	reg("sleep", func(L *lua.LState) int {
		ms := int64(argInt(L, 1))
		if a.cfg.Options.Compat {
			ms = ms / 1000 * 1000 // the original only honoured whole seconds
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return 0
	})
	dn := func(v6 bool) lua.LGFunction {
		return func(L *lua.LState) int {
			ad, err := Resolve(context.Background(), L.CheckString(1), v6)
			if err != nil {
				L.Push(lua.LNil)
			} else {
				L.Push(lua.LString(ad.String()))
			}
			return 1
		}
	}
	reg("dn4", dn(false))
	reg("dn6", dn(true))
	reg("gethostname", func(L *lua.LState) int {
		s := L.CheckString(1)
		ad, err := netip.ParseAddr(s)
		if err != nil {
			L.Push(lua.LString(s))
			return 1
		}
		L.Push(lua.LString(reverse(context.Background(), ad)))
		return 1
	})
	reg("random", func(L *lua.LState) int {
		ub := int(L.OptNumber(1, 0))
		if ub <= 0 {
			L.Push(lua.LNumber(rand.IntN(1 << 31)))
		} else {
			L.Push(lua.LNumber(rand.IntN(ub)))
		}
		return 1
	})
	reg("__dump_c_stack", func(L *lua.LState) int { L.Push(lua.LString("")); return 1 })
}

func checkMods(L *lua.LState) *Mods {
	if m, ok := L.CheckUserData(1).Value.(*Mods); ok {
		return m
	}
	L.ArgError(1, "PacketModifications expected")
	return nil
}

func (a *luaAPI) modsMethods() map[string]lua.LGFunction {
	return map[string]lua.LGFunction{
		"original": func(L *lua.LState) int { L.Push(PushPacket(L, checkMods(L).Original.Clone())); return 1 },
		"received": func(L *lua.LState) int { L.Push(PushPacket(L, checkMods(L).Received.Clone())); return 1 },
		// reply(): the whole answer (ICMP error with its quote, or the
		// direct reply), e.g. mods:reply():icmp():mtu() (not in 0.4.4)
		"reply": func(L *lua.LState) int { L.Push(PushPacket(L, checkMods(L).Reply.Clone())); return 1 },
		"partial": func(L *lua.LState) int {
			if checkMods(L).Partial {
				L.Push(lua.LNumber(1))
			} else {
				L.Push(lua.LNumber(0))
			}
			return 1
		},
		"is_partial": func(L *lua.LState) int { L.Push(lua.LBool(checkMods(L).Partial)); return 1 },
		"print": func(L *lua.LState) int {
			fmt.Fprintln(a.cfg.Stdout, checkMods(L).String())
			return 0
		},
		"__tostring": func(L *lua.LState) int { L.Push(lua.LString(checkMods(L).String())); return 1 },
		"tostring":   func(L *lua.LState) int { L.Push(lua.LString(checkMods(L).String())); return 1 },
		// list() returns the modification names as a table (flowbox addition).
		"list": func(L *lua.LState) int {
			m := checkMods(L)
			t := L.NewTable()
			for _, it := range m.Items {
				t.Append(lua.LString(it.Name()))
			}
			L.Push(t)
			return 1
		},
		// has(name) tests for one modification name (flowbox addition).
		"has": func(L *lua.LState) int { L.Push(lua.LBool(checkMods(L).Has(L.CheckString(2)))); return 1 },
	}
}

func (a *luaAPI) packetMethods() map[string]lua.LGFunction {
	first := func(k Kind) lua.LGFunction {
		return func(L *lua.LState) int { L.Push(pushLayer(L, checkPacket(L, 1).First(k))); return 1 }
	}
	addr := func(src bool) lua.LGFunction {
		return func(L *lua.LState) int {
			p := checkPacket(L, 1)
			var ad netip.Addr
			if src {
				ad = p.Src()
			} else {
				ad = p.Dst()
			}
			if !ad.IsValid() {
				if p.Net() == nil {
					L.Push(lua.LNil)
					return 1
				}
				if p.Net().Kind == KIPv6 {
					ad = netip.IPv6Unspecified()
				} else {
					ad = netip.IPv4Unspecified()
				}
			}
			L.Push(lua.LString(ad.String()))
			return 1
		}
	}
	match := func(p *Packet, tok *Layer) []*Layer {
		var out []*Layer
		for _, l := range p.Layers {
			if l.Kind == tok.Kind && (l.Kind != KTCPOpt && l.Kind != KIPOpt || l.Name() == tok.Name()) {
				out = append(out, l)
			}
		}
		return out
	}
	return map[string]lua.LGFunction{
		"size":        func(L *lua.LState) int { L.Push(lua.LNumber(checkPacket(L, 1).Size())); return 1 },
		"print":       func(L *lua.LState) int { fmt.Fprint(a.cfg.Stdout, checkPacket(L, 1).String()); return 0 },
		"source":      addr(true),
		"destination": addr(false),
		"dest":        addr(false),
		"ip":          first(KIP),
		"ipv6":        first(KIPv6),
		"tcp":         first(KTCP),
		"udp":         first(KUDP),
		"icmp": func(L *lua.LState) int {
			p := checkPacket(L, 1)
			l := p.First(KICMP)
			if l == nil {
				l = p.First(KICMPv6)
			}
			L.Push(pushLayer(L, l))
			return 1
		},
		"payload":    first(KRaw),
		"srh":        func(L *lua.LState) int { L.Push(lua.LNil); return 1 },
		"iplayer":    func(L *lua.LState) int { L.Push(pushLayer(L, checkPacket(L, 1).Net())); return 1 },
		"partialtcp": first(KPartialTCP),
		"get": func(L *lua.LState) int {
			ls := match(checkPacket(L, 1), checkLayer(L, 2))
			if len(ls) == 0 {
				L.Push(lua.LNil)
			} else {
				L.Push(pushLayer(L, ls[0]))
			}
			return 1
		},
		"getall": func(L *lua.LState) int {
			t := L.NewTable()
			for _, l := range match(checkPacket(L, 1), checkLayer(L, 2)) {
				t.Append(pushLayer(L, l))
			}
			L.Push(t)
			return 1
		},
		"bytes": func(L *lua.LState) int {
			b, err := craftAny(checkPacket(L, 1))
			if err != nil {
				L.RaiseError("%v", err)
			}
			L.Push(bytesToTable(L, b))
			return 1
		},
		"hexdump": func(L *lua.LState) int {
			b, err := craftAny(checkPacket(L, 1))
			if err != nil {
				L.RaiseError("%v", err)
			}
			fmt.Fprint(a.cfg.Stdout, hexdump(b))
			return 0
		},
		"send": func(L *lua.LState) int {
			p := checkPacket(L, 1)
			tr, probe, closeTr := a.transportFor(L, p, L.OptString(2, ""))
			defer closeTr()
			b, err := Craft(probe, 0)
			if err != nil {
				L.RaiseError("%v", err)
			}
			if _, err := tr.Send(b); err != nil {
				L.RaiseError("%v", err)
			}
			return 0
		},
		"sendrecv": func(L *lua.LState) int {
			p := checkPacket(L, 1)
			// pkt:sendrecv{timeout=, retry=, interface=} or pkt:sendrecv(timeout)
			timeout := time.Second
			var t *lua.LTable
			switch v := L.Get(2).(type) {
			case lua.LNumber:
				timeout = time.Duration(float64(v) * float64(time.Second))
			case *lua.LTable:
				t = v
			}
			if t != nil {
				if v, ok := t.RawGetString("timeout").(lua.LNumber); ok {
					timeout = time.Duration(float64(v) * float64(time.Second))
				}
			}
			retry := 3
			if v, ok := tInt(L, t, "retry"); ok {
				retry = int(v)
			}
			iface, _ := tStr(L, t, "interface")
			tr, probe, closeTr := a.transportFor(L, p, iface)
			defer closeTr()
			r, err := SendRecv(tr, probe, timeout, retry)
			if err != nil {
				L.Push(lua.LNil)
				return 1
			}
			L.Push(PushPacket(L, r.Packet))
			return 1
		},
	}
}

// SendRecv sends a crafted probe up to tries times and returns the first
// matching reply.
func SendRecv(tr Transport, probe *Packet, timeout time.Duration, tries int) (*Reply, error) {
	b, err := Craft(probe, 0)
	if err != nil {
		return nil, err
	}
	orig := Decode(b)
	for i := 0; i < max(tries, 1); i++ {
		sent, err := tr.Send(b)
		if err != nil {
			return nil, err
		}
		dl := sent.Add(timeout)
		for {
			rb, _, err := tr.Recv(dl)
			if err != nil {
				if errors.Is(err, ErrTimeout) {
					break
				}
				return nil, err
			}
			if r := ParseReply(rb); Match(orig, r) {
				return r, nil
			}
		}
	}
	return nil, ErrNoReply
}

// transportFor opens (or reuses) a transport and completes the probe's
// addresses (destination = default host, source = interface address).
func (a *luaAPI) transportFor(L *lua.LState, p *Packet, iface string) (Transport, *Packet, func()) {
	probe := p.Clone()
	n := probe.Net()
	if n == nil {
		L.RaiseError("the packet has no IP layer")
	}
	v6 := n.Kind == KIPv6
	di, si := ipDst, ipSrc
	if v6 {
		di, si = v6Dst, v6Src
	}
	if a2 := n.F[di].A; !a2.IsValid() || a2.IsUnspecified() {
		if a.cfg.Options.Host == "" {
			L.RaiseError("the packet has no destination")
		}
		d, err := Resolve(context.Background(), a.cfg.Options.Host, v6)
		if err != nil {
			L.RaiseError("%v", err)
		}
		n.F[di].A = d
	}
	tr := a.cfg.Options.Transport
	closeTr := func() {}
	if tr == nil {
		if a.cfg.NoNetwork {
			L.RaiseError("no network in this Lua state")
		}
		if iface == "" {
			iface = a.cfg.Options.Iface
		}
		var err error
		if strings.HasPrefix(iface, "pcap:") {
			tr, err = OpenPcapTransport(iface)
		} else {
			tr, err = OpenLive(iface, n.F[di].A)
		}
		if err != nil {
			L.RaiseError("%v", err)
		}
		closeTr = func() { tr.Close() }
	}
	if a2 := n.F[si].A; !a2.IsValid() || a2.IsUnspecified() {
		n.F[si].A = tr.Source(v6)
	}
	return tr, probe, closeTr
}

func (a *luaAPI) luaFilter(L *lua.LState) int {
	p := checkPacket(L, 1)
	if a.cfg.NoNetwork || a.cfg.Options.Transport != nil || strings.HasPrefix(a.cfg.Options.Iface, "pcap:") {
		// offline / simulated: nothing to protect; return a no-op filter
		ud := L.NewUserData()
		ud.Value = (*Filter)(nil)
		L.SetMetatable(ud, L.GetTypeMetatable(mtFilter))
		L.Push(ud)
		return 1
	}
	f, err := NewFilter(p)
	if err != nil {
		L.RaiseError("%v", err)
	}
	ud := L.NewUserData()
	ud.Value = f
	L.SetMetatable(ud, L.GetTypeMetatable(mtFilter))
	L.Push(ud)
	return 1
}

// luaTracebox implements tracebox(pkt[, {callback=name|function}]).
func (a *luaAPI) luaTracebox(L *lua.LState) int {
	p := checkPacket(L, 1)
	var cb *lua.LFunction
	if t := L.OptTable(2, nil); t != nil {
		switch v := t.RawGetString("callback").(type) {
		case lua.LString:
			f, ok := L.GetGlobal(string(v)).(*lua.LFunction)
			if !ok {
				L.RaiseError("callback %q is not a global function", string(v))
			}
			cb = f
		case *lua.LFunction:
			cb = v
		case *lua.LNilType:
		default:
			L.RaiseError("callback must be a function or a global function name")
		}
	}
	legacy := cb != nil && cb.Proto != nil && cb.Proto.NumParameters == 5
	o := a.cfg.Options
	o.Probe = p
	if a.minTTL > 0 {
		o.MinTTL = a.minTTL
	}
	if a.maxTTL > 0 {
		o.MaxTTL = a.maxTTL
	}
	if p.Net() == nil {
		L.RaiseError("tracebox: the packet has no IP layer")
	}
	if d := p.Dst(); d.IsValid() && !d.IsUnspecified() {
		o.Dst = d
		if o.Host == "" {
			o.Host = d.String()
		}
	} else if o.Host == "" {
		L.RaiseError("tracebox: the packet has no destination")
	}
	hook, _ := L.GetGlobal("on_probe_result").(*lua.LFunction)
	var cbErr error
	o.OnHop = func(h *Hop) bool {
		stop := false
		var rip lua.LValue = lua.LNil
		if h.Reply != nil {
			rip = lua.LString(h.From.String())
		}
		if cb != nil {
			var args []lua.LValue
			mods := pushMods(L, h.Mods)
			if legacy {
				var reply lua.LValue = lua.LNil
				if h.Reply != nil {
					reply = PushPacket(L, h.Mods.Received.Clone())
				} else {
					mods = lua.LNil
				}
				args = []lua.LValue{lua.LNumber(h.TTL), rip, PushPacket(L, h.Mods.Original.Clone()), reply, mods}
			} else {
				args = []lua.LValue{lua.LNumber(h.TTL), rip, mods}
			}
			if err := L.CallByParam(lua.P{Fn: cb, NRet: 1, Protect: true}, args...); err != nil {
				fmt.Fprintf(a.cfg.Stderr, "tracebox: Error in the callback: %v\n", err)
				cbErr = err
				return true
			}
			ret := L.Get(-1)
			L.Pop(1)
			stop = nonzero(ret)
		}
		if hook != nil {
			if err := L.CallByParam(lua.P{Fn: hook, NRet: 0, Protect: true}, lua.LNumber(h.TTL), rip, pushMods(L, h.Mods)); err != nil {
				fmt.Fprintf(a.cfg.Stderr, "tracebox: Error in on_probe_result: %v\n", err)
			}
		}
		if a.cfg.OnHop != nil {
			a.cfg.OnHop(h)
		}
		return stop
	}
	ctx := L.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := Run(ctx, o)
	if err != nil {
		L.RaiseError("%v", err)
	}
	_ = cbErr
	if res.Reached && res.Last != nil {
		if res.Last.Quote != nil {
			L.Push(PushPacket(L, res.Last.Quote))
		} else {
			L.Push(PushPacket(L, res.Last.Packet))
		}
		return 1
	}
	L.Push(lua.LNil)
	return 1
}

// nonzero: a number != 0 (or a numeric string != 0) stops the trace.
func nonzero(v lua.LValue) bool {
	switch x := v.(type) {
	case lua.LNumber:
		return x != 0
	case lua.LString:
		f, err := strconv.ParseFloat(strings.TrimSpace(string(x)), 64)
		return err == nil && f != 0
	}
	return false
}

// ---- layer methods ----

var tcpConsts = map[string]int{"FIN": 1, "SYN": 2, "RST": 4, "PSH": 8, "ACK": 16, "URG": 32, "ECE": 64, "CWR": 128}

func (a *luaAPI) layerIndex(L *lua.LState) int {
	l := checkLayer(L, 1)
	key := L.CheckString(2)
	if l.Kind == KTCP {
		if v, ok := tcpConsts[key]; ok {
			L.Push(lua.LNumber(v))
			return 1
		}
	}
	if f := a.layerMethod(l, key); f != nil {
		L.Push(L.NewFunction(f))
		return 1
	}
	L.Push(lua.LNil)
	return 1
}

// getset returns a method that sets field i when given an argument and
// returns its value otherwise.
func getset(i int) lua.LGFunction {
	return func(L *lua.LState) int {
		l := checkLayer(L, 1)
		if i >= len(l.F) {
			return 0
		}
		if L.GetTop() >= 2 {
			l.setV(i, argInt(L, 2))
			return 0
		}
		L.Push(lua.LNumber(l.F[i].V))
		return 1
	}
}

func getsetAddr(i int) lua.LGFunction {
	return func(L *lua.LState) int {
		l := checkLayer(L, 1)
		if L.GetTop() >= 2 {
			l.setA(i, parseAddr(L, L.CheckString(2)))
			return 0
		}
		ad := l.F[i].A
		if !ad.IsValid() {
			if l.Kind == KIPv6 {
				ad = netip.IPv6Unspecified()
			} else {
				ad = netip.IPv4Unspecified()
			}
		}
		L.Push(lua.LString(ad.String()))
		return 1
	}
}

func getter(i int) lua.LGFunction {
	return func(L *lua.LState) int {
		l := checkLayer(L, 1)
		if i >= len(l.F) {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(l.F[i].V))
		return 1
	}
}

func setter(i int) lua.LGFunction {
	return func(L *lua.LState) int {
		checkLayer(L, 1).setV(i, argInt(L, 2))
		return 0
	}
}

func (a *luaAPI) layerMethod(l *Layer, key string) lua.LGFunction {
	switch key {
	case "size":
		return func(L *lua.LState) int { L.Push(lua.LNumber(checkLayer(L, 1).Size())); return 1 }
	case "print":
		return func(L *lua.LState) int { fmt.Fprintln(a.cfg.Stdout, checkLayer(L, 1).String()); return 0 }
	case "hexdump":
		return func(L *lua.LState) int {
			b, err := craftAny(&Packet{Layers: []*Layer{checkLayer(L, 1)}})
			if err != nil {
				L.RaiseError("%v", err)
			}
			fmt.Fprint(a.cfg.Stdout, hexdump(b))
			return 0
		}
	case "new":
		return func(L *lua.LState) int {
			// Class.new{...} through any instance: first arg may be the instance.
			var t *lua.LTable
			for i := 1; i <= L.GetTop(); i++ {
				if x, ok := L.Get(i).(*lua.LTable); ok {
					t = x
				}
			}
			var nl *Layer
			switch l.Kind {
			case KIP:
				nl = mkIP(L, t)
			case KIPv6:
				nl = mkIPv6(L, t)
			case KTCP:
				nl = mkTCP(L, t)
			case KUDP:
				nl = mkUDP(L, t)
			case KICMP, KICMPv6:
				nl = mkICMP(L, t)
			default:
				nl = NewRaw(nil)
			}
			L.Push(pushLayer(L, nl))
			return 1
		}
	}
	switch l.Kind {
	case KIP:
		switch key {
		case "source":
			return getsetAddr(ipSrc)
		case "dest":
			return getsetAddr(ipDst)
		case "id":
			return getset(ipID)
		case "flags":
			return getset(ipFlags)
		case "fragoffset":
			return getset(ipFragOff)
		case "ttl":
			return getset(ipTTL)
		case "dscp":
			return getset(ipDSCP)
		case "ecn":
			return getset(ipECN)
		case "payloadlen":
			return func(L *lua.LState) int {
				l := checkLayer(L, 1)
				L.Push(lua.LNumber(max(int(l.F[ipTotLen].V)-int(l.F[ipHL].V)*4, 0)))
				return 1
			}
		}
	case KIPv6:
		switch key {
		case "source":
			return getsetAddr(v6Src)
		case "dest":
			return getsetAddr(v6Dst)
		case "tc":
			return getset(v6TC)
		case "flowlabel":
			return getset(v6Flow)
		case "hoplimit":
			return getset(v6Hop)
		case "payloadlen":
			return getter(v6PayLen)
		}
	case KTCP:
		m := map[string]int{"source": tcpSport, "dest": tcpDport, "seq": tcpSeq, "ack": tcpAck, "win": tcpWin, "flags": tcpFlags}
		if strings.HasPrefix(key, "get") {
			if i, ok := m[key[3:]]; ok {
				return getter(i)
			}
		}
		if strings.HasPrefix(key, "set") {
			if i, ok := m[key[3:]]; ok {
				return setter(i)
			}
		}
		switch key {
		case "offset":
			return getter(tcpOff)
		case "hasflags":
			return func(L *lua.LState) int {
				L.Push(lua.LNumber(checkLayer(L, 1).F[tcpFlags].V & argInt(L, 2)))
				return 1
			}
		}
	case KUDP:
		switch key {
		case "source":
			return getset(udpSport)
		case "dest":
			return getset(udpDport)
		}
	case KICMP, KICMPv6:
		switch key {
		case "type":
			return getset(icmpType)
		case "code":
			return getset(icmpCode)
		case "id", "seqno", "ptr", "gw", "len", "mtu":
			return func(L *lua.LState) int {
				l := checkLayer(L, 1)
				r := uint32(l.F[icmpRest].V)
				if L.GetTop() < 2 {
					var v uint32
					switch key {
					case "id":
						v = r >> 16
					case "seqno", "mtu":
						v = r & 0xffff
					case "ptr":
						v = r >> 24
					case "len":
						v = r >> 16 & 0xff
					case "gw":
						L.Push(lua.LString(netip.AddrFrom4([4]byte{byte(r >> 24), byte(r >> 16), byte(r >> 8), byte(r)}).String()))
						return 1
					}
					L.Push(lua.LNumber(v))
					return 1
				}
				switch key {
				case "id":
					r = r&0xffff | uint32(argInt(L, 2))<<16
				case "seqno", "mtu":
					r = r&0xffff0000 | uint32(argInt(L, 2))&0xffff
				case "ptr":
					r = uint32(argInt(L, 2)) << 24
				case "len":
					r = r&^0xff0000 | uint32(argInt(L, 2)&0xff)<<16
				case "gw":
					ad := parseAddr(L, L.CheckString(2)).As4()
					r = be32(ad[:])
				}
				l.F[icmpRest].V = uint64(r)
				return 0
			}
		}
	case KRaw:
		switch key {
		case "data":
			return func(L *lua.LState) int {
				l := checkLayer(L, 1)
				if L.GetTop() >= 2 {
					l.Data = []byte(L.CheckString(2))
					return 0
				}
				L.Push(lua.LString(l.Data))
				return 1
			}
		case "bytes":
			return func(L *lua.LState) int {
				l := checkLayer(L, 1)
				if t, ok := L.Get(2).(*lua.LTable); ok {
					l.Data = byteTable(L, t)
					return 0
				}
				L.Push(bytesToTable(L, l.Data))
				return 1
			}
		}
	case KPartialTCP:
		switch key {
		case "getsource":
			return getter(0)
		case "getdst", "getdest":
			return getter(1)
		case "getseq":
			return func(L *lua.LState) int {
				v := checkLayer(L, 1).F[2].V
				if a.cfg.Options.Compat {
					v &= 0xffff // the original truncated to 16 bits
				}
				L.Push(lua.LNumber(v))
				return 1
			}
		}
	case KTCPOpt:
		switch key {
		case "kind":
			return getset(optKind)
		case "data":
			return func(L *lua.LState) int {
				l := checkLayer(L, 1)
				if L.GetTop() >= 2 {
					nl := newTCPOpt(l.optKind(), []byte(L.CheckString(2)))
					*l = *nl
					return 0
				}
				L.Push(lua.LString(optData(l)))
				return 1
			}
		case "val", "ecr":
			if tcpOptName(l) == "TCPOptionTimestamp" {
				if key == "val" {
					return getset(2)
				}
				return getset(3)
			}
		case "cookie":
			return func(L *lua.LState) int {
				l := checkLayer(L, 1)
				if t, ok := L.Get(2).(*lua.LTable); ok {
					l.Data = byteTable(L, t)
					l.F[optLen].V = uint64(len(l.Data) + 2)
					return 0
				}
				L.Push(bytesToTable(L, l.Data))
				return 1
			}
		case "length":
			return getset(optLen)
		case "headerlength":
			return getter(2)
		case "segmentlength":
			return getter(3)
		}
		if strings.HasPrefix(key, "new_") {
			return func(L *lua.LState) int { return a.callClass(L, "TCPOption", key) }
		}
	case KIPOpt:
		if strings.HasPrefix(key, "new") {
			return func(L *lua.LState) int { return a.callClass(L, "IPOption", key) }
		}
	}
	return nil
}

func (a *luaAPI) callClass(L *lua.LState, class, key string) int {
	tb, ok := L.GetGlobal(class).(*lua.LTable)
	if !ok {
		return 0
	}
	f, ok := tb.RawGetString(key).(*lua.LFunction)
	if !ok {
		return 0
	}
	var args []lua.LValue
	for i := 2; i <= L.GetTop(); i++ {
		args = append(args, L.Get(i))
	}
	if err := L.CallByParam(lua.P{Fn: f, NRet: 1, Protect: false}, args...); err != nil {
		L.RaiseError("%v", err)
	}
	return 1
}
