package arp

import (
	"testing"

	"flowbox/appliance/core"
)

// TestDocs checks that every class of the package is fully documented.
func TestDocs(t *testing.T) {
	for _, name := range []string{"ARPResponder", "ARPQuerier"} {
		c := core.Lookup(name)
		if c == nil {
			t.Fatalf("%s not registered", name)
		}
		d := c.Doc
		if d.Synopsis == "" || d.Summary == "" || d.Description == "" || d.Ports == "" || d.Example == "" || len(d.Handlers) == 0 {
			t.Errorf("%s: incomplete Doc", name)
		}
	}
}
