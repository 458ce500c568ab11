package lua

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"flowbox/appliance/core"

	glua "github.com/yuin/gopher-lua"
)

// Address helpers (global table `net`):
//
//	net.prefix("10.0.0.0/8")  -> prefix object (parse once, test per packet)
//	  pfx:contains(addr)      addr: dotted string, IPv6 string or IPv4 number
//	  pfx:bits()  pfx:addr()  tostring(pfx)
//	net.ip4("1.2.3.4")        -> 32-bit number
//	net.ntoa(n)               -> dotted string
//	net.valid(addr)           -> boolean
//
// Constants: TCP.FIN .. TCP.CWR, PROTO.TCP/UDP/ICMP/ICMPV6.

type prefixVal struct{ p netip.Prefix }

const mtPrefix = "flowbox.prefix"

func parsePrefix(s string) (netip.Prefix, error) {
	p, err := core.ParseIPPrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad prefix %q", s)
	}
	return p, nil
}

func installNet(L *glua.LState) {
	mt := L.NewTypeMetatable(mtPrefix)
	methods := L.NewTable()
	methods.RawSetString("contains", L.NewFunction(func(L *glua.LState) int {
		p := checkPrefix(L, 1)
		return pushBool(L, p.Contains(checkAddr(L, 2)))
	}))
	methods.RawSetString("bits", L.NewFunction(func(L *glua.LState) int {
		L.Push(num(checkPrefix(L, 1).Bits()))
		return 1
	}))
	methods.RawSetString("addr", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LString(checkPrefix(L, 1).Addr().String()))
		return 1
	}))
	mt.RawSetString("__index", methods)
	mt.RawSetString("__tostring", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LString(checkPrefix(L, 1).String()))
		return 1
	}))
	t := L.NewTable()
	t.RawSetString("prefix", L.NewFunction(func(L *glua.LState) int {
		p, err := parsePrefix(L.CheckString(1))
		if err != nil {
			L.ArgError(1, err.Error())
		}
		ud := L.NewUserData()
		ud.Value = &prefixVal{p}
		L.SetMetatable(ud, mt)
		L.Push(ud)
		return 1
	}))
	t.RawSetString("ip4", L.NewFunction(func(L *glua.LState) int {
		L.Push(num64(uint64(checkIPv4(L, 1))))
		return 1
	}))
	t.RawSetString("ntoa", L.NewFunction(func(L *glua.LState) int {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], checkIPv4(L, 1))
		L.Push(ip4String(b[:]))
		return 1
	}))
	t.RawSetString("valid", L.NewFunction(func(L *glua.LState) int {
		_, err := netip.ParseAddr(L.CheckString(1))
		return pushBool(L, err == nil)
	}))
	L.G.Global.RawSetString("net", t)

	tcp := L.NewTable()
	for k, v := range map[string]int{"FIN": 1, "SYN": 2, "RST": 4, "PSH": 8, "ACK": 16, "URG": 32, "ECE": 64, "CWR": 128} {
		tcp.RawSetString(k, num(v))
	}
	L.G.Global.RawSetString("TCP", tcp)
	pr := L.NewTable()
	for k, v := range map[string]int{"ICMP": 1, "TCP": 6, "UDP": 17, "ICMPV6": 58} {
		pr.RawSetString(k, num(v))
	}
	L.G.Global.RawSetString("PROTO", pr)
}

// checkAddr accepts an address string or an IPv4 number.
func checkAddr(L *glua.LState, n int) netip.Addr {
	if s, ok := L.Get(n).(glua.LString); ok {
		a, err := netip.ParseAddr(string(s))
		if err != nil {
			L.ArgError(n, fmt.Sprintf("bad address %q", string(s)))
		}
		return a.Unmap()
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], checkIPv4(L, n))
	return netip.AddrFrom4(b)
}
