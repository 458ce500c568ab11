package shell

import (
	"strings"
	"testing"
)

// `verify` in the shell proves requirements on the running configuration.
func TestShellVerifiesTheRunningConfiguration(t *testing.T) {
	a := run(t, `src :: InfiniteSource(LIMIT -1) -> Strip(14) -> CheckIPHeader
		-> f :: IPFilter(allow udp, deny all) -> DecIPTTL -> out :: Discard`)
	out, errs, code := a.shell(t, "", "-c",
		"verify -r 'reach from f udp -> out const payload'; verify -r 'reach from f -> out const ttl'")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "SATISFIED") || !strings.HasPrefix(lines[1], "VIOLATED") ||
		!strings.Contains(lines[1], "ttl") {
		t.Errorf("verify answers:\n%s", out)
	}
	_, errs, code = a.shell(t, "", "-c", "verify -r 'reach from'")
	if code == 0 || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("bad requirement: exit %d, stderr %q (want one error line)", code, errs)
	}
}
