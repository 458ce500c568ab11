// Package control is flowbox's control socket. One socket speaks two
// protocols:
//
//   - Click's ControlSocket text protocol (banner Click::ControlSocket/1.3;
//     READ, READDATA, READUNTIL, WRITE, WRITEDATA, WRITEUNTIL, CHECKREAD,
//     CHECKWRITE, QUIT; codes 200/500/501/510/511/520/521/530/540), so
//     existing Click tooling works;
//   - two extension verbs for the flowbox shell: "CMD <shell command line>"
//     runs a shell command on the server and answers "200 OK", "DATA n"
//     and the output (or a 5xx error line), and "COMPLETE <partial line>"
//     answers the completion candidates for the line's last word.
//
// The shell is a thin client: `flowbox shell -c` and the interactive shell
// run the same server-side commands (see commands.go; Register adds one).
//
// Handlers are always called through the runtime's Router methods, which
// run them on the element's worker thread between batches.
package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"flowbox/appliance/lang"
	"flowbox/appliance/runtime"
)

// Banner is the first line the server sends, as Click's ControlSocket does.
const Banner = "Click::ControlSocket/1.3"

// Reply codes (Click's ControlSocket codes).
const (
	CodeOK           = 200
	CodeOKWarn       = 220
	CodeSyntax       = 500
	CodeUnimpl       = 501
	CodeNoElement    = runtime.CodeNoElement // 510
	CodeNoHandler    = runtime.CodeNoHandler // 511
	CodeHandlerError = runtime.CodeHandler   // 520
	CodeTooBig       = 521
	CodePermission   = 530
	CodeNoRouter     = 540
	CodeUnspecified  = 590
)

// maxData bounds READDATA/WRITEDATA bodies.
const maxData = 16 << 20

// Options configure a Server.
type Options struct {
	// Runner is the running configuration (required).
	Runner *runtime.Runner
	// Load parses a configuration file for `config load`/`config diff` and
	// SIGHUP reloads. Nil parses the file with no defines.
	Load func(file string) (*lang.Graph, error)
	// ConfigFile is the file the running configuration came from ("" if it
	// came from -e, stdin or the embedded default).
	ConfigFile string
	// Threads is the number of worker threads (for `show threads`).
	Threads int
	// Log receives server messages (default stderr).
	Log func(string)
	// Reloaded, when set, is called after every successful reload
	// (`config load` or Reload, e.g. on SIGHUP) with the file and the
	// swap report, before Reload returns.
	Reloaded func(file string, rep runtime.SwapReport)
}

// Server serves the control protocols on any number of listeners.
type Server struct {
	opt  Options
	ctx  context.Context
	stop context.CancelFunc
	taps *tapManager

	mu        sync.Mutex
	listeners []net.Listener
	conns     map[net.Conn]bool
	wg        sync.WaitGroup

	reloadMu sync.Mutex // one reconfiguration at a time
	file     string     // current configuration file
}

// NewServer makes a server for a runner.
func NewServer(opt Options) *Server {
	if opt.Log == nil {
		opt.Log = func(s string) { fmt.Fprintln(os.Stderr, s) }
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{opt: opt, ctx: ctx, stop: cancel, conns: map[net.Conn]bool{}, file: opt.ConfigFile}
	s.taps = newTapManager(s)
	return s
}

// Runner returns the runner the server controls.
func (s *Server) Runner() *runtime.Runner { return s.opt.Runner }

// Router returns the current router.
func (s *Server) Router() *runtime.Router { return s.opt.Runner.Router() }

// ListenUnix serves on a unix socket at path with mode 0600. Only peers
// running as the server's own uid or as root are served; others get a 530
// line and are disconnected. A stale socket file (nobody listening) is
// replaced; a live one is an error.
func (s *Server) ListenUnix(path string) error {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("control socket %s: file exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return fmt.Errorf("control socket %s: another process is serving it", path)
		}
		os.Remove(path)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket: %v", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return fmt.Errorf("control socket: %v", err)
	}
	s.serve(l)
	return nil
}

// ListenControl serves on "unix:PATH" or "tcp:HOST:PORT". TCP is only
// allowed on loopback addresses: the protocol has no authentication.
// It returns the address actually bound (useful with port 0).
func (s *Server) ListenControl(spec string) (string, error) {
	kind, addr, ok := strings.Cut(spec, ":")
	switch {
	case ok && kind == "unix":
		return addr, s.ListenUnix(addr)
	case ok && kind == "tcp":
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return "", fmt.Errorf("--control %s: %v", spec, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "", fmt.Errorf("--control %s: TCP control is only served on a loopback address (127.0.0.1 or ::1)", spec)
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return "", fmt.Errorf("--control: %v", err)
		}
		s.serve(l)
		return l.Addr().String(), nil
	}
	return "", fmt.Errorf("--control %q: want tcp:127.0.0.1:PORT or unix:PATH", spec)
}

