package core

import (
	"strings"
	"testing"
)

// Item names longer than the default column widen it: every description
// of a section starts in the same column.
func TestDocStringAlignsLongNames(t *testing.T) {
	d := Doc{Handlers: []Item{
		{Name: "length", Text: "read: packets queued"},
		{Name: "highwater_length", Text: "read: most packets queued"},
	}}
	var cols []int
	for _, l := range strings.Split(d.String(), "\n") {
		if i := strings.Index(l, "read:"); i >= 0 {
			cols = append(cols, i)
		}
	}
	if len(cols) != 2 || cols[0] != cols[1] || cols[0] != len("    highwater_length ") {
		t.Errorf("description columns %v in:\n%s", cols, d.String())
	}
}
