package tests

import (
	"os"
	"strings"
	"testing"

	"flowbox/appliance/control"
	"flowbox/appliance/core"
	"flowbox/appliance/lang"
	_ "flowbox/elements/all"
)

// Every class named in an element's documented example exists (examples
// are fragments, so '...' and placeholder element names are allowed).
func TestDocExamplesNameRealClasses(t *testing.T) {
	for _, name := range core.ClassNames() {
		ex := core.Lookup(name).Doc.Example
		if ex == "" {
			continue
		}
		// IsClass nil: every capitalised unknown word is taken as a class.
		g, _ := lang.ParseAll(name+".example", []byte(ex), lang.Options{KeepUndefined: true})
		if g == nil {
			continue
		}
		for _, e := range g.Elements {
			if core.Lookup(e.Class) == nil {
				t.Errorf("doc example of %s uses unknown class %q:\n%s", name, e.Class, ex)
			}
		}
	}
}

// Every shell command (as 'help' lists them) is in README.md's Shell
// section.
func TestReadmeListsShellCommands(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, _ := strings.Cut(string(readme), "\n## Shell\n")
	sec, _, _ = strings.Cut(sec, "\n### Hot reconfiguration")
	for _, c := range control.Commands() {
		word := strings.Fields(c.Name)[0]
		if !strings.Contains(sec, "`"+word+" ") && !strings.Contains(sec, "`"+word+"`") {
			t.Errorf("shell command %q is not in README.md's Shell section", c.Name)
		}
	}
}
