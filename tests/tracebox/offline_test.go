package tracebox_test

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"flowbox/tracebox"
	"flowbox/tracebox/cli"
	"flowbox/tracebox/tbxsim"
)

var dDelay = regexp.MustCompile(` [0-9]+\.[0-9]{3}ms`)

// seqShift is a middlebox rewriting the TCP sequence number (+1000).
func seqShift(b []byte) []byte {
	h := tbxsim.L4(b)
	if len(b) >= h+8 {
		s := uint32(b[h+4])<<24 | uint32(b[h+5])<<16 | uint32(b[h+6])<<8 | uint32(b[h+7])
		s += 1000
		b[h+4], b[h+5], b[h+6], b[h+7] = byte(s>>24), byte(s>>16), byte(s>>8), byte(s)
	}
	return b
}

// offlinePath: r1 clamps MSS, r2 is an RFC 792 router, r3 rewrites the
// sequence number, r4 is silent, r5 answers with an RFC 4884 extension.
func offlinePath() *tbxsim.Path {
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	return &tbxsim.Path{
		Routers: []tbxsim.Router{
			{Addr: a("10.0.1.1"), Modify: tbxsim.ClampMSS(1400)},
			{Addr: a("10.0.2.1"), Quote: tbxsim.QuoteRFC792, Modify: seqShift},
			{Addr: a("10.0.3.1")},
			{Addr: a("10.0.4.1"), Quote: tbxsim.QuoteSilent},
			{Addr: a("10.0.5.1"), Extension: []byte{0x20, 0, 0, 0, 0, 8, 1, 1, 0, 0, 0x11, 0x40}},
		},
		Dst: a("1.2.3.4"),
	}
}

const offlineProbe = "ip{id=4660} / tcp{src=1234, dst=80, seq=42} / mss(9000)"

const offlineWant = `tracebox to 1.2.3.4 (1.2.3.4): 30 hops max
1: 10.0.1.1 Xms 
2: 10.0.2.1 Xms  [PARTIAL] +PartialTCP IP::TTL IP::CheckSum 
3: 10.0.3.1 Xms TCP::SeqNumber TCP::CheckSum IP::TTL IP::CheckSum TCPOptionMaxSegSize::MaxSegSize 
4: *
5: 10.0.5.1 Xms TCP::SeqNumber TCP::CheckSum IP::TTL IP::CheckSum TCPOptionMaxSegSize::MaxSegSize [Extra headers: ICMPExtension ICMPExtensionMPLS ] 
6: 1.2.3.4 Xms [Reply: TCP ( SYN ACK )] 
`

// A trace recorded with -f (probes + replies) replays exactly in the
// offline mode -i pcap:OUT:IN, silent hop included, without privileges.
func TestOfflineReplayOfRecording(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec.pcap")
	probe, err := tracebox.ParseProbe(offlineProbe)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tracebox.Run(context.Background(), tracebox.Options{
		Host: "1.2.3.4", Probe: probe, MaxTTL: 30, Timeout: 1e7, Transport: offlinePath().Transport(), PcapFile: rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := tracebox.Format{NoResolve: true}
	if got := dDelay.ReplaceAllString(f.Text(res), " Xms"); got != offlineWant {
		t.Fatalf("simulated:\n%s\nwant:\n%s", got, offlineWant)
	}
	var out, errb bytes.Buffer
	code := cli.Main([]string{"-n", "-m", "30", "-t", "0.05", "-p", offlineProbe, "-i", "pcap:" + filepath.Join(dir, "out.pcap") + ":" + rec, "1.2.3.4"},
		cli.Env{Stdout: &out, Stderr: &errb})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := dDelay.ReplaceAllString(out.String(), " Xms"); got != offlineWant {
		t.Fatalf("replay:\n%s\nwant:\n%s", got, offlineWant)
	}
}

// --compat reproduces 0.4.4: integer 0ms delays, no PartialTCP comparison,
// the destination's SYN/ACK diffed as a quote, no header with -M 2.
func TestOfflineCompat(t *testing.T) {
	var out, errb bytes.Buffer
	code := cli.Main([]string{"--compat", "-n", "-M", "2", "-m", "3", "-p", offlineProbe, "1.2.3.4"},
		cli.Env{Stdout: &out, Stderr: &errb, Transport: offlinePath().Transport})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := "2: 10.0.2.1 0ms  [PARTIAL] +PartialTCP IP::TTL IP::CheckSum \n" +
		"3: 10.0.3.1 0ms TCP::SeqNumber TCP::CheckSum IP::TTL IP::CheckSum TCPOptionMaxSegSize::MaxSegSize \n"
	if out.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

// In default mode an RFC 792 quote's 8 TCP bytes are compared too.
func TestOfflinePartialSeqCompared(t *testing.T) {
	p := offlinePath()
	p.Routers[1].Modify = nil
	p.Routers[0].Modify = seqShift
	var out, errb bytes.Buffer
	cli.Main([]string{"-n", "-m", "2", "-p", offlineProbe, "1.2.3.4"}, cli.Env{Stdout: &out, Stderr: &errb, Transport: p.Transport})
	want := "2: 10.0.2.1 Xms  [PARTIAL] +PartialTCP PartialTCP::SeqNumber IP::TTL IP::CheckSum \n"
	if got := dDelay.ReplaceAllString(out.String(), " Xms"); got[len(got)-len(want):] != want {
		t.Fatalf("got:\n%s", got)
	}
}

// The real binary, offline (no root): a missing IN is an error printed as
// "tracebox: ..." (exit 1), and OUT is not created.
func TestBinaryOfflineMissingInput(t *testing.T) {
	dir := t.TempDir()
	out, in := filepath.Join(dir, "out.pcap"), filepath.Join(dir, "missing.pcap")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(tbxBin, "-n", "-i", "pcap:"+out+":"+in, "1.2.3.4")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, stderr %q", err, stderr.String())
	}
	if want := "tracebox: stat " + in + ": no such file or directory\n"; stderr.String() != want || stdout.Len() != 0 {
		t.Fatalf("stdout %q, stderr %q, want stderr %q", stdout.String(), stderr.String(), want)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("OUT was created (stat: %v)", err)
	}
}
