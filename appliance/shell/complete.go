package shell

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Completer completes from live state: Fetch asks the server (commands,
// element, handler and class names); file names are completed locally.
type Completer struct {
	Fetch func(line string) (kind string, cands []string, err error)
}

// Do implements readline.AutoCompleter: it returns the suffixes that
// complete the word before pos, and the length of that word.
func (c *Completer) Do(line []rune, pos int) ([][]rune, int) {
	head := string(line[:pos])
	word := head
	if i := strings.LastIndexAny(head, " \t"); i >= 0 {
		word = head[i+1:]
	}
	cands := c.Candidates(head)
	out := make([][]rune, 0, len(cands))
	for _, cand := range cands {
		suffix := strings.TrimPrefix(cand, word)
		if len(cands) == 1 && !strings.HasSuffix(cand, ".") && !strings.HasSuffix(cand, "/") {
			suffix += " "
		}
		out = append(out, []rune(suffix))
	}
	return out, len([]rune(word))
}

// Candidates lists the full candidates for the last word of head.
func (c *Completer) Candidates(head string) []string {
	kind, cands, err := c.Fetch(head)
	if err != nil {
		return nil
	}
	if kind == "files" {
		word := head
		if i := strings.LastIndexAny(head, " \t"); i >= 0 {
			word = head[i+1:]
		}
		return Files(word)
	}
	return cands
}

// Files completes a file name prefix: directories get a trailing '/'.
func Files(prefix string) []string {
	dir, base := filepath.Split(prefix)
	d := dir
	if d == "" {
		d = "."
	}
	ents, err := os.ReadDir(d)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, base) || (strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".")) {
			continue
		}
		full := dir + name
		if e.IsDir() {
			full += "/"
		}
		out = append(out, full)
	}
	sort.Strings(out)
	return out
}
