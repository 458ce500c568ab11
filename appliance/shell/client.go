// Package shell is `flowbox shell`: a thin client of the control socket.
// Commands run on the server (CMD verb), so `-c`, scripts and the
// interactive shell behave the same; the client adds line editing, Tab
// completion (COMPLETE verb, file names locally), persistent history and
// the refreshing `top` screen.
package shell

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultSocket is the socket of `flowbox run -p ./fb.sock`, used when
// neither -s nor $FLOWBOX_SOCKET is given.
const DefaultSocket = "./fb.sock"

// BootSocket is where `flowbox boot` serves its control socket by default
// (boot.toml's control.socket), so `flowbox shell` on a booted box needs
// no -s.
var BootSocket = "/run/flowbox/control.sock"

// SocketPath resolves the socket: flag, then $FLOWBOX_SOCKET, then
// ./fb.sock if it exists, then the booted appliance's socket if it
// exists, else ./fb.sock.
func SocketPath(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv("FLOWBOX_SOCKET"); env != "" {
		return env
	}
	if _, err := os.Stat(DefaultSocket); err == nil {
		return DefaultSocket
	}
	if _, err := os.Stat(BootSocket); err == nil {
		return BootSocket
	}
	return DefaultSocket
}

// ReplyError is an error reply from the server.
type ReplyError struct {
	Code int
	Msg  string
}

func (e *ReplyError) Error() string { return e.Msg }

// ErrConnection means the server went away.
var ErrConnection = errors.New("connection to flowbox lost")

// Client is a connection to the control socket.
type Client struct {
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
}

// Dial connects to "PATH" or "unix:PATH" (a unix socket) or
// "tcp:HOST:PORT", and checks the banner.
func Dial(addr string) (*Client, error) {
	network, a := "unix", addr
	if rest, ok := strings.CutPrefix(addr, "tcp:"); ok {
		network, a = "tcp", rest
	} else if rest, ok := strings.CutPrefix(addr, "unix:"); ok {
		a = rest
	}
	conn, err := net.DialTimeout(network, a, 5*time.Second)
	if err != nil {
		var hint string
		if network == "unix" {
			if _, serr := os.Stat(a); os.IsNotExist(serr) {
				hint = " (is 'flowbox run -p " + a + "' running? -s PATH or $FLOWBOX_SOCKET choose the socket)"
			}
		}
		return nil, fmt.Errorf("cannot connect to %s: %v%s", addr, unwrapOp(err), hint)
	}
	c := &Client{conn: conn, r: bufio.NewReader(conn)}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.readLine()
	conn.SetReadDeadline(time.Time{})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: no banner: %v", addr, err)
	}
	if strings.HasPrefix(line, "530") {
		conn.Close()
		return nil, fmt.Errorf("%s: %s", addr, strings.TrimSpace(line[3:]))
	}
	if !strings.HasPrefix(line, "Click::ControlSocket/") {
		conn.Close()
		return nil, fmt.Errorf("%s: not a flowbox control socket (banner %q)", addr, line)
	}
	return c, nil
}

func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		var se *os.SyscallError
		if errors.As(op.Err, &se) {
			return se.Err
		}
		return op.Err
	}
	return err
}

// Close says QUIT and closes.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.conn, "QUIT\r\n")
	return c.conn.Close()
}

func (c *Client) readLine() (string, error) {
	l, err := c.r.ReadString('\n')
	if err != nil {
		if l != "" && err == io.EOF {
			return strings.TrimRight(l, "\r\n"), nil
		}
		return "", err
	}
	return strings.TrimRight(l, "\r\n"), nil
}

// reply reads one reply: its code, text (continuation lines joined by
// newlines) and, for a 2xx reply followed by DATA, the data.
func (c *Client) reply(wantData bool) (int, string, string, error) {
	var text []string
	for {
		l, err := c.readLine()
		if err != nil {
			return 0, "", "", ErrConnection
		}
		if len(l) < 3 {
			return 0, "", "", fmt.Errorf("bad reply %q", l)
		}
		code, err := strconv.Atoi(l[:3])
		if err != nil {
			return 0, "", "", fmt.Errorf("bad reply %q", l)
		}
		if len(l) > 4 {
			text = append(text, l[4:])
		} else {
			text = append(text, "")
		}
		if len(l) > 3 && l[3] == '-' {
			continue
		}
		msg := strings.Join(text, "\n")
		if code >= 300 || !wantData {
			return code, msg, "", nil
		}
		dl, err := c.readLine()
		if err != nil {
			return 0, "", "", ErrConnection
		}
		ns, ok := strings.CutPrefix(dl, "DATA ")
		n, err := strconv.Atoi(ns)
		if !ok || err != nil || n < 0 {
			return 0, "", "", fmt.Errorf("bad DATA line %q", dl)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return 0, "", "", ErrConnection
		}
		return code, msg, string(buf), nil
	}
}

// roundTrip sends one protocol line and reads the reply.
func (c *Client) roundTrip(line string, wantData bool) (string, error) {
	if strings.ContainsAny(line, "\r\n") {
		return "", &ReplyError{Code: 500, Msg: "a command is one line"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := fmt.Fprintf(c.conn, "%s\r\n", line); err != nil {
		return "", ErrConnection
	}
	code, msg, data, err := c.reply(wantData)
	if err != nil {
		return "", err
	}
	if code >= 300 {
		return "", &ReplyError{Code: code, Msg: msg}
	}
	return data, nil
}

// Cmd runs a shell command on the server and returns its output.
func (c *Client) Cmd(line string) (string, error) { return c.roundTrip("CMD "+line, true) }

// Read calls a read handler (Click's READ).
func (c *Client) Read(handler string) (string, error) { return c.roundTrip("READ "+handler, true) }

// Complete asks the server for completions of line's last word: kind is
// "words" or "files" (the client completes file names itself).
func (c *Client) Complete(line string) (string, []string, error) {
	data, err := c.roundTrip("COMPLETE "+line, true)
	if err != nil {
		return "", nil, err
	}
	lines := strings.Split(data, "\n")
	var cands []string
	for _, l := range lines[1:] {
		if l != "" {
			cands = append(cands, l)
		}
	}
	return lines[0], cands, nil
}
