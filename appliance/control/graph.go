package control

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"flowbox/appliance/core"
	"flowbox/appliance/runtime"
)

// Dot renders the router's graph as a Graphviz digraph. Elements are
// boxes labelled "name\nClass"; each edge is labelled with its ports and,
// when rates is not nil, its packet and bit rates. Pull connections are
// dashed.
func Dot(r *runtime.Router, rates []float64, bitRates []float64) string {
	var b strings.Builder
	b.WriteString("digraph flowbox {\n\trankdir=LR;\n\tnode [shape=box, fontname=\"Helvetica\", fontsize=10];\n\tedge [fontname=\"Helvetica\", fontsize=9];\n")
	for i, n := range r.Nodes {
		fmt.Fprintf(&b, "\tn%d [label=%s];\n", i, strconv.Quote(n.Decl.Name+"\n"+n.Decl.Class))
	}
	for i, c := range r.Conns {
		label := fmt.Sprintf("[%d]→[%d]", c.FromPort, c.ToPort)
		if rates != nil {
			label += "\n" + si(rates[i]) + " pkt/s"
			if bitRates != nil {
				label += "\n" + si(bitRates[i]) + " bit/s"
			}
		}
		attrs := "label=" + strconv.Quote(label)
		if r.Nodes[c.From].Elem.Core().Output(c.FromPort).Kind == core.Pull {
			attrs += ", style=dashed"
		}
		if rates != nil && rates[i] > 0 {
			attrs += ", penwidth=2"
		}
		fmt.Fprintf(&b, "\tn%d -> n%d [%s];\n", c.From, c.To, attrs)
	}
	b.WriteString("}\n")
	return b.String()
}

func showGraph(c *Call) (string, error) {
	r := c.Router()
	if len(c.Args) >= 1 && c.Args[0] == "--dot" {
		if len(c.Args) > 2 {
			return "", usageErr(c.Cmd)
		}
		rs := c.Srv.sampleRates(500 * time.Millisecond)
		pk, bits := make([]float64, len(rs)), make([]float64, len(rs))
		for i, x := range rs {
			pk[i], bits[i] = x.pkts, x.bytes*8
		}
		dot := Dot(c.Srv.Router(), pk, bits)
		if len(c.Args) == 2 {
			f := c.Sess.Path(c.Args[1])
			if err := os.WriteFile(f, []byte(dot), 0o644); err != nil {
				return "", &Error{Code: CodeUnspecified, Msg: "show graph: " + err.Error()}
			}
			return fmt.Sprintf("wrote %s (render with: dot -Tsvg %s -o graph.svg)\n", f, f), nil
		}
		return dot, nil
	}
	if len(c.Args) != 0 {
		return "", usageErr(c.Cmd)
	}
	stats := r.Stats()
	var b strings.Builder
	for _, cn := range r.Conns {
		from := r.Nodes[cn.From]
		count := "pull"
		if from.Elem.Core().Output(cn.FromPort).Kind == core.Push {
			count = strconv.FormatUint(stats[cn.From].Outputs[cn.FromPort], 10) + " packets"
		}
		fmt.Fprintf(&b, "%s [%d] -> [%d] %s  (%s)\n", from.Decl.Name, cn.FromPort, cn.ToPort, r.Nodes[cn.To].Decl.Name, count)
	}
	return b.String(), nil
}
