// Package tests holds end-to-end tests that run the real binaries.
package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"flowbox/tests/testbin"
)

var flowboxBin string

func TestMain(m *testing.M) { testbin.Main(m, testbin.Flowbox, &flowboxBin) }

// flowbox runs the binary with a time limit and returns stdout, stderr
// and the exit status.
func flowbox(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(flowboxBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("flowbox %v did not finish in 30s", args)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

func TestRunPrintsOneHandlerBare(t *testing.T) {
	out, errs, code := flowbox(t, "", "run", "-e", "InfiniteSource(LIMIT 5, STOP true) -> c :: Counter -> Discard", "-h", "c.count")
	if code != 0 || out != "5\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 5", code, out, errs)
	}
}

func TestRunPrintsSeveralHandlersClickStyle(t *testing.T) {
	conf := "InfiniteSource(LIMIT 3, STOP true) -> ca :: Counter -> cb :: Counter -> Discard"
	out, _, code := flowbox(t, "", "run", "-e", conf, "-h", "c*.count")
	want := "ca.count:\n3\n\ncb.count:\n3\n\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d, stdout %q, want %q", code, out, want)
	}
}

func TestRunFlagsAfterFileAndDefines(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "c.click")
	os.WriteFile(f, []byte("define($N 2)\nInfiniteSource(LIMIT $N, STOP true) -> c :: Counter -> Discard\n"), 0o644)
	out, errs, code := flowbox(t, "", "run", f, "N=7", "-h", "c.count")
	if code != 0 || out != "7\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 7 (N=7 overrides define)", code, out, errs)
	}
}

func TestCompoundElementNames(t *testing.T) {
	conf := `elementclass Pipe { input -> c :: Counter -> output }
InfiniteSource(LIMIT 4, STOP true) -> dns :: Pipe -> Discard`
	out, errs, code := flowbox(t, "", "run", "-e", conf, "-h", "dns/c.count")
	if code != 0 || out != "4\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestCheckReportsEveryErrorWithLocation(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "bad.click")
	os.WriteFile(f, []byte("src :: InfiniteSource(LIMIT lots) -> Discard;\nq :: Queue(CAPACITY x);\nsrc2 :: InfiniteSource -> q -> Counter -> Idle;\n"), 0o644)
	_, errs, code := flowbox(t, "", "check", f)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, errs)
	}
	for _, want := range []string{f + ":1:1:", "LIMIT", f + ":2:1:", "CAPACITY"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if !regexp.MustCompile(`(?m)^\s+\^$`).MatchString(errs) {
		t.Errorf("no caret line in:\n%s", errs)
	}
	_, _, code = flowbox(t, "", "check", "-e", "InfiniteSource -> Discard")
	if code != 0 {
		t.Errorf("check of a good config exited %d", code)
	}
}

func TestDocAndClasses(t *testing.T) {
	out, _, code := flowbox(t, "", "doc", "Counter")
	if code != 0 {
		t.Fatalf("doc exit %d", code)
	}
	for _, want := range []string{"Counter", "SYNOPSIS", "HANDLERS", "count", "PORT COUNT"} {
		if !strings.Contains(out, want) {
			t.Errorf("doc Counter lacks %q:\n%s", want, out)
		}
	}
	out, _, code = flowbox(t, "", "classes")
	if code != 0 || !strings.Contains(out, "InfiniteSource") || !strings.Contains(out, "Queue") {
		t.Errorf("classes: exit %d\n%s", code, out)
	}
	_, errs, code := flowbox(t, "", "doc", "NoSuchClass")
	if code != 1 || !strings.Contains(errs, "NoSuchClass") {
		t.Errorf("doc of unknown class: exit %d, %q", code, errs)
	}
}

