// Package cli is the tracebox command line (tracebox 0.4.4 compatible),
// usable in-process by tests and by the appliance shell.
package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"flowbox/tracebox"
)

// Version is printed by -V.
const Version = "flowbox-tracebox 1.0 (tracebox 0.4.4 compatible)"

const usage = `Usage: tracebox [OPTIONS] {host | [Lua argument list]}
Sends a probe with increasing TTL and reports, per hop, which fields of the
probe were modified on the path (from the packet quoted in ICMP replies).

Options (tracebox 0.4.4):
  -h            show this help
  -n            do not reverse-resolve hop addresses
  -6            built-in probe uses IPv6 (only without -p / -s / -l)
  -u            built-in probe uses UDP instead of TCP
  -d PORT       destination port of the built-in probe (default 80)
  -i IFACE      outgoing interface (default: the one owning the source
                address chosen for the destination);
                pcap:OUT:IN = offline mode: probes are written to the pcap
                OUT, replies are read in order from the pcap IN (which may
                also hold the probes as slot separators, e.g. a -f capture,
                or be a FIFO); the source is faked as 1.1.1.1 / dead::beef;
                no privileges needed
  -m MAX        maximum TTL (default 64)
  -M MIN        minimum TTL (default 1)
  -v            verbose: old -> new values and dumps of added/removed layers
  -j            JSON output (one line, at the end)
  -t SEC        per-try reply timeout, decimals allowed (default 1)
  -p PROBE      probe as a Lua expression, e.g. 'IP / TCP / mss(9000)'
  -s FILE       run a Lua script; extra words go to the Lua table argv, the
                first one is also the default destination
  -l CODE       run inline Lua code (same argv handling)
  -w            show crafting warnings (accepted, no effect)
  -f FILE       record every probe and reply into this pcap file (tracebox
                0.4.4 always wrote /tmp/capture.pcap; here only with -f, or
                in --compat mode)
  -S            skip the root check
  -V            print the version to stderr
  -D            print each hop's reply-matching rule to stderr

flowbox extensions:
  --compat          reproduce tracebox 0.4.4's output exactly, bugs included:
                    delay almost always 0 ms (seconds scaled by 10^7), no
                    header / JSON addr,name,max_hops when -M > 1, the
                    destination's reply diffed as if it were a quote, no
                    early stop on a silent tail, PartialTCP not compared
  --tries N         tries per hop (default 3)
  --stop-silent N   stop after N consecutive silent hops (default 3; 0 =
                    never). Ignored with --compat
  --no-filter       do not install the nftables rule that keeps the host
                    kernel from answering the probe's flow
  --targets FILE    campaign mode: trace every host in FILE (one per line,
                    '#' comments) in parallel; with -j prints JSON lines
  --parallel N      campaign: concurrent traces (default 8)
  --rate PPS        campaign: at most PPS probes per second overall (default
                    100; 0 = unlimited)
  --progress        campaign: force the progress bar (default: on a terminal)
  --summary         campaign: print the summary table (default: on stderr)

Output: "tracebox to IP (HOST): N hops max", then per hop
"N: [NAME (]ADDR[)] DELAYms MODS" or "N: *". MODS are Layer::Field,
+Layer (added), -Layer (removed), Layer (payload changed), prefixed by
" [PARTIAL] " for truncated (RFC 792) quotes. A direct reply from the
destination is summarized as "[Reply: TCP ( SYN ACK )]" (not in --compat).
`

// Config is the parsed command line.
type Config struct {
	NoResolve, IPv6, UDP, Verbose, JSON bool
	DPort                               int
	Iface                               string
	MaxTTL, MinTTL                      int
	Timeout                             time.Duration
	Probe, Script, Inline, Pcap         string
	SkipRoot, Version, Debug, Help      bool
	Compat, NoFilter, Progress, Summary bool
	Tries, StopSilent                   int
	stopSet                             bool
	Targets                             string
	Parallel                            int
	Rate                                float64
	Args                                []string
}

