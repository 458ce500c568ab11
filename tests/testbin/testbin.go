// Package testbin builds the project's commands for the end-to-end tests
// (tests/...), the way the firmware ships them: static, CGO_ENABLED=0.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The commands.
const (
	Flowbox  = "flowbox/appliance/cmd/flowbox"
	Tracebox = "flowbox/tracebox/cmd/tracebox"
)

// Build compiles command package pkg into dir/name and returns its path.
func Build(dir, name, pkg string) (string, error) {
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}

// Main is a TestMain: it builds pkg into a new temporary directory that
// every user may read (a test may run the binary as nobody), stores the
// binary's path in *bin, runs the tests, removes the directory and exits.
func Main(m *testing.M, pkg string, bin *string) {
	dir, err := os.MkdirTemp("", "flowbox-e2e-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err == nil {
		*bin, err = Build(dir, filepath.Base(pkg), pkg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
