package luatest

import (
	"encoding/hex"
	"sort"
	"strings"
	"testing"
	"time"

	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
	"flowbox/lua"

	glua "github.com/yuin/gopher-lua"
)

// RunFile loads a Lua test file in a sandboxed state and runs each global
// function TestXxx(t) as a Go subtest. The t object offers:
//
//	t:ok(cond, msg)   t:eq(got, want, msg)   t:ne(a, b, msg)
//	t:raises(fn, substring) -> message      t:fail(msg)   t:log(...)
//	t:skip(msg)
//
// and the global `mk` builds packets: mk.frame{proto="udp", src=, dst=,
// sport=, dport=, ttl=, tos=, id=, flags=, seq=, ack=, win=, options=,
// payload=, vlan=, icmp_type=, icmp_code=, icmp_id=, icmp_seq=,
// no_udp_checksum=, frag_offset=, mf=, ip_only=, ext6={"hop", "routing",
// "dest", "frag"} (IPv6 extension headers, in order), route6=addr (an SRH
// with that final segment)}, mk.raw(hex);
// mk.verify(p) recomputes every checksum in Go (true or false, reason);
// mk.hex(p) returns the packet bytes in hex.
func RunFile(t *testing.T, path string, o lua.Options) {
	t.Helper()
	prog, err := lua.CompileFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if o.Budget == 0 {
		o.Budget = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = func(level, msg string) { t.Logf("lua %s: %s", level, msg) }
	}
	m, err := lua.NewMachine(prog, o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	L := m.L
	pool := packet.NewPool(nil)
	var cur *testing.T
	nslot := 0
	bind := func(L *glua.LState, p *packet.Packet) int {
		if nslot >= packet.MaxBatch {
			L.RaiseError("mk: too many packets in one test")
		}
		L.Push(m.BindSlot(nslot, pool, p, 0))
		nslot++
		return 1
	}
	mk := L.NewTable()
	mk.RawSetString("frame", L.NewFunction(func(L *glua.LState) int {
		spec := L.CheckTable(1)
		f, ipOnly := frameFromTable(L, spec)
		data := f.Build()
		p := pool.NewFrom(data)
		if ipOnly {
			off := 14
			if f.VLAN != 0 {
				off = 18
			}
			p.Pull(off)
			p.SetNetworkAt(0)
		}
		return bind(L, p)
	}))
	mk.RawSetString("raw", L.NewFunction(func(L *glua.LState) int {
		b, err := hex.DecodeString(strings.ReplaceAll(L.CheckString(1), " ", ""))
		if err != nil {
			L.ArgError(1, err.Error())
		}
		return bind(L, pool.NewFrom(b))
	}))
	mk.RawSetString("verify", L.NewFunction(func(L *glua.LState) int {
		p := packetOf(L, m)
		if p == nil {
			L.ArgError(1, "packet expected")
		}
		if err := VerifyChecksums(p.Data()); err != nil {
			L.Push(glua.LFalse)
			L.Push(glua.LString(err.Error()))
			return 2
		}
		L.Push(glua.LTrue)
		return 1
	}))
	mk.RawSetString("hex", L.NewFunction(func(L *glua.LState) int {
		p := packetOf(L, m)
		if p == nil {
			L.ArgError(1, "packet expected")
		}
		L.Push(glua.LString(hex.EncodeToString(p.Data())))
		return 1
	}))
	L.SetGlobal("mk", mk)

	tobj := L.NewTable()
	where := func(L *glua.LState) string { return L.Where(1) }
	msgOf := func(L *glua.LState, n int) string {
		if L.GetTop() >= n {
			return L.ToStringMeta(L.Get(n)).String()
		}
		return ""
	}
	tobj.RawSetString("ok", L.NewFunction(func(L *glua.LState) int {
		if !glua.LVAsBool(L.Get(2)) {
			cur.Errorf("%s not ok: %s", where(L), msgOf(L, 3))
		}
		return 0
	}))
	tobj.RawSetString("eq", L.NewFunction(func(L *glua.LState) int {
		a, b := L.Get(2), L.Get(3)
		if !L.Equal(a, b) {
			cur.Errorf("%s got %s (%s), want %s (%s) %s", where(L), a.String(), a.Type(), b.String(), b.Type(), msgOf(L, 4))
		}
		return 0
	}))
	tobj.RawSetString("ne", L.NewFunction(func(L *glua.LState) int {
		a, b := L.Get(2), L.Get(3)
		if L.Equal(a, b) {
			cur.Errorf("%s got %s, want anything else %s", where(L), a.String(), msgOf(L, 4))
		}
		return 0
	}))
	tobj.RawSetString("fail", L.NewFunction(func(L *glua.LState) int {
		cur.Errorf("%s %s", where(L), msgOf(L, 2))
		return 0
	}))
	tobj.RawSetString("log", L.NewFunction(func(L *glua.LState) int {
		var parts []string
		for i := 2; i <= L.GetTop(); i++ {
			parts = append(parts, L.ToStringMeta(L.Get(i)).String())
		}
		cur.Logf("%s %s", where(L), strings.Join(parts, " "))
		return 0
	}))
	tobj.RawSetString("skip", L.NewFunction(func(L *glua.LState) int {
		cur.Skip(msgOf(L, 2))
		return 0
	}))
	tobj.RawSetString("raises", L.NewFunction(func(L *glua.LState) int {
		fn := L.CheckFunction(2)
		want := L.OptString(3, "")
		L.Push(fn)
		err := L.PCall(0, 0, nil)
		if err == nil {
			cur.Errorf("%s expected an error containing %q, got none", where(L), want)
			L.Push(glua.LNil)
			return 1
		}
		msg := err.Error()
		if ae, ok := err.(*glua.ApiError); ok {
			msg = ae.Object.String()
		}
		if !strings.Contains(msg, want) {
			cur.Errorf("%s error %q does not contain %q", where(L), msg, want)
		}
		L.Push(glua.LString(msg))
		return 1
	}))

	var names []string
	L.G.Global.ForEach(func(k, v glua.LValue) {
		if s, ok := k.(glua.LString); ok && strings.HasPrefix(string(s), "Test") {
			if _, ok := v.(*glua.LFunction); ok {
				names = append(names, string(s))
			}
		}
	})
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatalf("%s: no Test functions", path)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			cur = t
			nslot = 0
			_, err := m.Call(m.Func(name), 0, tobj)
			if err != nil {
				t.Errorf("%v", err)
			}
			for i := 0; i < nslot; i++ {
				if p := m.Packet(i); p != nil {
					pool.Free(p)
				}
			}
			m.Release(nslot)
		})
	}
}

