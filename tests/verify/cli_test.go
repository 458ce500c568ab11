package verify_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"flowbox/tests/testbin"
)

var (
	buildOnce sync.Once
	bin       string
	buildErr  error
)

// flowbox builds the command once per test process.
func flowbox(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "flowbox-verify")
		if err != nil {
			buildErr = err
			return
		}
		bin, buildErr = testbin.Build(dir, "flowbox", testbin.Flowbox)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bin != "" {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, _, code := runErr(t, args...)
	return out, code
}

func TestCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	fw := filepath.Join("testdata", "cli", "fw.click")
	scrub := filepath.Join("testdata", "cli", "scrub.click")

	out, code := run(t, "-r", "reach from in udp -> out const payload", fw)
	if code != 0 || !strings.HasPrefix(out, "SATISFIED") {
		t.Fatalf("exit %d: %s", code, out)
	}
	// one line per requirement, in order; a violation wins the exit status
	out, code = run(t, "-r", "reach from in udp -> out const payload", "-r", "reach from in udp -> out const ttl", "-r", "reach from in tcp -> out", fw)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) != 3 || !strings.HasPrefix(lines[0], "SATISFIED") ||
		!strings.HasPrefix(lines[1], "VIOLATED") || !strings.HasPrefix(lines[2], "VIOLATED") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(lines[1], "counterexample: udp") || !strings.Contains(lines[1], "path: in ->") {
		t.Errorf("a violation needs a counterexample and a path: %s", lines[1])
	}
	if !strings.Contains(lines[2], "denied by rule 1") {
		t.Errorf("tcp is denied by the filter's second rule: %s", lines[2])
	}
	// an opaque element: the payload cannot be proved constant
	out, code = run(t, "-r", "reach from in udp -> out const payload", scrub)
	if code != 2 || !strings.HasPrefix(out, "UNPROVABLE") {
		t.Fatalf("exit %d: %s", code, out)
	}
	// security only; SANDBOX exits 2 and writes the sandboxed config
	sb := filepath.Join(t.TempDir(), "sandboxed.click")
	out, code = run(t, "--as", "third-party", "--address", "10.10.0.5", "--sandboxed", sb, scrub)
	if code != 2 || !strings.HasPrefix(out, "SANDBOX") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if b, err := os.ReadFile(sb); err != nil || !strings.Contains(string(b), "ChangeEnforcer") {
		t.Fatalf("sandboxed config: %v %s", err, b)
	}
	out, code = run(t, "--as", "client", "--address", "10.10.0.5", fw)
	if code != 1 || !strings.HasPrefix(out, "REJECT") {
		t.Fatalf("exit %d: %s", code, out)
	}
	// JSON: every path
	out, code = run(t, "--json", "-r", "reach from in udp -> out", "--as", "operator", fw)
	var js struct {
		Requirements []struct {
			Verdict string
			Paths   []struct{ Outcome, Hops string }
		}
		Security struct{ Decision string }
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil || code != 0 {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if js.Requirements[0].Verdict != "SATISFIED" || len(js.Requirements[0].Paths) != 4 || js.Security.Decision != "ACCEPT" {
		t.Fatalf("json: %+v", js)
	}
	// usage errors exit 2
	if _, code := run(t, fw); code != 2 {
		t.Errorf("no requirement: exit %d", code)
	}
	if _, code := run(t, "-r", "reach to x", fw); code != 2 {
		t.Errorf("bad requirement: exit %d", code)
	}
}

// The README's `flowbox verify --network net.txt -R requirements.txt
// box1.click box2.click`: CONFIG files given with --network are boxes
// named after their files that the description links.
func TestCLINetworkWithConfigFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	for _, f := range []string{"nat.click", "server.click"} {
		b, err := os.ReadFile(filepath.Join("testdata", "examples", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	net := filepath.Join(dir, "net.txt")
	os.WriteFile(net, []byte("link nat:out server:eth0\nclient 10.0.0.0/24 at nat:in\ninternet 198.51.100.0/24 at nat:out\n"), 0o644)
	reqs := filepath.Join(dir, "requirements.txt")
	os.WriteFile(reqs, []byte("# clients reach the internet\nreach from client -> internet\n"), 0o644)
	out, code := run(t, "--network", net, "-R", reqs, filepath.Join(dir, "nat.click"), filepath.Join(dir, "server.click"))
	if code != 0 || !strings.HasPrefix(out, "SATISFIED") || !strings.Contains(out, "server/IPFilter") {
		t.Fatalf("exit %d: %s", code, out)
	}
	// A box both in the description and on the command line is named.
	cmd := exec.Command(flowbox(t), "verify", "--network", filepath.Join("testdata", "examples", "nat.net"), "-r", "reach from client -> internet", filepath.Join(dir, "nat.click"))
	b, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(b), "nat.net:1: box nat: a box of that name already exists") {
		t.Errorf("exit %d: %s", cmd.ProcessState.ExitCode(), b)
	}
	// JSON is not HTML-escaped: paths read "a -> b".
	out, _ = run(t, "--json", "--network", filepath.Join("testdata", "examples", "nat.net"), "-r", "reach from client -> internet")
	if strings.Contains(out, `\u003e`) || !strings.Contains(out, "nat/FromDevice@1 -> ") {
		t.Errorf("json paths escaped:\n%.400s", out)
	}
}
