package runtime

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/lang"
)

// Version is reported by the `version` handler.
var Version = "0.1.0"

// Handler error codes, shared with the ControlSocket protocol.
const (
	CodeNoElement = 510
	CodeNoHandler = 511
	CodeHandler   = 520
)

// HandlerError is a handler failure with its ControlSocket code.
type HandlerError struct {
	Code int
	Msg  string
}

func (e *HandlerError) Error() string { return e.Msg }

// HandlerInfo is one handler as listed by `handlers`.
type HandlerInfo struct {
	Element string // "" for global handlers
	core.Handler
}

// Handlers lists element n's handlers: the standard ones every element has,
// then its own.
func (r *Router) Handlers(n *Node) []core.Handler {
	b := n.Elem.Core()
	hs := []core.Handler{
		core.ReadOnly("class", func() string { return b.Class() }),
		core.ReadOnly("name", func() string { return b.Name() }),
		core.ReadOnly("config", func() string { return b.Config() }),
		core.ReadOnly("ports", func() string { return r.portsText(n) }),
		core.ReadOnly("handlers", func() string { return r.handlersText(n) }),
	}
	if b.IsTask() {
		hs = append(hs, core.ReadOnly("scheduled", func() string { return "true" }))
		hs = append(hs, core.ReadOnly("thread", func() string { return strconv.Itoa(b.Thread()) }))
	}
	if hp, ok := n.Elem.(core.HandlerProvider); ok {
		own := hp.Handlers()
		// An element's own handler of the same name wins over a default.
		for _, h := range own {
			for i := range hs {
				if hs[i].Name == h.Name {
					hs = append(hs[:i], hs[i+1:]...)
					break
				}
			}
		}
		hs = append(hs, own...)
	}
	return hs
}

func (r *Router) handlersText(n *Node) string {
	var b strings.Builder
	for _, h := range r.Handlers(n) {
		fmt.Fprintf(&b, "%s\t%s\n", h.Name, h.Mode())
	}
	return b.String()
}

// portsText renders the `ports` handler as Click does.
func (r *Router) portsText(n *Node) string {
	b := n.Elem.Core()
	var s strings.Builder
	plural := func(k int, w string) string {
		if k == 1 {
			return "1 " + w
		}
		return fmt.Sprintf("%d %ss", k, w)
	}
	s.WriteString(plural(b.NInputs(), "input") + "\n")
	for p := 0; p < b.NInputs(); p++ {
		s.WriteString(kindText(b.Input(p).Kind, n.declIn[p]) + "\t-\t")
		var peers []string
		for _, ci := range uniqueConns(r.Conns, n.inConns[p]) {
			c := r.Conns[ci]
			peers = append(peers, fmt.Sprintf("%s [%d]", r.Nodes[c.From].Decl.Name, c.FromPort))
		}
		s.WriteString(strings.Join(peers, ", ") + "\n")
	}
	s.WriteString(plural(b.NOutputs(), "output") + "\n")
	for p := 0; p < b.NOutputs(); p++ {
		s.WriteString(kindText(b.Output(p).Kind, n.declOut[p]) + "\t-\t")
		var peers []string
		for _, ci := range uniqueConns(r.Conns, n.outConns[p]) {
			c := r.Conns[ci]
			peers = append(peers, fmt.Sprintf("[%d] %s", c.ToPort, r.Nodes[c.To].Decl.Name))
		}
		s.WriteString(strings.Join(peers, ", ") + "\n")
	}
	return s.String()
}

func kindText(k, declared core.PortKind) string {
	if declared == core.Agnostic {
		return k.String() + "~"
	}
	return k.String()
}

// globalHandlers are the router's own handlers.
func (r *Router) globalHandlers() []core.Handler {
	return []core.Handler{
		core.ReadOnly("version", func() string { return Version }),
		core.ReadOnly("list", func() string {
			return strconv.Itoa(len(r.Nodes)) + "\n" + strings.Join(r.Names(), "\n") + "\n"
		}),
		core.ReadOnly("classes", func() string { return strings.Join(core.ClassNames(), "\n") + "\n" }),
		core.ReadOnly("config", func() string { return lang.Unparse(r.Graph) }),
		core.ReadOnly("flatconfig", func() string { return lang.Unparse(r.Graph) }),
		core.ReadOnly("requirements", func() string { return strings.Join(r.Graph.Requirements, "\n") }),
		core.Action("stop", r.Stop),
	}
}

// SplitHandlerName splits "elem.handler" (element names never contain
// '.', so the last dot separates) or returns "" for a global handler.
func SplitHandlerName(spec string) (elem, handler string) {
	if i := strings.LastIndexByte(spec, '.'); i >= 0 {
		return spec[:i], spec[i+1:]
	}
	return "", spec
}