func TestRunReadsConfigFromStdin(t *testing.T) {
	out, errs, code := flowbox(t, "InfiniteSource(LIMIT 2, STOP true) -> c :: Counter -> Discard", "run", "-f", "-", "-h", "c.count")
	if code != 0 || out != "2\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestDefaultConfigRunsUntilSignal(t *testing.T) {
	cmd := exec.Command(flowboxBin, "run", "--monitor", "200ms", "-h", "rx.count")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("SIGINT did not stop the run")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d; stderr %s", code, errb.String())
	}
	s := out.String()
	if !strings.Contains(s, "rx ") || !strings.Contains(s, "tx ") {
		t.Errorf("monitor printed no counters:\n%s", s)
	}
	lines := strings.Split(strings.TrimSpace(s), "\n")
	last := lines[len(lines)-1]
	if last == "0" || last == "" {
		t.Errorf("rx.count after the run = %q, want traffic", last)
	}
}

func TestCheckReportsSyntaxAndArgumentErrorsTogether(t *testing.T) {
	conf := "a :: Countr;\nInfiniteSource -> Counter(FOO 1) -> Idle;\nx -> Discard;\nq :: Queue(CAPACITY many) -> Idle;\n"
	_, errs, code := flowbox(t, "", "check", "-e", conf)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"<expr>:1:1: unknown element class 'Countr' (did you mean 'Counter'?)",
		"<expr>:2:19: 'Counter@3 :: Counter': FOO: unknown argument",
		"<expr>:3:1: undeclared element 'x'",
		"<expr>:4:1: 'q :: Queue': CAPACITY: expected integer",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in:\n%s", want, errs)
		}
	}
}

