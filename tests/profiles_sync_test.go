package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The tracebox-station profile ships its own copies of detector scripts
// (a profile is self-contained: it is copied alone into the firmware
// image and /etc/flowbox/profiles). They must stay identical to the
// maintained originals in scripts/tracebox.
func TestProfileProbeScriptsMatchScriptsTracebox(t *testing.T) {
	copies, err := filepath.Glob("../firmware/profiles/tracebox-station/probes/*.lua")
	if err != nil || len(copies) == 0 {
		t.Fatalf("no probe scripts found: %v", err)
	}
	for _, c := range copies {
		orig := filepath.Join("../scripts/tracebox", filepath.Base(c))
		a, err1 := os.ReadFile(c)
		b, err2 := os.ReadFile(orig)
		if err1 != nil || err2 != nil {
			t.Errorf("%s: %v %v", c, err1, err2)
			continue
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s: copy the original over it", c, orig)
		}
	}
}
