// Command benchtable turns `go test -bench` output (on stdin) into the
// Mpps table `make bench` prints, with the peer figures and goals from
// docs/benchmarks.md for the pipelines that have them.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// peer holds the best userlevel Click-family figure measured on this
// machine kind and our goal (1.25x the better peer).
type peer struct {
	label       string
	click, fast float64
	goal        float64
}

var peers = map[string]peer{
	"PipelineD": {"D: InfiniteSource -> Discard", 99, 126, 158},
	"PipelineF": {"F: ... CheckIPHeader -> IPFilter -> Counter", 8.6, 17.3, 21.6},
	"PipelineN": {"N: F + IPRewriter", 4.4, 7.6, 9.5},
	"LuaFilter": {"LuaElement 5-line filter", 0, 0, 2},
}

var line = regexp.MustCompile(`^Benchmark(\S+?)(-\d+)?\s+\d+\s+(.*)$`)

func main() {
	type row struct {
		name        string
		mpps, nsPkt float64
		nsOp        float64
		hasMpps     bool
		other       []string // other custom metrics, e.g. "137000 probes/s"
	}
	var rows []row
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		r := row{name: m[1]}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "Mpps":
				r.mpps, r.hasMpps = v, true
			case "ns/pkt":
				r.nsPkt = v
			case "ns/op":
				r.nsOp = v
			case "B/op", "allocs/op", "MB/s":
			default:
				r.other = append(r.other, f[i]+" "+f[i+1])
			}
		}
		rows = append(rows, r)
	}
	fmt.Printf("\n%-34s %10s %10s %10s %10s %8s\n", "benchmark (one core)", "Mpps", "ns/pkt", "goal", "FastClick", "ratio")
	fmt.Println(strings.Repeat("-", 88))
	for _, r := range rows {
		if !r.hasMpps {
			fmt.Printf("%-34s %10s %10s   %.1f ns/op  %s\n", r.name, "-", "-", r.nsOp, strings.Join(r.other, "  "))
			continue
		}
		p, ok := peers[r.name]
		goal, fast, ratio := "-", "-", "-"
		if ok {
			goal = fmt.Sprintf("%.1f", p.goal)
			if p.fast > 0 {
				fast = fmt.Sprintf("%.1f", p.fast)
				ratio = fmt.Sprintf("%.2fx", r.mpps/p.fast)
			}
		}
		fmt.Printf("%-34s %10.2f %10.2f %10s %10s %8s\n", r.name, r.mpps, r.nsPkt, goal, fast, ratio)
	}
}