func TestCheckDoesNotTouchTheFileSystem(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.pcap")
	_, errs, code := flowbox(t, "", "check", "-e", "InfiniteSource(LIMIT 1) -> ToDump("+out+")")
	if code != 0 {
		t.Fatalf("check exit %d: %s", code, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("flowbox check created the ToDump file")
	}
}

func TestHooksVetoConfigurations(t *testing.T) {
	hooks, _ := filepath.Abs("../scripts/config_approval.lua")
	bad := "InfiniteSource(LIMIT 3, STOP true) -> IPEncap(4, 10.0.0.1, 8.8.8.8) -> c :: Counter -> Discard"
	_, errs, code := flowbox(t, "", "run", "--hooks", hooks, "-e", bad, "-h", "c.count")
	if code != 1 || !strings.Contains(errs, "rejected by policy") || !strings.Contains(errs, "8.8.8.8") {
		t.Errorf("bad config: exit %d, stderr %q", code, errs)
	}
	good := "InfiniteSource(LIMIT 3, STOP true) -> IPEncap(4, 10.0.0.1, 10.1.1.1) -> c :: Counter -> Discard"
	out, errs, code := flowbox(t, "", "run", "--hooks", hooks, "-e", good, "-h", "c.count")
	if code != 0 || out != "3\n" {
		t.Errorf("good config: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	_, errs, code = flowbox(t, "", "run", "--hooks", "/nonexistent.lua", "-e", good)
	if code != 1 || !strings.Contains(errs, "nonexistent.lua") {
		t.Errorf("missing hooks file: exit %d, %q", code, errs)
	}
	// A failing hook rejects (fail closed), and says why once.
	failing := filepath.Join(t.TempDir(), "failing.lua")
	os.WriteFile(failing, []byte("function on_config(c) error('boom') end\n"), 0o644)
	_, errs, code = flowbox(t, "", "run", "--hooks", failing, "-e", good)
	if code != 1 || errs != "flowbox: configuration rejected by policy: on_config hook failed: "+failing+":1: boom\n" {
		t.Errorf("failing hook: exit %d, stderr %q", code, errs)
	}
}

// The Lua example of the README, as a new user would type it.
func TestReadmeLuaInlineExample(t *testing.T) {
	conf := `InfiniteSource(LIMIT 10, STOP true)
    -> f :: LuaElement(CODE "n = 0; function push(port, p) n = n + 1; if n % 2 == 0 then return 0 end end")
    -> c :: Counter -> Discard`
	out, errs, code := flowbox(t, "", "run", "-e", conf, "-h", "c.count", "-h", "f.calls")
	if code != 0 || out != "c.count:\n5\n\nf.calls:\n10\n\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// Every flag of every flowbox command is documented in README.md.
func TestReadmeDocumentsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	flagLine := regexp.MustCompile(`(?m)^\s+-(-?[a-zA-Z][a-zA-Z0-9-]*)`)
	for _, cmd := range []string{"run", "check", "doc", "classes", "shell", "graph", "boot", "verify"} {
		_, help, _ := flowbox(t, "", cmd, "--help")
		for _, m := range flagLine.FindAllStringSubmatch(help, -1) {
			name := strings.TrimPrefix(m[1], "-")
			if !bytes.Contains(readme, []byte("`-"+name)) && !bytes.Contains(readme, []byte("`--"+name)) {
				t.Errorf("flowbox %s: flag -%s is not in README.md", cmd, name)
			}
		}
	}
}

// Each command's --help synopsis is the one README.md documents in its
// "### `flowbox CMD ...`" heading.
func TestHelpSynopsisMatchesReadme(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile("(?m)^### `(flowbox [a-z]+ [^`]*)`")
	documented := map[string]string{}
	for _, m := range heading.FindAllStringSubmatch(string(readme), -1) {
		documented[strings.Fields(m[1])[1]] = m[1]
	}
	for _, cmd := range []string{"run", "check", "shell", "graph", "verify", "boot"} {
		_, help, code := flowbox(t, "", cmd, "--help")
		if code != 0 {
			t.Errorf("%s --help: exit %d", cmd, code)
		}
		// The usage paragraph: "usage: flowbox CMD ..." and its continuation lines.
		usage, _, _ := strings.Cut(help, "\n\n")
		got := strings.Join(strings.Fields(strings.TrimPrefix(usage, "usage: ")), " ")
		if want := documented[cmd]; got != want {
			t.Errorf("flowbox %s --help synopsis\n  %s\nREADME.md\n  %s", cmd, got, want)
		}
	}
	_, help, _ := flowbox(t, "", "boot", "--help")
	if !strings.Contains(help, "flowbox: ready: profile=") || !bytes.Contains(readme, []byte("flowbox: ready: profile=")) {
		t.Errorf("boot --help and README.md disagree on the ready line:\n%s", help)
	}
	for _, cmd := range []string{"doc", "classes"} {
		if _, help, _ := flowbox(t, "", cmd, "--help"); strings.Contains(help, "options:") {
			t.Errorf("%s --help lists options it does not have:\n%s", cmd, help)
		}
	}
}

// A mistyped flag is reported once (with the usage), not twice.
func TestUnknownFlagReportedOnce(t *testing.T) {
	_, errs, code := flowbox(t, "", "run", "--bogus", "-e", "Idle")
	if code != 2 || strings.Count(errs, "-bogus") != 1 || !strings.Contains(errs, "usage: flowbox run") {
		t.Errorf("exit %d, stderr:\n%s", code, errs)
	}
}

// An empty -e EXPR is an empty configuration, not the embedded default one.
func TestEmptyExpressionIsNotTheDefaultConfig(t *testing.T) {
	out, errs, code := flowbox(t, "", "run", "-o", "-", "-e", "")
	if code != 0 || strings.Contains(out, "RatedSource") {
		t.Errorf("run -o - -e '': exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if _, errs, code := flowbox(t, "", "run", "-e", "", "x.click"); code != 1 || !strings.Contains(errs, "not both") {
		t.Errorf("-e '' with a file: exit %d, %q", code, errs)
	}
}

func TestBadThreadCountIsAUsageError(t *testing.T) {
	for _, n := range []string{"0", "-1"} {
		_, errs, code := flowbox(t, "", "run", "--threads", n, "-e", "InfiniteSource(LIMIT 1, STOP true) -> Discard")
		if code != 2 || !strings.Contains(errs, "--threads "+n+": need at least 1 worker thread") {
			t.Errorf("--threads %s: exit %d, %q", n, code, errs)
		}
	}
}

func TestMissingConfigFileMessage(t *testing.T) {
	for _, cmd := range []string{"run", "check"} {
		_, errs, code := flowbox(t, "", cmd, "/nonexistent/conf.click")
		if code != 1 || !strings.HasPrefix(errs, "flowbox: cannot read configuration: open /nonexistent/conf.click: no such file or directory") {
			t.Errorf("%s: exit %d, %q", cmd, code, errs)
		}
	}
}

// An undefined variable is reported once, not again as the argument
// errors of every element that uses it.
func TestCheckUndefinedVariableDoesNotCascade(t *testing.T) {
	conf := "in :: FromDevice($LAN, METHOD $LAN_METHOD) -> Discard;\nInfiniteSource(LIMIT $N) -> Discard;\nInfiniteSource(LIMIT x) -> Discard;\n"
	_, errs, code := flowbox(t, "", "check", "-e", conf)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"<expr>:1:18: undefined variable '$LAN'",
		"<expr>:1:31: undefined variable '$LAN_METHOD'",
		"<expr>:2:22: undefined variable '$N'",
		"<expr>:3:1: 'InfiniteSource@5 :: InfiniteSource': LIMIT: expected integer, got \"x\"",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "unknown METHOD") || strings.Contains(errs, `got "$N"`) {
		t.Errorf("cascading argument errors:\n%s", errs)
	}
}

// A typo in a class or element name gets a hint; a dangling arrow says
// what was expected.
func TestCheckHintsForTypos(t *testing.T) {
	_, errs, _ := flowbox(t, "", "check", "-e", "src :: InfiniteSource;\nsrc -> Countr -> Discard;\nsr -> Discard;\nsrc -> Discard ->")
	for _, want := range []string{
		"<expr>:2:8: undeclared element 'Countr' (did you mean 'Counter'?)",
		"<expr>:3:1: undeclared element 'sr' (did you mean 'src'?)",
		"<expr>:4:16: syntax error near '->': expected an element after '->'",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in:\n%s", want, errs)
		}
	}
}

// flowbox check reports arguments that name elements or handlers that do
// not exist (core.Resolver), not only flowbox run.
func TestCheckResolvesNames(t *testing.T) {
	for _, c := range []struct{ conf, want string }{
		{"InfiniteSource(LIMIT 3) -> c :: Counter(COUNT_CALL 3 nosuch.h) -> Discard", "COUNT_CALL: No element named 'nosuch'"},
		{"InfiniteSource(LIMIT 3) -> c :: Counter(COUNT_CALL 3 c.count) -> Discard", "COUNT_CALL: handler 'c.count' is not writable"},
		{"InfiniteSource(LIMIT 3, END_CALL d.nope) -> d :: Discard", "END_CALL: No handler named 'd.nope'"},
		{"i :: ICMPRewriter(nosuch) -> Discard; Idle -> i", `MAPS: no element named "nosuch"`},
		{"Idle -> ToDump(/tmp/fbx-never-created.pcap, USE_ENCAP_FROM nosuch)", `USE_ENCAP_FROM: "nosuch" is not a FromDump element`},
	} {
		_, errs, code := flowbox(t, "", "check", "-e", c.conf)
		if code != 1 || !strings.Contains(errs, c.want) || !strings.Contains(errs, "<expr>:1:") {
			t.Errorf("check %q: exit %d, stderr %q, want %q at a position", c.conf, code, errs, c.want)
		}
	}
	// flowbox run fails the same way, before ToDump creates its file.
	os.Remove("/tmp/fbx-never-created.pcap")
	if _, _, code := flowbox(t, "", "run", "-e", "Idle -> ToDump(/tmp/fbx-never-created.pcap, USE_ENCAP_FROM nosuch)"); code != 1 {
		t.Errorf("run with a bad USE_ENCAP_FROM: exit %d", code)
	}
	if _, err := os.Stat("/tmp/fbx-never-created.pcap"); err == nil {
		os.Remove("/tmp/fbx-never-created.pcap")
		t.Error("a run that failed its configuration created the ToDump file")
	}
}

// The reference boot file and every profile pass `boot --check --offline`
// from the source tree (the README tells operators to check files so).
func TestBootExampleAndProfilesCheck(t *testing.T) {
	files, _ := filepath.Glob("../firmware/profiles/*/boot.toml")
	files = append(files, "../firmware/boot.example.toml")
	for _, f := range files {
		out, errs, code := flowbox(t, "", "boot", "--check", "--offline", "-c", f)
		if code != 0 || !strings.Contains(out+errs, "ok:") {
			t.Errorf("boot --check --offline -c %s: exit %d\n%s%s", f, code, out, errs)
		}
	}
}
