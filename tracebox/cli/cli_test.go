package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"flowbox/tracebox/cli"
)

// Options stop at the host (as documented): an option after it is an
// error, not silently ignored ("HOST -m 2" used to trace 64 hops).
func TestOptionAfterHostIsAnError(t *testing.T) {
	var out, errb bytes.Buffer
	code := cli.Main([]string{"-n", "1.2.3.4", "-m", "2"}, cli.Env{Stdout: &out, Stderr: &errb, Transport: simTransport})
	if code != 1 || out.Len() != 0 || !strings.Contains(errb.String(), `unexpected argument "-m" after the host 1.2.3.4`) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := cli.Main([]string{"-n", "-m", "2", "1.2.3.4"}, cli.Env{Stdout: &out, Stderr: &errb, Transport: simTransport}); code != 0 || !strings.Contains(out.String(), "2 hops max") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// checkErrLines fails unless stderr is non-empty and every line of it
// starts with "tracebox: " and contains want.
func checkErrLines(t *testing.T, stderr, want string) {
	t.Helper()
	s := strings.TrimRight(stderr, "\n")
	if s == "" || !strings.Contains(s, want) {
		t.Fatalf("stderr %q, want %q in it", stderr, want)
	}
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "tracebox: ") || strings.HasPrefix(l, "tracebox: tracebox: ") {
			t.Fatalf("stderr line %q does not start with a single \"tracebox: \"\n%s", l, stderr)
		}
	}
}

// Run-time errors are printed with the "tracebox: " prefix, like usage
// errors, and the rest of the message is kept.
func TestRunTimeErrorsArePrefixed(t *testing.T) {
	dir := t.TempDir()
	targets := filepath.Join(dir, "targets")
	os.WriteFile(targets, []byte("::1\n"), 0o644)
	cases := []struct {
		name string
		args []string
		env  cli.Env
		want string
	}{
		{"offline IN missing", []string{"-n", "-i", "pcap:" + filepath.Join(dir, "o.pcap") + ":" + filepath.Join(dir, "missing.pcap"), "1.2.3.4"},
			cli.Env{}, "missing.pcap: no such file or directory"},
		{"-f in a missing directory", []string{"-n", "-f", filepath.Join(dir, "nodir", "rec.pcap"), "1.2.3.4"},
			cli.Env{Transport: simTransport}, "nodir/rec.pcap: no such file or directory"},
		{"engine error keeps one prefix", []string{"-n", "-p", "TCP", "1.2.3.4"},
			cli.Env{Transport: simTransport}, "the probe has no IP or IPv6 layer"},
		{"lua error", []string{"-l", "error('boom')"}, cli.Env{Transport: simTransport}, "boom"},
		{"campaign targets file missing", []string{"-n", "--targets", filepath.Join(dir, "nofile")},
			cli.Env{Transport: simTransport}, "nofile: no such file or directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			c.env.Stdout, c.env.Stderr = &out, &errb
			if code := cli.Main(c.args, c.env); code != 1 {
				t.Fatalf("exit %d, stderr %q", code, errb.String())
			}
			checkErrLines(t, errb.String(), c.want)
		})
	}
	// A campaign target that fails is reported as "tracebox: TARGET: ...".
	var out, errb bytes.Buffer
	cli.Main([]string{"-n", "-j", "--targets", targets}, cli.Env{Stdout: &out, Stderr: &errb, Transport: simTransport})
	want := "tracebox: ::1: destination ::1 does not match the probe's IP layer\n"
	if !strings.HasPrefix(errb.String(), want) {
		t.Fatalf("stderr %q, want it to start with %q", errb.String(), want)
	}
}

// Lua errors are one line naming the source once: "tracebox:
// FILE:LINE: message" for -s, "(command line):LINE:" for -l; a -p probe
// is named by the expression itself.
func TestLuaErrorMessages(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.lua")
	os.WriteFile(bad, []byte("function f()\n  return 1 +\nend\n"), 0o644)
	rt := filepath.Join(dir, "rt.lua")
	os.WriteFile(rt, []byte("#!/usr/bin/env tracebox -s\nlocal t = {}\nprint(t.x.y)\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-s", bad}, "tracebox: " + bad + ":3: syntax error near 'end'\n"},
		{[]string{"-s", rt}, "tracebox: " + rt + ":3: attempt to index a non-table object(nil) with key 'y'\n"},
		{[]string{"-l", "x = = 1"}, "tracebox: (command line):1: syntax error near '='\n"},
		{[]string{"-l", "x = 1\nerror('boom')"}, "tracebox: (command line):2: boom\n"},
		{[]string{"-n", "-p", "IP / ", "1.2.3.4"}, "tracebox: probe \"IP / \": syntax error at EOF\n"},
		{[]string{"-n", "-p", "foo()", "1.2.3.4"}, "tracebox: probe \"foo()\": attempt to call a non-function object\n"},
	} {
		var out, errb bytes.Buffer
		if code := cli.Main(c.args, cli.Env{Stdout: &out, Stderr: &errb, Transport: simTransport}); code != 1 || errb.String() != c.want {
			t.Errorf("%q: exit %d, stderr %q, want %q", c.args, code, errb.String(), c.want)
		}
	}
}

