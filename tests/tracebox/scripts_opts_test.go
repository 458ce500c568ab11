package tracebox_test

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"testing"

	"flowbox/tracebox"
	"flowbox/tracebox/cli"
	"flowbox/tracebox/tbxsim"
)

// nopOptions returns a Modify function overwriting the TCP options of the
// given kinds with NOPs (like RemoveTCPOpt).
func nopOptions(kinds ...byte) func([]byte) []byte {
	return func(b []byte) []byte {
		h := tbxsim.L4(b)
		if len(b) < h+20 {
			return b
		}
		t := b[h:]
		off := min(int(t[12]>>4)*4, len(t))
		for i := 20; i < off; {
			if t[i] == 0 {
				break
			}
			if t[i] == 1 {
				i++
				continue
			}
			if i+1 >= off || t[i+1] < 2 || i+int(t[i+1]) > off {
				break
			}
			n := int(t[i+1])
			for _, k := range kinds {
				if t[i] == k {
					for j := i; j < i+n; j++ {
						t[j] = 1
					}
				}
			}
			i += n
		}
		return b
	}
}

func runScript(t *testing.T, script string, p *tbxsim.Path) (string, int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main([]string{"-n", "-s", filepath.Join(scriptDir(), script), "1.2.3.4"},
		cli.Env{Stdout: &out, Stderr: &errb, Transport: func() tracebox.Transport { return p.Transport() }})
	return out.String(), code, errb.String()
}

func simPath(mod func([]byte) []byte) *tbxsim.Path {
	a := netip.MustParseAddr
	return &tbxsim.Path{Routers: []tbxsim.Router{{Addr: a("10.0.1.1")}, {Addr: a("10.0.2.1"), Modify: mod}, {Addr: a("10.0.3.1")}}, Dst: a("1.2.3.4")}
}

func TestDetectTCPOpts(t *testing.T) {
	const none = "MSS: no change detected\nWScale: no change detected\nSACKPermitted: no change detected\n" +
		"Timestamp: no change detected\nMD5: no change detected\nMPCapable: no change detected\n"
	cases := []struct {
		name string
		mod  func([]byte) []byte
		want string
	}{
		{"clean path", nil, none},
		// A clamp that adds the MSS option when absent: the baseline
		// shows the addition, only the MSS test sees its option changed
		// (the others must not blame the added MSS on their option).
		{"MSS clamp", tbxsim.ClampMSS(1200),
			"TCP options: added before hop 3 (10.0.3.1): TCP::DataOffset TCP::CheckSum IP::TotalLength IP::TTL IP::CheckSum +TCPOptionMaxSegSize \n" +
				"MSS: removed or changed before hop 3 (10.0.3.1): TCP::CheckSum IP::TTL IP::CheckSum TCPOptionMaxSegSize::MaxSegSize \n" +
				"WScale: no change detected\nSACKPermitted: no change detected\nTimestamp: no change detected\n" +
				"MD5: no change detected\nMPCapable: no change detected\n"},
		// A box stripping timestamps, TCP-MD5 and MPTCP (NOP overwrite).
		{"strip TS/MD5/MPTCP", nopOptions(8, 19, 30),
			"MSS: no change detected\nWScale: no change detected\nSACKPermitted: no change detected\n" +
				"Timestamp: removed or changed before hop 3 (10.0.3.1): TCP::CheckSum IP::TTL IP::CheckSum -TCPOptionTimestamp \n" +
				"MD5: removed or changed before hop 3 (10.0.3.1): TCP::CheckSum IP::TTL IP::CheckSum -TCPOption TCPOptionPad::Kind \n" +
				"MPCapable: removed or changed before hop 3 (10.0.3.1): TCP::CheckSum IP::TTL IP::CheckSum +TCPOptionPad -TCPOptionMPTCPCapable \n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, code, stderr := runScript(t, "detect_tcp_opts.lua", simPath(c.mod))
			if code != 0 || got != c.want {
				t.Fatalf("exit %d\ngot:\n%s\nwant:\n%s\nstderr: %s", code, got, c.want, stderr)
			}
		})
	}
}

