package tracebox_test

import (
	"bytes"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"flowbox/tracebox"
)

func luaRun(t *testing.T, code string, argv ...string) string {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	var out bytes.Buffer
	tracebox.RegisterLua(L, &tracebox.LuaConfig{
		Options: tracebox.Options{Host: dst.String(), Transport: labPath().Transport()},
		Argv:    argv, Stdout: &out, Stderr: &out,
	})
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int {
		var parts []string
		for i := 1; i <= L.GetTop(); i++ {
			parts = append(parts, L.ToStringMeta(L.Get(i)).String())
		}
		out.WriteString(strings.Join(parts, "\t") + "\n")
		return 0
	}))
	if err := L.DoString(code); err != nil {
		t.Fatalf("lua: %v\noutput so far:\n%s", err, out.String())
	}
	return out.String()
}

func TestLuaCallbackForms(t *testing.T) {
	got := luaRun(t, `
function cb3(ttl, rip, mods)
  print(ttl, rip, tostring(mods), mods:partial(), mods:original():ip():dest())
end
function cb5(ttl, rip, probe, reply, mods)
  print(ttl, rip, probe:tcp():getdest(), reply ~= nil, tostring(mods))
  if ttl == 2 then return 1 end
end
tracebox(IP / tcp{dst=80} / mss(9000), {callback="cb3"})
tracebox(IP / TCP, {callback=cb5})
`)
	want := "1\t10.201.1.1\t\t0\t10.201.4.2\n" +
		"2\t10.201.2.2\tIP::TTL IP::CheckSum \t0\t10.201.4.2\n" +
		"3\t10.201.3.2\tTCP::CheckSum IP::TTL IP::CheckSum TCPOptionMaxSegSize::MaxSegSize \t0\t10.201.4.2\n" +
		"4\t10.201.4.2\t[Reply: TCP ( SYN ACK )] \t0\t10.201.4.2\n" +
		"1\t10.201.1.1\t80\ttrue\t\n" +
		"2\t10.201.2.2\t80\ttrue\tIP::TTL IP::CheckSum \n"
	if got != want {
		t.Fatalf("got:\n%q\nwant:\n%q", got, want)
	}
}

// The original's FTP ALG script, run unchanged (0.4 callback form).
func TestLuaOriginalFTPScriptShape(t *testing.T) {
	got := luaRun(t, `
local dst = argv[1]
local syn = IP / tcp{dst=21}
local fw = filter(syn)
local synack = tracebox(syn)
if synack == nil then print("no reply") return end
if synack:tcp():getflags() ~= 18 then print("not synack") return end
local ip = syn:source()
local data = IP / tcp{dst=21, src=syn:tcp():getsource(), seq=syn:tcp():getseq()+1, ack=synack:tcp():getseq()+1, flags=16} /
  raw("PORT " .. string.gsub(ip, "%.", ",") .. ",189,68\r\n")
function cb(ttl, rip, mods)
  if string.find(tostring(mods), "Raw") then print("There is a NAT_FTP before " .. rip) return 1 end
end
tracebox(data, {callback="cb"})
fw:close()
print("done", dst, synack:source(), synack:tcp():getflags())
`, "10.201.4.2")
	if got != "done\t10.201.4.2\t10.201.4.2\t18\n" {
		t.Fatalf("got %q", got)
	}
}

func TestLuaPacketBytesAndAPI(t *testing.T) {
	got := luaRun(t, `
local p = IP / TCP / raw('Hello World')
local b = p:bytes()
print(#b, b[1], b[33], string.char(b[#b]))
local q = ip{dst='1.2.3.4'} / tcp{dst=40}
print(q:get(IP):dest(), q:get(TCP):getdest(), q:get(MPCAPABLE) == nil, ip{id=0}:id())
local o = IP / TCP / EDO / MSS / MPCAPABLE / raw('xx')
local ob = o:bytes()
print(ob[33], ob[42], ob[44], ob[45], ob[46], ob[47], ob[48], ob[49], ob[50], ob[51], ob[52])
print(TCP.SYN, TCP.ACK, tcp{flags=18}:hasflags(TCP.ACK))
local old = set_ttl_range{max_ttl=2}
print(old.min_ttl, old.max_ttl)
local n = 0
tracebox(IP/TCP, {callback=function(ttl, rip, mods) n = ttl end})
print(n, Packet.new():size(), (IP/TCP):dest())
local ok, err = pcall(function() return ip{id="3"} end)
print(ok, string.find(err, "id is not an integer") ~= nil)
`)
	want := "51\t69\t80\td\n" +
		"1.2.3.4\t40\ttrue\t0\n" +
		"96\t4\t10\t2\t4\t5\t180\t30\t12\t0\t129\n" +
		"2\t16\t16\n" +
		"1\t64\n" +
		"2\t0\t0.0.0.0\n" +
		"false\ttrue\n"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestParseProbeErrors(t *testing.T) {
	for _, e := range []string{"", "IP /", "1", "while true do end", "tcp{dst='x'}", "nil"} {
		if _, err := tracebox.ParseProbe(e); err == nil {
			t.Errorf("%q: no error", e)
		}
	}
	for _, c := range []struct{ expr, want string }{
		{"IP /", `probe "IP /": syntax error at EOF`},
		{"IP / / TCP", `probe "IP / / TCP": syntax error near '/'`},
		{"IP /\n/ TCP", `probe "IP /\n/ TCP": line 2: syntax error near '/'`},
		{"nope()", `probe "nope()": attempt to call a non-function object`},
		{"error('bad', 0)", `probe "error('bad', 0)": bad`},
	} {
		if _, err := tracebox.ParseProbe(c.expr); err == nil || err.Error() != c.want {
			t.Errorf("%q: %v, want %s", c.expr, err, c.want)
		}
	}
	p, err := tracebox.ParseProbe("IP/TCP/WSCALE/SACKP/TS/MPCAPABLE")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range p.Layers {
		names = append(names, l.Name())
	}
	if s := strings.Join(names, ","); s != "IP,TCP,TCPOptionWindowScale,TCPOptionPad,TCPOptionPad,TCPOptionPad,TCPOptionSACKPermitted,TCPOptionPad,TCPOptionPad,TCPOptionTimestamp,TCPOptionMPTCPCapable" {
		t.Fatal(s)
	}
}
