package luaelement

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryScriptIsTested fails when a scripts/*.lua file is not named by
// any test of this package or of package lua.
func TestEveryScriptIsTested(t *testing.T) {
	scripts, err := filepath.Glob("../../scripts/*.lua")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	var tests strings.Builder
	for _, pat := range []string{"*_test.go", "../../lua/*_test.go"} {
		files, _ := filepath.Glob(pat)
		for _, f := range files {
			if filepath.Base(f) == "scriptcoverage_test.go" {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			tests.Write(b)
		}
	}
	for _, s := range scripts {
		name := filepath.Base(s)
		if !strings.Contains(tests.String(), name) {
			t.Errorf("scripts/%s has no test", name)
		}
	}
}
