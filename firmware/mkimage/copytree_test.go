package main

import (
	"os"
	"path/filepath"
	"testing"
)

// copyTree copies a profile into the image: regular files as they are,
// links to files by their content (the image must not depend on the source
// tree), anything else not at all.
func TestCopyTreeFollowsFileLinks(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	shared := filepath.Join(t.TempDir(), "lib.lua")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(shared, []byte("-- shared\n"), 0o644))
	must(os.MkdirAll(filepath.Join(src, "probes"), 0o755))
	must(os.WriteFile(filepath.Join(src, "boot.toml"), []byte("profile = \"x\"\n"), 0o644))
	must(os.Symlink(shared, filepath.Join(src, "probes", "lib.lua")))
	must(os.Symlink(filepath.Join(src, "missing"), filepath.Join(src, "dangling")))
	if err := copyTree(src, dst); err == nil {
		t.Fatal("a dangling link was copied without an error")
	}
	must(os.Remove(filepath.Join(src, "dangling")))
	must(copyTree(src, dst))
	fi, err := os.Lstat(filepath.Join(dst, "probes", "lib.lua"))
	must(err)
	if !fi.Mode().IsRegular() {
		t.Fatalf("probes/lib.lua in the image is %v, want a regular file", fi.Mode())
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "probes", "lib.lua")); string(b) != "-- shared\n" {
		t.Fatalf("probes/lib.lua content %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "boot.toml")); string(b) != "profile = \"x\"\n" {
		t.Fatalf("boot.toml content %q", b)
	}
}
