// Package suggest finds the known name closest to a mistyped one, for the
// "did you mean ...?" hints in error messages (config language, boot
// files, class names, verifier requirements).
package suggest

import "strings"

// Finder keeps the closest candidate seen so far. Matching ignores case;
// a candidate is only offered when it is fewer than Max edits away and
// fewer edits than the typed name has letters (so "x" suggests nothing).
type Finder struct {
	name  string
	best  string
	bestD int
}

// New starts a search for name, offering candidates fewer than max edits away.
func New(name string, max int) *Finder {
	return &Finder{name: strings.ToLower(name), bestD: max}
}

// Try considers one candidate.
func (f *Finder) Try(candidate string) {
	if d := Distance(f.name, strings.ToLower(candidate)); d < f.bestD && d < len(f.name) {
		f.best, f.bestD = candidate, d
	}
}

// Best is the closest candidate, or "" when none was close enough.
func (f *Finder) Best() string { return f.best }

// Closest is the candidate closest to name, or "".
func Closest(name string, max int, candidates []string) string {
	f := New(name, max)
	for _, c := range candidates {
		f.Try(c)
	}
	return f.Best()
}

// Distance is the Levenshtein distance between a and b (bytes).
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
