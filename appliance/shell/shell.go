package shell

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chzyer/readline"
)

// Options configure a shell session.
type Options struct {
	Socket   string // -s; see SocketPath
	Commands string // -c 'CMD; CMD'
	Script   string // a script file ("-" = stdin)
	// History is the history file (default $FLOWBOX_HISTORY, else
	// ~/.flowbox_history; "-" disables it).
	History string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
}

// HistoryPath resolves the history file.
func HistoryPath(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv("FLOWBOX_HISTORY"); env != "" {
		return env
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".flowbox_history")
	}
	return ""
}

// Main runs the shell and returns the exit status: 0, or 1 when a
// command failed (-c and scripts) or the connection failed.
func Main(opt Options) int {
	if opt.Stdin == nil {
		opt.Stdin = os.Stdin
	}
	if opt.Stdout == nil {
		opt.Stdout = os.Stdout
	}
	if opt.Stderr == nil {
		opt.Stderr = os.Stderr
	}
	c, err := Dial(SocketPath(opt.Socket))
	if err != nil {
		fmt.Fprintln(opt.Stderr, "flowbox shell:", err)
		return 1
	}
	defer c.Close()
	// Relative file names (config load, pcap) mean the shell's directory.
	if wd, err := os.Getwd(); err == nil {
		c.Cmd("cd " + quote(wd))
	}
	sh := &session{c: c, out: opt.Stdout, errw: opt.Stderr}
	switch {
	case opt.Commands != "":
		return sh.runLines(SplitCommands(opt.Commands))
	case opt.Script != "" && opt.Script != "-":
		f, err := os.Open(opt.Script)
		if err != nil {
			fmt.Fprintln(opt.Stderr, "flowbox shell:", err)
			return 1
		}
		defer f.Close()
		return sh.runScript(f)
	case opt.Script == "-" || !isTerminal(opt.Stdin):
		return sh.runScript(opt.Stdin)
	}
	return sh.interactive(opt)
}

func quote(s string) string {
	if !strings.ContainsAny(s, " \t'\"") {
		return s
	}
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	return `"` + s + `"`
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && readline.IsTerminal(int(f.Fd()))
}

// SplitCommands splits a -c argument at ';' outside quotes.
func SplitCommands(s string) []string {
	var out []string
	var q byte
	start := 0
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case q != 0:
			if ch == q {
				q = 0
			}
		case ch == '\'' || ch == '"':
			q = ch
		case ch == ';':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

type session struct {
	c     *Client
	out   io.Writer
	errw  io.Writer
	keys  *keyMux // interactive only
	ttyFd int
}

// exec runs one command line. It returns quit=true for quit/exit, and
// fatal when the connection is gone.
func (s *session) exec(line string, interactive bool) (quit bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return false, nil
	}
	switch strings.Fields(line)[0] {
	case "quit", "exit":
		return true, nil
	case "top":
		if interactive && len(strings.Fields(line)) == 1 {
			return false, s.top()
		}
	}
	out, err := s.c.Cmd(line)
	if err != nil {
		return false, err
	}
	fmt.Fprint(s.out, withNewline(out))
	return false, nil
}

func withNewline(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

// report prints a command error as one line.
func (s *session) report(err error) {
	msg := err.Error()
	var re *ReplyError
	if errors.As(err, &re) {
		msg = strings.ReplaceAll(strings.TrimSpace(re.Msg), "\n", " ")
	}
	fmt.Fprintln(s.errw, "error:", msg)
}

// runLines runs commands in order; a failing one prints an error line and
// the others still run; the status is 1 if any failed.
func (s *session) runLines(lines []string) int {
	status := 0
	for _, l := range lines {
		quit, err := s.exec(l, false)
		if err != nil {
			s.report(err)
			status = 1
			if errors.Is(err, ErrConnection) {
				return 1
			}
		}
		if quit {
			break
		}
	}
	return status
}

func (s *session) runScript(r io.Reader) int {
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return s.runLines(lines)
}

func (s *session) interactive(opt Options) int {
	f, _ := opt.Stdin.(*os.File)
	s.ttyFd = int(f.Fd())
	s.keys = newKeyMux(f)
	hist := HistoryPath(opt.History)
	if hist == "-" {
		hist = ""
	}
	rl, err := readline.NewEx(&readline.Config{
		Prompt:          "flowbox> ",
		HistoryFile:     hist,
		HistoryLimit:    5000,
		AutoComplete:    &Completer{Fetch: s.c.Complete},
		InterruptPrompt: "^C",
		EOFPrompt:       "quit",
		Stdin:           s.keys,
		Stdout:          opt.Stdout,
		Stderr:          opt.Stderr,
	})
	if err != nil {
		fmt.Fprintln(opt.Stderr, "flowbox shell:", err)
		return 1
	}
	defer rl.Close()
	s.out, s.errw = rl.Stdout(), rl.Stderr()
	fmt.Fprintln(s.out, "flowbox shell: Tab completes, 'help' lists commands, 'quit' or Ctrl-D leaves.")
	for {
		line, err := rl.Readline()
		if err == readline.ErrInterrupt {
			continue
		}
		if err != nil { // io.EOF: Ctrl-D
			return 0
		}
		quit, err := s.exec(line, true)
		if err != nil {
			s.report(err)
			if errors.Is(err, ErrConnection) {
				return 1
			}
		}
		if quit {
			return 0
		}
	}
}

// top refreshes the server's top frame every second until a key is
// pressed.
func (s *session) top() error {
	st, err := readline.MakeRaw(s.ttyFd)
	if err == nil {
		defer readline.Restore(s.ttyFd, st)
	}
	keys := s.keys.divert()
	defer s.keys.undivert()
	defer s.c.Cmd("top stop")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		frame, err := s.c.Cmd("top")
		if err != nil {
			return err
		}
		frame = strings.ReplaceAll(frame, "\n", "\r\n") // raw mode: no ONLCR
		fmt.Fprintf(s.out, "\x1b[H\x1b[2J%s\r\npress any key to leave top\r\n", frame)
		select {
		case <-keys:
			fmt.Fprint(s.out, "\r\n")
			return nil
		case <-tick.C:
		}
	}
}

// keyMux owns the terminal input: readline reads through it, and while
// top runs keystrokes are diverted to top instead.
type keyMux struct {
	mu      sync.Mutex
	data    chan []byte
	pending []byte
	div     chan []byte
}

func newKeyMux(f *os.File) *keyMux {
	k := &keyMux{data: make(chan []byte, 16)}
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				chunk := append([]byte(nil), buf[:n]...)
				k.mu.Lock()
				d := k.div
				k.mu.Unlock()
				if d != nil {
					select {
					case d <- chunk:
					default:
					}
				} else {
					k.data <- chunk
				}
			}
			if err != nil {
				close(k.data)
				return
			}
		}
	}()
	return k
}

func (k *keyMux) divert() <-chan []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.div = make(chan []byte, 1)
	return k.div
}

func (k *keyMux) undivert() {
	k.mu.Lock()
	k.div = nil
	k.mu.Unlock()
}

func (k *keyMux) Read(p []byte) (int, error) {
	if len(k.pending) == 0 {
		chunk, ok := <-k.data
		if !ok {
			return 0, io.EOF
		}
		k.pending = chunk
	}
	n := copy(p, k.pending)
	k.pending = k.pending[n:]
	return n, nil
}

func (k *keyMux) Close() error { return nil }