func (s *Server) serve(l net.Listener) {
	s.mu.Lock()
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) || s.ctx.Err() != nil {
					return
				}
				s.opt.Log("control: accept: " + err.Error())
				continue
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() {
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					c.Close()
				}()
				if uc, ok := c.(*net.UnixConn); ok {
					if err := checkPeer(uc); err != nil {
						fmt.Fprintf(c, "%d %s\r\n", CodePermission, err)
						return
					}
				}
				s.handle(c)
			}()
		}
	}()
}

// checkPeer admits peers running as the server's uid or as root.
func checkPeer(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("Permission denied: cannot identify peer: %v", cerr)
	}
	owner := uint32(os.Geteuid())
	if cred.Uid != owner && cred.Uid != 0 {
		return fmt.Errorf("Permission denied: uid %d may not use this control socket (owner uid %d)", cred.Uid, owner)
	}
	return nil
}

// Close stops listening, disconnects clients, stops pcap captures and
// waits for every connection to finish.
func (s *Server) Close() {
	s.stop()
	s.mu.Lock()
	for _, l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.taps.stopAll()
}

// reply writes "code text" (multi-line text as Click does: every line but
// the last uses "code-").
func reply(w io.Writer, code int, text string) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		sep := " "
		if i < len(lines)-1 {
			sep = "-"
		}
		fmt.Fprintf(w, "%d%s%s\r\n", code, sep, strings.TrimRight(l, "\r"))
	}
}

func replyData(w io.Writer, text, data string) {
	fmt.Fprintf(w, "%d %s\r\nDATA %d\r\n%s", CodeOK, text, len(data), data)
}

// errCode maps an error to a ControlSocket code.
func errCode(err error) int {
	var he *runtime.HandlerError
	if errors.As(err, &he) {
		return he.Code
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return CodeUnspecified
}

// lineReader reads protocol lines ended by CR, LF or CRLF (as Click's
// ControlSocket accepts them).
type lineReader struct {
	*bufio.Reader
	skipLF bool // the last line ended with a CR: a LF right after it belongs to it
}

// skipLFNow drops the LF of a CRLF whose CR ended the last line.
func (r *lineReader) skipLFNow() {
	if r.skipLF {
		r.skipLF = false
		if b, err := r.Peek(1); err == nil && b[0] == '\n' {
			r.Discard(1)
		}
	}
}

// readLine returns the next line without its terminator.
func (r *lineReader) readLine() (string, error) {
	r.skipLFNow()
	var b []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			return string(b), err
		}
		switch c {
		case '\n':
			return string(b), nil
		case '\r':
			if r.Buffered() > 0 {
				if n, _ := r.Peek(1); n[0] == '\n' {
					r.Discard(1)
				}
			} else {
				r.skipLF = true
			}
			return string(b), nil
		}
		b = append(b, c)
	}
}