// Parse parses tracebox's arguments (getopt style: -nv, -m8, -m 8, and
// --long[=value]). Parsing stops at the first non-option or "--".
func Parse(args []string) (*Config, error) {
	c := &Config{DPort: 80, MaxTTL: 64, MinTTL: 1, Timeout: time.Second, Tries: 3, Parallel: 8, Rate: 100}
	withArg := "dimMtpslf"
	i := 0
	num := func(opt, v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("option %s: %q is not a number", opt, v)
		}
		return n, nil
	}
	for i < len(args) {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if strings.HasPrefix(a, "--") {
			name, val, has := strings.Cut(a[2:], "=")
			need := func() (string, error) {
				if has {
					return val, nil
				}
				if i+1 >= len(args) {
					return "", fmt.Errorf("option --%s needs a value", name)
				}
				i++
				return args[i], nil
			}
			var err error
			var v string
			switch name {
			case "compat":
				c.Compat = true
			case "no-filter":
				c.NoFilter = true
			case "progress":
				c.Progress = true
			case "summary":
				c.Summary = true
			case "help":
				c.Help = true
			case "tries":
				if v, err = need(); err == nil {
					c.Tries, err = num(a, v)
				}
			case "stop-silent":
				if v, err = need(); err == nil {
					c.StopSilent, err = num(a, v)
					c.stopSet = true
				}
			case "targets":
				c.Targets, err = need()
			case "parallel":
				if v, err = need(); err == nil {
					c.Parallel, err = num(a, v)
				}
			case "rate":
				if v, err = need(); err == nil {
					if c.Rate, err = strconv.ParseFloat(v, 64); err != nil {
						err = fmt.Errorf("option %s: %q is not a number", a, v)
					}
				}
			default:
				return nil, fmt.Errorf("unknown option --%s", name)
			}
			if err != nil {
				return nil, err
			}
			i++
			continue
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		for j := 1; j < len(a); j++ {
			o := a[j]
			if strings.IndexByte(withArg, o) >= 0 {
				v := a[j+1:]
				if v == "" {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("option -%c needs a value", o)
					}
					i++
					v = args[i]
				}
				var err error
				switch o {
				case 'd':
					c.DPort, err = num("-d", v)
				case 'i':
					c.Iface = v
				case 'm':
					c.MaxTTL, err = num("-m", v)
				case 'M':
					c.MinTTL, err = num("-M", v)
				case 't':
					f, perr := strconv.ParseFloat(v, 64)
					if perr != nil || !(f > 0) || f > 3600 {
						err = fmt.Errorf("option -t: %q is not a timeout in seconds (0 < SEC <= 3600)", v)
					}
					c.Timeout = time.Duration(f * float64(time.Second))
				case 'p':
					c.Probe = v
				case 's':
					c.Script = v
				case 'l':
					c.Inline = v
				case 'f':
					c.Pcap = v
				}
				if err != nil {
					return nil, err
				}
				break
			}
			switch o {
			case 'h':
				c.Help = true
			case 'n':
				c.NoResolve = true
			case '6':
				c.IPv6 = true
			case 'u':
				c.UDP = true
			case 'v':
				c.Verbose = true
			case 'j':
				c.JSON = true
			case 'w':
			case 'S':
				c.SkipRoot = true
			case 'V':
				c.Version = true
			case 'D':
				c.Debug = true
			default:
				return nil, fmt.Errorf("unknown option -%c", o)
			}
		}
		i++
	}
	c.Args = args[i:]
	if c.DPort < 0 || c.DPort > 65535 {
		return nil, fmt.Errorf("option -d: port %d out of range 0..65535", c.DPort)
	}
	if c.Tries < 1 {
		return nil, fmt.Errorf("option --tries: %d, need at least 1", c.Tries)
	}
	if c.StopSilent < 0 {
		return nil, fmt.Errorf("option --stop-silent: %d is negative", c.StopSilent)
	}
	if c.Parallel < 1 {
		return nil, fmt.Errorf("option --parallel: %d, need at least 1", c.Parallel)
	}
	if !(c.Rate >= 0) {
		return nil, fmt.Errorf("option --rate: %v is negative", c.Rate)
	}
	if c.MaxTTL < 1 || c.MaxTTL > 255 || c.MinTTL < 1 || c.MinTTL > c.MaxTTL {
		return nil, fmt.Errorf("bad TTL range %d..%d", c.MinTTL, c.MaxTTL)
	}
	return c, nil
}

// Options converts the configuration into engine options.
func (c *Config) Options() tracebox.Options {
	o := tracebox.Options{
		IPv6: c.IPv6, UDP: c.UDP, DPort: c.DPort, MinTTL: c.MinTTL, MaxTTL: c.MaxTTL,
		Timeout: c.Timeout, Tries: c.Tries, Iface: c.Iface, Resolve: !c.NoResolve,
		Compat: c.Compat, PcapFile: c.Pcap, NoFilter: c.NoFilter,
	}
	if c.stopSet {
		o.SilentStop = c.StopSilent
		if c.StopSilent == 0 {
			o.SilentStop = -1
		}
	}
	if c.Compat && o.PcapFile == "" {
		o.PcapFile = "/tmp/capture.pcap"
	}
	return o
}

// Format returns the output format.
func (c *Config) Format() tracebox.Format {
	return tracebox.Format{NoResolve: c.NoResolve, Verbose: c.Verbose, Compat: c.Compat}
}

// Env lets tests and the appliance inject a transport.
type Env struct {
	Stdout, Stderr io.Writer
	// Transport, when set, replaces the live/offline transport.
	Transport func() tracebox.Transport
	// OnHop receives every hop (appliance on_probe_result hook).
	OnHop func(h *tracebox.Hop)
}

