package lua_test

import (
	"testing"

	"flowbox/appliance/packet"
	"flowbox/appliance/proto"
	"flowbox/lua"
	"flowbox/lua/luatest"
)

// apiScript calls the packet API: get reads header fields of a TCP
// packet, set rewrites some, icmp reads those of an ICMP echo.
const apiScript = `
function get(port, p)
  local ip, t = p:ip(), p:tcp()
  local x = ip:ttl() + ip:proto() + ip:len() + ip:id() + ip:src_u32() + ip:checksum()
  x = x + t:sport() + t:dport() + t:seq() + t:flags() + t:win()
  x = x + p:byte(0) + p:u16(12) + p:u32(26) + p:len()
  if p:eth() and not p:udp() and not p:icmp() and not p:ip6() then return 0 end
end
function set(port, p)
  local ip, t = p:ip(), p:tcp()
  ip:set_ttl(ip:ttl()) ip:set_id(ip:id())
  t:set_sport(t:sport()) t:set_win(t:win())
  p:set_byte(0, p:byte(0)) p:set_u16(12, p:u16(12))
  return 0
end
function icmp(port, p)
  local c = p:icmp()
  if c:type() + c:code() + c:checksum() + c:id() + c:seq() >= 0 then return 0 end
end`

// BenchmarkPacketAPI measures the packet API from Lua: one push call per
// op reading (get) or rewriting (set) several header fields of a TCP or
// ICMP packet, the per-field getter and setter cost being ns/op divided
// by the calls in the script.
func BenchmarkPacketAPI(b *testing.B) {
	prog, err := lua.CompileString("api.lua", apiScript)
	if err != nil {
		b.Fatal(err)
	}
	m, err := lua.NewMachine(prog, lua.Options{Budget: 0})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	pool := packet.NewPool(nil)
	for _, c := range []struct {
		fn    string
		frame []byte
	}{
		{"get", luatest.TCP4("10.0.0.1", "10.0.0.2", 1234, 80, proto.TCPAck)},
		{"set", luatest.TCP4("10.0.0.1", "10.0.0.2", 1234, 80, proto.TCPAck)},
		{"icmp", luatest.ICMP4("10.0.0.1", "10.0.0.2", 8, 1, 2)},
	} {
		b.Run(c.fn, func(b *testing.B) {
			fn := m.Func(c.fn)
			p := pool.NewFrom(c.frame)
			m.BindOne(pool, p, 0)
			if err := m.PushOne(fn, 0, 0); err != nil || m.Verdict(0) != 0 {
				b.Fatalf("%s: %v, verdict %d", c.fn, err, m.Verdict(0))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.PushOne(fn, 0, 0)
			}
			b.StopTimer()
			m.Release(1)
			pool.Free(p)
		})
	}
}
