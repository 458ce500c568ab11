package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"", "abc", 3}, {"abc", "", 3}, {"kitten", "sitting", 3},
		{"Counter", "Counter", 0}, {"Countr", "Counter", 1}, {"flaw", "lawn", 2},
	} {
		if got := Distance(c.a, c.b); got != c.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
		if got := Distance(c.b, c.a); got != c.d {
			t.Errorf("Distance(%q, %q) = %d, want %d (symmetric)", c.b, c.a, got, c.d)
		}
	}
}

func TestClosest(t *testing.T) {
	classes := []string{"Counter", "Queue", "Discard", "ToDevice"}
	for _, c := range []struct {
		name string
		max  int
		want string
	}{
		{"countr", 3, "Counter"}, // case ignored, original spelling returned
		{"Queu", 3, "Queue"},
		{"Discrad", 3, "Discard"},
		{"Zebra", 3, ""}, // nothing close
		{"Q", 3, ""},     // too short to guess from
		{"ToDevic", 2, "ToDevice"},
		{"ToDev", 2, ""}, // 3 edits, max 2
	} {
		if got := Closest(c.name, c.max, classes); got != c.want {
			t.Errorf("Closest(%q, %d) = %q, want %q", c.name, c.max, got, c.want)
		}
	}
}
