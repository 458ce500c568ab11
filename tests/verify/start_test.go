package verify_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"flowbox/verify"
)

// loadText builds a checker for a configuration given as text.
func loadText(t *testing.T, text string) *verify.Checker {
	t.Helper()
	lg, err := verify.ParseConfig("test.click", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	g := verify.NewGraph()
	if err := g.AddBox("", lg); err != nil {
		t.Fatal(err)
	}
	return &verify.Checker{G: g}
}

// A requirement starting inside a configuration gets the packet layout
// the start element really emits: Ethernet before Strip(14), IP after it,
// a source's own frame at a source.
func TestStartLayouts(t *testing.T) {
	c := loadText(t, `
in :: FromDevice(eth0) -> c1 :: Counter -> Strip(14) -> c2 :: Counter -> CheckIPHeader
   -> f :: IPFilter(allow udp, deny all) -> out :: ToDevice(eth1);
src :: InfiniteSource -> c3 :: Counter -> Strip(14) -> CheckIPHeader -> f2 :: IPFilter(allow all) -> Discard;
`)
	check(t, c, "reach from in udp -> out const payload && src && dst port", verify.Satisfied)
	check(t, c, "reach from c1 udp -> out const payload && src && dst port", verify.Satisfied) // a frame: Strip(14) leaves the IP header
	check(t, c, "reach from c2 udp -> out const payload && src", verify.Satisfied)             // after Strip(14): IP at the data start
	check(t, c, "reach from c2 tcp -> out", verify.Violated)
	check(t, c, "reach from f -> out", verify.Satisfied) // after CheckIPHeader: an annotated IP packet
	// InfiniteSource's default DATA is Click's text, not an IPv4 frame:
	// CheckIPHeader drops it; any frame could pass from c3.
	a := check(t, c, "reach from src -> f2", verify.Violated)
	if !strings.Contains(a.Reason, "CheckIPHeader") {
		t.Errorf("the source's text should fail CheckIPHeader: %s", a.Line())
	}
	check(t, c, "reach from c3 -> f2", verify.Satisfied)
}

// The configuration `make run` runs: its sources emit Ethernet frames, so
// requirements from them get real answers: good's UDP is allowed and
// NATed, bad's telnet SYN is denied.
func TestDefaultConfig(t *testing.T) {
	file := filepath.Join("..", "..", "firmware", "default.click")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c := loadText(t, string(src))
	a := check(t, c, "reach from good -> tx", verify.Satisfied)
	if !strings.Contains(a.Reason, "udp 10.0.0.1:1234 > 192.0.2.10:80") {
		t.Errorf("good emits its DATA: %s", a.Line())
	}
	check(t, c, "reach from good udp dst port 80 -> tx const dst && dst port && payload", verify.Satisfied)
	check(t, c, "reach from good -> tx const src", verify.Violated) // NATed to 198.51.100.1
	check(t, c, "reach from good tcp -> tx", verify.Violated)       // good sends UDP only
	a = check(t, c, "reach from bad -> tx", verify.Violated)
	if !strings.Contains(a.Reason, "fw: denied by rule 0") {
		t.Errorf("bad is denied by the telnet rule: %s", a.Line())
	}
	check(t, c, "reach from rx udp -> tx", verify.Satisfied)
	check(t, c, "reach from rx tcp dst port 23 -> tx", verify.Violated)
	check(t, c, "reach from fw -> tx", verify.Satisfied)
}

func runErr(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(flowbox(t), append([]string{"verify"}, args...)...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), errb.String(), code
}

// `flowbox verify` on firmware/default.click answers, and an element name
// the configuration lacks is a usage error (exit 2, no answers), not an
// UNPROVABLE answer.
func TestCLIDefaultConfigAndUnknownElement(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	conf := filepath.Join("..", "..", "firmware", "default.click")
	out, _, code := runErr(t, "-r", "reach from good -> tx", conf)
	if code != 0 || !strings.HasPrefix(out, "SATISFIED") {
		t.Fatalf("exit %d: %s", code, out)
	}
	out, _, code = runErr(t, "-r", "reach from good -> tx", "-r", "reach from bad -> tx", conf)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 1 || len(lines) != 2 || !strings.HasPrefix(lines[1], "VIOLATED") {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, tc := range []struct{ req, want, suggest string }{
		{"reach from goood -> tx", `no element "goood"`, `did you mean "good"?`},
		{"reach from good -> txx", `no element "txx"`, `did you mean "tx"?`},
		{"reach from good -> fw:0 -> nosuchthing", `no element "nosuchthing"`, ""},
	} {
		out, errs, code := runErr(t, "-r", "reach from good -> tx", "-r", tc.req, conf)
		if code != 2 || out != "" || !strings.Contains(errs, tc.want) || !strings.Contains(errs, tc.req) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", tc.req, code, out, errs)
		}
		if tc.suggest != "" && !strings.Contains(errs, tc.suggest) || tc.suggest == "" && strings.Contains(errs, "did you mean") {
			t.Errorf("%s: suggestion: %q", tc.req, errs)
		}
	}
}