// handle serves one connection.
func (s *Server) handle(c net.Conn) {
	br := &lineReader{Reader: bufio.NewReader(c)}
	bw := bufio.NewWriter(c)
	sess := &Session{srv: s, Dir: "."}
	defer sess.close()
	fmt.Fprintf(bw, "%s\r\n", Banner)
	bw.Flush()
	for {
		line, err := br.readLine()
		if err != nil && line == "" {
			return
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if quit := s.command(sess, br, bw, line); quit {
			bw.Flush()
			return
		}
		if bw.Flush() != nil {
			return
		}
	}
}

// command executes one protocol line; it reports whether to close.
func (s *Server) command(sess *Session, br *lineReader, w io.Writer, line string) bool {
	verb, rest, _ := strings.Cut(strings.TrimLeft(line, " \t"), " ")
	rest = strings.TrimLeft(rest, " \t")
	upper := strings.ToUpper(verb)
	if s.opt.Runner == nil && upper != "QUIT" {
		reply(w, CodeNoRouter, "No router installed")
		return false
	}
	switch upper {
	case "QUIT":
		reply(w, CodeOK, "Goodbye!")
		return true
	case "READ", "READDATA", "READUNTIL":
		h, args, ok := s.handlerArgs(upper, rest, br, w)
		if !ok {
			return false
		}
		v, err := s.Router().Read(h, args)
		if err != nil {
			handlerErr(w, "Read", h, err)
			return false
		}
		replyData(w, fmt.Sprintf("Read handler '%s' OK", h), v)
	case "WRITE", "WRITEDATA", "WRITEUNTIL":
		h, args, ok := s.handlerArgs(upper, rest, br, w)
		if !ok {
			return false
		}
		if err := s.Router().Write(h, args); err != nil {
			handlerErr(w, "Write", h, err)
			return false
		}
		reply(w, CodeOK, fmt.Sprintf("Write handler '%s' OK", h))
	case "CHECKREAD", "CHECKWRITE":
		h := strings.TrimSpace(rest)
		if h == "" || strings.ContainsAny(h, " \t") {
			reply(w, CodeSyntax, "Wrong number of arguments")
			return false
		}
		readable, writable, err := s.Router().HandlerKind(h)
		if err != nil {
			reply(w, errCode(err), err.Error())
			return false
		}
		switch {
		case upper == "CHECKREAD" && !readable:
			reply(w, CodeNoHandler, fmt.Sprintf("Handler '%s' is not readable", h))
		case upper == "CHECKWRITE" && !writable:
			reply(w, CodeNoHandler, fmt.Sprintf("Handler '%s' is not writable", h))
		case upper == "CHECKREAD":
			reply(w, CodeOK, fmt.Sprintf("Read handler '%s' OK", h))
		default:
			reply(w, CodeOK, fmt.Sprintf("Write handler '%s' OK", h))
		}
	case "CMD":
		out, err := s.Exec(sess, rest)
		if err != nil {
			reply(w, errCode(err), err.Error())
			return false
		}
		replyData(w, "OK", out)
	case "COMPLETE":
		kind, cands := s.Complete(sess, rest)
		replyData(w, "OK", kind+"\n"+strings.Join(cands, "\n"))
	default:
		reply(w, CodeUnimpl, fmt.Sprintf("Command '%s' unimplemented", verb))
	}
	return false
}

// handlerErr formats a handler failure as Click does: 510/511 are one
// line; a handler's own error is "520-Read handler 'h' error:" followed
// by the message.
func handlerErr(w io.Writer, kind, h string, err error) {
	code := errCode(err)
	if code == CodeHandlerError {
		reply(w, code, fmt.Sprintf("%s handler '%s' error:\n%s", kind, h, err.Error()))
		return
	}
	reply(w, code, err.Error())
}

// handlerArgs parses "h args", "h n" + n bytes, or "h [term]" + lines.
func (s *Server) handlerArgs(verb, rest string, br *lineReader, w io.Writer) (string, string, bool) {
	h, args, _ := strings.Cut(rest, " ")
	if h == "" {
		reply(w, CodeSyntax, "Wrong number of arguments")
		return "", "", false
	}
	switch {
	case strings.HasSuffix(verb, "DATA"):
		n, err := strconv.Atoi(strings.TrimSpace(args))
		if err != nil || n < 0 {
			reply(w, CodeSyntax, "Syntax error: expected a byte count")
			return "", "", false
		}
		if n > maxData {
			// Answer at once (a client may wait for it before sending),
			// then skip the body so that it is not read as commands.
			reply(w, CodeTooBig, "Data too big")
			if f, ok := w.(interface{ Flush() error }); ok {
				f.Flush()
			}
			br.skipLFNow()
			io.CopyN(io.Discard, br, int64(n))
			return "", "", false
		}
		buf := make([]byte, n)
		br.skipLFNow()
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", "", false
		}
		return h, string(buf), true
	case strings.HasSuffix(verb, "UNTIL"):
		term := strings.TrimSpace(args)
		if term == "" {
			term = "."
		}
		var b strings.Builder
		for {
			l, err := br.readLine()
			if err == nil && l == term {
				break
			}
			if b.Len()+len(l)+1 > maxData {
				reply(w, CodeTooBig, "Data too big")
				return "", "", false
			}
			if err != nil {
				return "", "", false
			}
			b.WriteString(l + "\n")
		}
		return h, b.String(), true
	}
	return h, strings.TrimLeft(args, " \t"), true
}

// Reload re-reads file (the current configuration file when empty) and
// swaps the running graph to it without losing packets. On a parse or
// build error the running graph is untouched and the error is returned.
// SIGHUP and `config load` both end up here.
func (s *Server) Reload(file string) (runtime.SwapReport, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if file == "" {
		file = s.file
	}
	if file == "" {
		return runtime.SwapReport{}, &Error{Code: CodeUnspecified, Msg: "the running configuration did not come from a file: give one (config load FILE)"}
	}
	g, err := s.load(file)
	if err != nil {
		return runtime.SwapReport{}, err
	}
	rep, err := s.opt.Runner.Reload(s.ctx, g)
	if err != nil {
		return rep, err
	}
	s.file = file
	s.taps.reapply()
	if s.opt.Reloaded != nil {
		s.opt.Reloaded(file, rep)
	}
	return rep, nil
}

func (s *Server) load(file string) (*lang.Graph, error) {
	if s.opt.Load != nil {
		return s.opt.Load(file)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return ParseConfig(file, src, nil)
}