// Main runs the command and returns the exit status.
func Main(args []string, env Env) int {
	if env.Stdout == nil {
		env.Stdout = os.Stdout
	}
	if env.Stderr == nil {
		env.Stderr = os.Stderr
	}
	c, err := Parse(args)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tracebox: %v\n%s", err, usage)
		return 1
	}
	if c.Help {
		fmt.Fprint(env.Stderr, usage)
		return 0
	}
	if c.Version {
		fmt.Fprintln(env.Stderr, Version)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	offline := strings.HasPrefix(c.Iface, "pcap:") || env.Transport != nil
	if !offline && !c.SkipRoot && os.Geteuid() != 0 {
		fmt.Fprintln(env.Stderr, "tracebox: you must be root to run this program (or use -S, or -i pcap:OUT:IN)")
		return 1
	}
	if c.Targets != "" {
		return campaign(ctx, c, env)
	}
	if c.Script != "" || c.Inline != "" {
		return runLua(ctx, c, env)
	}
	if len(c.Args) < 1 {
		fmt.Fprintf(env.Stderr, "tracebox: missing host\n%s", usage)
		return 1
	}
	if len(c.Args) > 1 {
		// Options stop at the host: "HOST -m 8" would silently ignore -m.
		fmt.Fprintf(env.Stderr, "tracebox: unexpected argument %q after the host %s (options go before the host; extra words are for -s/-l scripts)\n", c.Args[1], c.Args[0])
		return 1
	}
	o := c.Options()
	o.Host = c.Args[0]
	if c.Probe != "" {
		p, err := tracebox.ParseProbe(c.Probe)
		if err != nil {
			fmt.Fprintln(env.Stderr, errMsg(err))
			return 1
		}
		o.Probe = p
	}
	if env.Transport != nil {
		o.Transport = env.Transport()
		defer o.Transport.Close()
	}
	f := c.Format()
	w := bufio.NewWriter(env.Stdout)
	defer w.Flush()
	if !c.JSON {
		o.OnStart = func(r *tracebox.Result) {
			w.WriteString(f.Header(r))
			w.Flush()
		}
	}
	o.OnHop = func(h *tracebox.Hop) bool {
		if c.Debug {
			fmt.Fprintf(env.Stderr, "hop %d: %s\n", h.TTL, tracebox.MatchRule(h.Probe))
			if h.Reply != nil && h.Reply.ICMP {
				fmt.Fprintf(env.Stderr, "hop %d: ICMP type %d code %d from %s, %d bytes quoted\n", h.TTL, h.Reply.Type, h.Reply.Code, h.From, h.Reply.QuoteLen)
			}
		}
		if !c.JSON {
			w.WriteString(f.Hop(h))
			w.Flush()
		}
		if env.OnHop != nil {
			env.OnHop(h)
		}
		return false
	}
	res, err := tracebox.Run(ctx, o)
	if err != nil && res == nil {
		fmt.Fprintln(env.Stderr, errMsg(err))
		return 1
	}
	if c.JSON {
		w.WriteString(f.JSON(res) + "\n")
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		w.Flush()
		fmt.Fprintln(env.Stderr, errMsg(err))
		return 1
	}
	return 0
}

func runLua(ctx context.Context, c *Config, env Env) int {
	L := lua.NewState()
	defer L.Close()
	L.SetContext(ctx)
	o := c.Options()
	if len(c.Args) > 0 {
		o.Host = c.Args[0]
	}
	if env.Transport != nil {
		o.Transport = env.Transport()
		defer o.Transport.Close()
	}
	tracebox.RegisterLua(L, &tracebox.LuaConfig{Options: o, Argv: c.Args, Stdout: env.Stdout, Stderr: env.Stderr, OnHop: env.OnHop})
	// Lua's print writes to os.Stdout; route it to env.Stdout.
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int {
		n := L.GetTop()
		for i := 1; i <= n; i++ {
			if i > 1 {
				io.WriteString(env.Stdout, "\t")
			}
			io.WriteString(env.Stdout, L.ToStringMeta(L.Get(i)).String())
		}
		io.WriteString(env.Stdout, "\n")
		return 0
	}))
	var err error
	if c.Script != "" {
		// SCRIPT_DIR lets scripts load helpers next to them (lib.lua).
		L.SetGlobal("SCRIPT_DIR", lua.LString(filepath.Dir(c.Script)+"/"))
		var src []byte
		if src, err = os.ReadFile(c.Script); err == nil {
			if len(src) > 0 && src[0] == '#' {
				// "#!" line: a comment, so line numbers stay right
				src = append([]byte("--"), src...)
			}
			err = tracebox.RunLua(L, string(src), c.Script)
		}
	} else {
		err = tracebox.RunLua(L, c.Inline, "(command line)")
	}
	if err != nil {
		fmt.Fprintln(env.Stderr, errMsg(err))
		return 1
	}
	return 0
}

// errMsg is how every run-time error is printed: "tracebox: " followed by
// the message (engine errors that already carry the prefix keep one).
func errMsg(err error) string {
	s := err.Error()
	if !strings.HasPrefix(s, "tracebox: ") {
		s = "tracebox: " + s
	}
	return s
}