// findHandler resolves "elem.handler", "N.handler" (1-based element
// index) or a global "handler".
func (r *Router) findHandler(from core.Element, spec string) (*Node, core.Handler, error) {
	ename, hname := SplitHandlerName(spec)
	if ename == "" {
		for _, h := range r.globalHandlers() {
			if h.Name == hname {
				return nil, h, nil
			}
		}
		return nil, core.Handler{}, &HandlerError{Code: CodeNoHandler, Msg: fmt.Sprintf("No handler named '%s'", spec)}
	}
	n := r.byName[ename]
	if n == nil && from != nil {
		if e := r.Find(from, ename); e != nil {
			n = r.byName[e.Core().Name()]
		}
	}
	if n == nil {
		if idx, err := strconv.Atoi(ename); err == nil && idx >= 1 && idx <= len(r.Nodes) {
			n = r.Nodes[idx-1]
		}
	}
	if n == nil {
		return nil, core.Handler{}, &HandlerError{Code: CodeNoElement, Msg: fmt.Sprintf("No element named '%s'", ename)}
	}
	for _, h := range r.Handlers(n) {
		if h.Name == hname {
			return n, h, nil
		}
	}
	return nil, core.Handler{}, &HandlerError{Code: CodeNoHandler, Msg: fmt.Sprintf("No handler named '%s'", spec)}
}

// HandlerKind reports whether spec names a readable and/or writable
// handler (for CHECKREAD/CHECKWRITE).
func (r *Router) HandlerKind(spec string) (readable, writable bool, err error) {
	_, h, err := r.findHandler(nil, spec)
	if err != nil {
		return false, false, err
	}
	return h.Read != nil, h.Write != nil, nil
}

// Read calls a read handler on the element's thread.
func (r *Router) Read(spec, arg string) (string, error) {
	n, h, err := r.findHandler(nil, spec)
	if err != nil {
		return "", err
	}
	if h.Read == nil {
		return "", &HandlerError{Code: CodeNoHandler, Msg: fmt.Sprintf("Handler '%s' is not readable", spec)}
	}
	var out string
	run := func() { out, err = callRead(h, arg) }
	if n == nil {
		run()
	} else {
		r.onThread(n.Elem, run)
	}
	if err != nil {
		return "", &HandlerError{Code: CodeHandler, Msg: err.Error()}
	}
	return out, nil
}

// Write calls a write handler on the element's thread.
func (r *Router) Write(spec, value string) error {
	n, h, err := r.findHandler(nil, spec)
	if err != nil {
		return err
	}
	if h.Write == nil {
		return &HandlerError{Code: CodeNoHandler, Msg: fmt.Sprintf("Handler '%s' is not writable", spec)}
	}
	run := func() { err = callWrite(h, value) }
	if n == nil {
		run()
	} else {
		r.onThread(n.Elem, run)
	}
	if err != nil {
		return &HandlerError{Code: CodeHandler, Msg: err.Error()}
	}
	return nil
}

// callRead and callWrite contain a panicking handler: a bug in one
// element's handler must not take the appliance down.
func callRead(h core.Handler, arg string) (out string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error in handler %s: %v", h.Name, p)
		}
	}()
	return h.Read(arg)
}

func callWrite(h core.Handler, v string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error in handler %s: %v", h.Name, p)
		}
	}()
	return h.Write(v)
}

// ExpandHandlers expands -h patterns as Click does: the element part may
// be a shell glob or a class name; a bare name is a global handler.
// It returns "elem.handler" specs in configuration order.
func (r *Router) ExpandHandlers(pattern string) ([]string, error) {
	ename, hname := SplitHandlerName(pattern)
	if ename == "" {
		return []string{pattern}, nil
	}
	if r.byName[ename] != nil {
		return []string{pattern}, nil
	}
	var out []string
	for _, n := range r.Nodes {
		ok, _ := path.Match(ename, n.Decl.Name)
		if !ok && n.Decl.Class != ename {
			continue
		}
		for _, h := range r.Handlers(n) {
			if m, _ := path.Match(hname, h.Name); m && h.Read != nil {
				out = append(out, n.Decl.Name+"."+h.Name)
			}
		}
	}
	if len(out) == 0 {
		return nil, &HandlerError{Code: CodeNoElement, Msg: fmt.Sprintf("no handlers match '%s'", pattern)}
	}
	return out, nil
}

// AllHandlerNames lists "elem.handler" for every handler (completion).
func (r *Router) AllHandlerNames() []string {
	var out []string
	for _, n := range r.Nodes {
		for _, h := range r.Handlers(n) {
			out = append(out, n.Decl.Name+"."+h.Name)
		}
	}
	for _, h := range r.globalHandlers() {
		out = append(out, h.Name)
	}
	sort.Strings(out)
	return out
}