// A failed offline run (IN missing or unreadable) does not create OUT, nor
// truncate an existing OUT.
func TestOfflineMissingInputCreatesNoOutput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.pcap")
	unreadable := filepath.Join(dir, "unreadable.pcap")
	os.WriteFile(unreadable, []byte("x"), 0o000)
	ins := []string{filepath.Join(dir, "missing.pcap"), dir}
	if os.Geteuid() != 0 { // root reads anything
		ins = append(ins, unreadable)
	}
	for _, in := range ins {
		var stdout, stderr bytes.Buffer
		code := cli.Main([]string{"-n", "-i", "pcap:" + out + ":" + in, "1.2.3.4"}, cli.Env{Stdout: &stdout, Stderr: &stderr})
		if code != 1 {
			t.Fatalf("IN %s: exit %d, stderr %q", in, code, stderr.String())
		}
		checkErrLines(t, stderr.String(), in)
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("IN %s: OUT was created (stat: %v)", in, err)
		}
	}
	os.WriteFile(out, []byte("keep"), 0o644)
	var stdout, stderr bytes.Buffer
	if code := cli.Main([]string{"-n", "-i", "pcap:" + out + ":" + ins[0], "1.2.3.4"}, cli.Env{Stdout: &stdout, Stderr: &stderr}); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if b, _ := os.ReadFile(out); string(b) != "keep" {
		t.Fatalf("an existing OUT was overwritten: %q", b)
	}
}

// Out-of-range option values are refused with a message naming the
// option, instead of being wrapped (-d 70000 probed port 4464) or
// silently accepted (-t -1, --tries 0, --stop-silent -1).
func TestBadOptionValues(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"-d 70000", "option -d: port 70000 out of range"},
		{"-d -1", "option -d: port -1 out of range"},
		{"-t abc", `option -t: "abc" is not a timeout`},
		{"-t -1", `option -t: "-1" is not a timeout`},
		{"-t 0", `option -t: "0" is not a timeout`},
		{"-t NaN", `option -t: "NaN" is not a timeout`},
		{"--tries 0", "option --tries: 0, need at least 1"},
		{"--stop-silent -1", "option --stop-silent: -1 is negative"},
		{"--parallel 0", "option --parallel: 0, need at least 1"},
		{"--rate -5", "option --rate: -5 is negative"},
		{"--rate x", `option --rate: "x" is not a number`},
	} {
		var out, errb bytes.Buffer
		args := append(strings.Fields(c.args), "-n", "1.2.3.4")
		code := cli.Main(args, cli.Env{Stdout: &out, Stderr: &errb, Transport: simTransport})
		if code != 1 || out.Len() != 0 || !strings.HasPrefix(errb.String(), "tracebox: "+c.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", c.args, code, out.String(), firstLine(errb.String()))
		}
	}
	for _, ok := range []string{"-d 0", "-d 65535", "-t 0.01", "--stop-silent 0", "--rate 0"} {
		if _, err := cli.Parse(append(strings.Fields(ok), "1.2.3.4")); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// Every flag of --help is documented in tracebox/README.md and every flag
// of the README's table is in --help.
func TestHelpMatchesReadme(t *testing.T) {
	var out, errb bytes.Buffer
	if code := cli.Main([]string{"--help"}, cli.Env{Stdout: &out, Stderr: &errb}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	flag := regexp.MustCompile(`(?:^|[\s,/|` + "`" + `])(--?[a-zA-Z0-9][a-z-]*)`)
	help := map[string]bool{}
	for _, l := range strings.Split(errb.String(), "\n") {
		if strings.HasPrefix(l, "  -") {
			help[strings.Fields(l)[0]] = true
		}
	}
	doc := map[string]bool{}
	for _, l := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(l, "| `-") {
			cell := strings.Split(l, "|")[1]
			for _, m := range flag.FindAllStringSubmatch(cell, -1) {
				doc[m[1]] = true
			}
		}
	}
	if len(help) < 20 || len(doc) < 20 {
		t.Fatalf("parsed %d help flags, %d README flags", len(help), len(doc))
	}
	for f := range help {
		if !doc[f] && !strings.Contains(string(readme), "`"+f) {
			t.Errorf("%s is in --help but not in tracebox/README.md", f)
		}
	}
	for f := range doc {
		if !help[f] {
			t.Errorf("%s is in tracebox/README.md but not in --help", f)
		}
	}
}
