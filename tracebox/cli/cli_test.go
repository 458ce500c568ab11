package cli_test

import (
	"bytes"
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
