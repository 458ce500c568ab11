package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"flowbox/tracebox"
)

// Limiter is a token bucket shared by all traces of a campaign.
type Limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

// NewLimiter allows pps sends per second (pps <= 0: unlimited).
func NewLimiter(pps float64) *Limiter {
	if pps <= 0 {
		return &Limiter{}
	}
	return &Limiter{interval: time.Duration(float64(time.Second) / pps)}
}

// Wait blocks until the next send is allowed.
func (l *Limiter) Wait(ctx context.Context) error {
	if l.interval == 0 {
		return ctx.Err()
	}
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	at := l.next
	l.next = l.next.Add(l.interval)
	l.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// CampaignResult is one target's outcome.
type CampaignResult struct {
	Target string
	Res    *tracebox.Result
	Err    error
}

// Campaign traces every target with bounded parallelism and rate; results
// are delivered in completion order to out. It returns the number of probes
// sent.
func Campaign(ctx context.Context, targets []string, base tracebox.Options, parallel int, lim *Limiter,
	newTransport func() tracebox.Transport, out func(CampaignResult)) int64 {
	if parallel <= 0 {
		parallel = 8
	}
	var probes atomic.Int64
	jobs := make(chan string)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range jobs {
				o := base
				o.Host = t
				o.Pace = func(ctx context.Context) error {
					probes.Add(1)
					return lim.Wait(ctx)
				}
				if newTransport != nil {
					o.Transport = newTransport()
				}
				res, err := tracebox.Run(ctx, o)
				if o.Transport != nil {
					o.Transport.Close()
				}
				mu.Lock()
				out(CampaignResult{Target: t, Res: res, Err: err})
				mu.Unlock()
			}
		}()
	}
	for _, t := range targets {
		select {
		case jobs <- t:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	return probes.Load()
}

func readTargets(path string) ([]string, error) {
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = strings.TrimSpace(l[:i])
		}
		if l != "" {
			out = append(out, strings.Fields(l)[0])
		}
	}
	return out, sc.Err()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func campaign(ctx context.Context, c *Config, env Env) int {
	targets, err := readTargets(c.Targets)
	if err != nil {
		fmt.Fprintln(env.Stderr, errMsg(err))
		return 1
	}
	o := c.Options()
	o.PcapFile = "" // one file per campaign is not meaningful
	if c.Probe != "" {
		p, err := tracebox.ParseProbe(c.Probe)
		if err != nil {
			fmt.Fprintln(env.Stderr, errMsg(err))
			return 1
		}
		o.Probe = p
	}
	f := c.Format()
	progress := c.Progress || isTerminal(env.Stderr)
	w := bufio.NewWriter(env.Stdout)
	defer w.Flush()
	var results []CampaignResult
	start := time.Now()
	done := 0
	n := Campaign(ctx, targets, o, c.Parallel, NewLimiter(c.Rate), env.Transport, func(r CampaignResult) {
		done++
		results = append(results, r)
		if r.Res != nil {
			if c.JSON {
				w.WriteString(f.JSON(r.Res) + "\n")
			} else {
				w.WriteString(f.Text(r.Res))
			}
			w.Flush()
		}
		if r.Err != nil {
			if progress {
				fmt.Fprint(env.Stderr, "\r")
			}
			fmt.Fprintf(env.Stderr, "tracebox: %s: %s\n", r.Target, strings.TrimPrefix(r.Err.Error(), "tracebox: "))
		}
		if progress {
			width := 30
			fill := width * done / max(len(targets), 1)
			fmt.Fprintf(env.Stderr, "\r[%s%s] %d/%d", strings.Repeat("#", fill), strings.Repeat(".", width-fill), done, len(targets))
			if done == len(targets) {
				fmt.Fprintln(env.Stderr)
			}
		}
	})
	el := time.Since(start)
	if c.Summary || !c.JSON || progress {
		writeSummary(env.Stderr, results, n, el)
	}
	return 0
}

func writeSummary(w io.Writer, results []CampaignResult, probes int64, el time.Duration) {
	sort.Slice(results, func(i, j int) bool { return results[i].Target < results[j].Target })
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tHOPS\tREACHED\tMODIFIED AT\tMODIFICATIONS")
	for _, r := range results {
		if r.Res == nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\terror: %v\n", r.Target, r.Err)
			continue
		}
		first := "-"
		seen := map[string]bool{}
		var names []string
		for _, h := range r.Res.Hops {
			for _, m := range h.Mods.Items {
				n := m.Name()
				if n == "IP::TTL" || n == "IP::CheckSum" || n == "IPv6::HopLimit" || n == "TCP::CheckSum" || n == "UDP::CheckSum" {
					continue
				}
				if h.Mods.Direct {
					continue
				}
				if first == "-" {
					first = fmt.Sprint(h.TTL)
				}
				if !seen[n] {
					seen[n] = true
					names = append(names, n)
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%v\t%s\t%s\n", r.Target, len(r.Res.Hops), r.Res.Reached, first, strings.Join(names, " "))
	}
	tw.Flush()
	rate := 0.0
	if el > 0 {
		rate = float64(probes) / el.Seconds()
	}
	fmt.Fprintf(w, "%d targets, %d probes in %s (%.0f probes/s)\n", len(results), probes, el.Round(time.Millisecond), rate)
}