func TestEDOScript(t *testing.T) {
	// a server answering the EDO request with an EDO option (kind 69, len 4)
	p := simPath(nil)
	p.DstOptions = []byte{69, 4, 0, 0}
	got, code, stderr := runScript(t, "test_edo.tbx", p)
	if code != 0 || !bytes.HasPrefix([]byte(got), []byte("1.1.1.1\n< IP (20 bytes) :: ")) ||
		!bytes.Contains([]byte(got), []byte("Flags = ( SYN ACK )")) ||
		!bytes.Contains([]byte(got), []byte("< TCPOptionEDO (4 bytes) :: Kind = 69 , Length = 4 , HeaderLength = 0 , >\nfound\n")) {
		t.Fatalf("EDO server: exit %d\n%s%s", code, got, stderr)
	}
	// the probe carried the EDO request (kind 69, length 2)
	if len(p.Sent) != 1 || !bytes.Contains(p.Sent[0][40:], []byte{69, 2}) {
		t.Fatalf("probes sent: % x", p.Sent)
	}
	got, code, stderr = runScript(t, "test_edo.tbx", simPath(nil))
	if code != 0 || !bytes.HasSuffix([]byte(got), []byte(" >\nEDO: not supported\n")) {
		t.Fatalf("plain server: exit %d\n%s%s", code, got, stderr)
	}
	p = simPath(nil)
	p.DstMode = tbxsim.DstSilent
	got, code, stderr = runScript(t, "test_edo.tbx", p)
	if code != 0 || got != "EDO: no reply\n" {
		t.Fatalf("silent server: exit %d\n%s%s", code, got, stderr)
	}
	if len(p.Sent) != 3 { // default retry
		t.Fatalf("%d probes sent to a silent server, want 3", len(p.Sent))
	}
}

// dropFragments is a Modify function dropping IPv4 fragments (a box
// filtering them, or reassembling and holding a lone fragment).
func dropFragments(b []byte) []byte {
	if b[0]>>4 == 4 && (b[6]&0x20 != 0 || b[6]&0x1f != 0 || b[7] != 0) {
		return nil
	}
	return b
}

func TestDetectFragsSim(t *testing.T) {
	a := netip.MustParseAddr
	cases := []struct {
		name    string
		routers []tbxsim.Router
		want    string
	}{
		{"clean", []tbxsim.Router{{Addr: a("10.0.1.1")}, {Addr: a("10.0.2.1")}, {Addr: a("10.0.3.1")}},
			"fragments: forwarded up to hop 3 (10.0.3.1) (3 fragments of 32 bytes)\n" +
				"PMTU: 1400-byte DF probe reaches the destination\n"},
		{"fragment filter and small MTU at hop 2", []tbxsim.Router{{Addr: a("10.0.1.1")}, {Addr: a("10.0.2.1"), Modify: dropFragments, LinkMTU: 1000}, {Addr: a("10.0.3.1")}},
			"fragments: dropped between hop 2 (10.0.2.1) and hop 3 (10.0.3.1) (3 fragments of 32 bytes)\n" +
				"PMTU: 1400-byte DF probe too big after 10.0.2.1 (answered at TTL 3): next-hop MTU 1000\n"},
		{"black hole", []tbxsim.Router{{Addr: a("10.0.1.1"), Modify: func(b []byte) []byte {
			if len(b) > 1000 {
				return nil
			}
			return b
		}}, {Addr: a("10.0.2.1")}, {Addr: a("10.0.3.1")}},
			"fragments: forwarded up to hop 3 (10.0.3.1) (3 fragments of 32 bytes)\n" +
				"PMTU: 1400-byte DF probe lost between hop 1 (10.0.1.1) and hop 2 (10.0.2.1) without ICMP (black hole)\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &tbxsim.Path{Routers: c.routers, Dst: a("1.2.3.4")}
			got, code, stderr := runScript(t, "detect_frags.lua", p)
			if code != 0 || got != c.want {
				t.Fatalf("exit %d\ngot:\n%s\nwant:\n%s\nstderr: %s", code, got, c.want, stderr)
			}
		})
	}
}
