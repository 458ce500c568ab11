package lang

import (
	"strconv"
	"strings"
)

// Unparse writes g back as a flat configuration: one declaration per
// element (anonymous ones under their generated names) and one
// connection per line. require(library ...) entries are omitted, since
// their contents are already part of g. Parsing the result gives the same
// elements and connections, provided config strings contain no '$'
// (they are written after variable substitution).
func Unparse(g *Graph) string {
	var b strings.Builder
	for _, r := range g.Requirements {
		if w, _ := firstWord(r); w == "library" {
			continue
		}
		b.WriteString("require(")
		b.WriteString(r)
		b.WriteString(");\n")
	}
	for _, e := range g.Elements {
		b.WriteString(e.Name)
		b.WriteString(" :: ")
		b.WriteString(e.Class)
		if e.Config != "" {
			b.WriteByte('(')
			b.WriteString(e.Config)
			b.WriteByte(')')
		}
		b.WriteString(";\n")
	}
	for _, c := range g.Connections {
		if c.From < 0 || c.From >= len(g.Elements) || c.To < 0 || c.To >= len(g.Elements) {
			continue
		}
		b.WriteString(g.Elements[c.From].Name)
		if c.FromPort != 0 {
			b.WriteString(" [" + strconv.Itoa(c.FromPort) + "]")
		}
		b.WriteString(" -> ")
		if c.ToPort != 0 {
			b.WriteString("[" + strconv.Itoa(c.ToPort) + "] ")
		}
		b.WriteString(g.Elements[c.To].Name)
		b.WriteString(";\n")
	}
	return b.String()
}