func packetOf(L *glua.LState, _ *lua.Machine) *packet.Packet {
	return lua.PacketOf(L.Get(1))
}

func frameFromTable(L *glua.LState, t *glua.LTable) (Frame, bool) {
	str := func(k, def string) string {
		if v, ok := t.RawGetString(k).(glua.LString); ok {
			return string(v)
		}
		return def
	}
	n := func(k string) uint64 {
		if v, ok := t.RawGetString(k).(glua.LNumber); ok {
			return uint64(v)
		}
		return 0
	}
	b := func(k string) bool { return glua.LVAsBool(t.RawGetString(k)) }
	f := Frame{
		Src: str("src", "10.0.0.1"), Dst: str("dst", "10.0.0.2"),
		TTL: uint8(n("ttl")), TOS: uint8(n("tos")), ID: uint16(n("id")),
		Sport: uint16(n("sport")), Dport: uint16(n("dport")),
		Flags: uint8(n("flags")), Seq: uint32(n("seq")), Ack: uint32(n("ack")), Win: uint16(n("win")),
		Options: []byte(str("options", "")), Payload: []byte(str("payload", "")),
		VLAN: uint16(n("vlan")), ICMPType: uint8(n("icmp_type")), ICMPCode: uint8(n("icmp_code")),
		ICMPID: uint16(n("icmp_id")), ICMPSeq: uint16(n("icmp_seq")),
		NoUDPChecksum: b("no_udp_checksum"), FragOffset: uint16(n("frag_offset")), MoreFragments: b("mf"),
	}
	if v, ok := t.RawGetString("ext6").(*glua.LTable); ok {
		names := map[string]uint8{"hop": 0, "routing": 43, "frag": 44, "dest": 60}
		for i := 1; i <= v.Len(); i++ {
			switch x := v.RawGetInt(i).(type) {
			case glua.LString:
				k, ok := names[string(x)]
				if !ok {
					L.ArgError(1, "ext6: hop, routing, dest or frag expected")
				}
				f.Ext6 = append(f.Ext6, k)
			default:
				L.ArgError(1, "ext6: hop, routing, dest or frag expected")
			}
		}
	}
	f.Route6 = str("route6", "")
	switch str("proto", "udp") {
	case "tcp":
		f.Proto = proto.ProtoTCP
	case "udp":
		f.Proto = proto.ProtoUDP
	case "icmp":
		f.Proto = proto.ProtoICMP
	case "icmp6":
		f.Proto = proto.ProtoICMPv6
	default:
		L.ArgError(1, "proto must be tcp, udp, icmp or icmp6")
	}
	return f, b("ip_only")
}
