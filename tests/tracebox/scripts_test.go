package tracebox_test

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"

	"flowbox/tracebox"
	"flowbox/tracebox/cli"
	"flowbox/tracebox/tbxsim"
)

func scriptDir() string {
	_, f, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(f), "..", "..", "scripts", "tracebox")
}

func winSet(b []byte) []byte {
	h := tbxsim.L4(b)
	if len(b) >= h+16 {
		b[h+14], b[h+15] = 0x10, 0x00
	}
	return b
}

func tosClear(b []byte) []byte { b[1] = 0; return b }

func idSet(b []byte) []byte { b[4], b[5] = 0, 7; return b }

func scriptPath(mod func([]byte) []byte) func() tracebox.Transport {
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	return func() tracebox.Transport {
		p := &tbxsim.Path{Routers: []tbxsim.Router{{Addr: a("10.0.1.1")}, {Addr: a("10.0.2.1"), Modify: mod}, {Addr: a("10.0.3.1")}}, Dst: a("1.2.3.4")}
		return p.Transport()
	}
}

func TestDetectorScripts(t *testing.T) {
	cases := []struct {
		script string
		mod    func([]byte) []byte
		want   string
	}{
		{"detect_seq.lua", seqShift, "TCP::SeqNumber: changed between hop 2 (10.0.2.1) and hop 3 (10.0.3.1), offset 1000\n"},
		{"detect_seq.lua", nil, "TCP::SeqNumber: no change detected\n"},
		{"detect_window.lua", winSet, "TCP::WindowsSize (win 0): changed between hop 2 (10.0.2.1) and hop 3 (10.0.3.1), now 4096\n" +
			"TCP::WindowsSize (win 65535): changed between hop 2 (10.0.2.1) and hop 3 (10.0.3.1), now 4096\n"},
		{"detect_ipid.lua", idSet, "IP::Identification: changed between hop 2 (10.0.2.1) and hop 3 (10.0.3.1)\n"},
		{"detect_ecn.lua", tosClear, "ECN ECT(0): IP::ExpCongestionNot reset between hop 2 (10.0.2.1) and hop 3 (10.0.3.1)\n" +
			"ECN CE: IP::ExpCongestionNot reset between hop 2 (10.0.2.1) and hop 3 (10.0.3.1)\n" +
			"DSCP 10: IP::DiffServicesCP reset between hop 2 (10.0.2.1) and hop 3 (10.0.3.1)\n" +
			"TCP ECE+CWR: no change detected\n"},
		{"detect_full_icmp.lua", nil, "hop 1 (10.0.1.1): full quote (RFC 1812)\nhop 2 (10.0.2.1): full quote (RFC 1812)\nhop 3 (10.0.3.1): full quote (RFC 1812)\nfull-ICMP census: 3 full, 0 partial\n"},
		{"detect_stateful.lua", nil, "stateful: no stateful middlebox detected (server at hop 4)\n"},
		{"detect_proxy.lua", nil, "proxy: none detected (port 80 at hop 4, port 21 at hop 4)\n"},
		{"test_ftp.tbx", nil, "FTP ALG: no payload rewriting seen up to 10.0.3.1\n"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := cli.Main([]string{"-s", filepath.Join(scriptDir(), c.script), "1.2.3.4"}, cli.Env{Stdout: &out, Stderr: &errb, Transport: scriptPath(c.mod)})
		if code != 0 || out.String() != c.want {
			t.Errorf("%s: exit %d\ngot:\n%s\nwant:\n%s\nstderr: %s", c.script, code, out.String(), c.want, errb.String())
		}
	}
}
