package tests

import (
	"os"
	"path/filepath"
	"testing"
)

// The tracebox-station profile ships detector scripts maintained in
// scripts/tracebox. It links them (one copy in the tree); the firmware
// image and `make install` copy their content, so an installed profile is
// self-contained. Each link must resolve to the original.
func TestProfileProbeScriptsLinkScriptsTracebox(t *testing.T) {
	links, err := filepath.Glob("../firmware/profiles/tracebox-station/probes/*.lua")
	if err != nil || len(links) == 0 {
		t.Fatalf("no probe scripts found: %v", err)
	}
	for _, l := range links {
		fi, err := os.Lstat(l)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is a copy: link it to scripts/tracebox/%s instead", l, filepath.Base(l))
			continue
		}
		got, err1 := filepath.EvalSymlinks(l)
		got, _ = filepath.Abs(got)
		want, err2 := filepath.Abs(filepath.Join("../scripts/tracebox", filepath.Base(l)))
		if err1 != nil || err2 != nil || got != want {
			t.Errorf("%s resolves to %q (%v), want %q", l, got, err1, want)
		}
	}
}
