package boot

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"flowbox/appliance/core"
	"flowbox/appliance/lang"
	"flowbox/appliance/runtime"
	"flowbox/lua"
)

// Set is a loaded, validated boot configuration: the boot file and every
// file it names, read and checked. It is what runs, and what the
// last-known-good store keeps.
type Set struct {
	// BootFile is the boot file's absolute path (as the box names it).
	BootFile string
	Config   *Config
	// Graph is the merged, parsed Click configuration.
	Graph *lang.Graph
	// Defines are the variables given to the Click files (interface
	// variables, then [graph.define]).
	Defines map[string]string
	// Files holds every file read (absolute path -> content), the boot
	// file included: the last-known-good snapshot is made of them.
	Files map[string][]byte
	// HookFiles and ProbeScripts are absolute paths as the box names them.
	HookFiles    []string
	ProbeScripts []string
	// Root is prepended to every path when reading (an image staging
	// tree, or a last-known-good snapshot); "" reads the real paths.
	Root string
	// Warnings are problems that do not stop a boot (e.g. an optional
	// interface that is missing).
	Warnings []string
	// LKG is set when the set came from the last-known-good store.
	LKG *Manifest

	pos positions
}

// Profile returns the profile name ("custom" if the file gives none).
func (s *Set) Profile() string {
	if s.Config.Profile == "" {
		return "custom"
	}
	return s.Config.Profile
}

// Path returns the real path of a file of the set (Root-prefixed).
func (s *Set) Path(abs string) string {
	if s.Root == "" {
		return abs
	}
	return filepath.Join(s.Root, abs)
}

// LoadOptions control Load.
type LoadOptions struct {
	// Root is prepended to every absolute path read ("" = none).
	Root string
	// LinkMAC returns an interface's MAC address for $X_MAC variables
	// when the boot file gives no mac; nil or an error uses
	// 00:00:00:00:00:00 (and a warning).
	LinkMAC func(name string) (net.HardwareAddr, error)
	// SkipBuild only parses the Click files (no element check).
	SkipBuild bool
}

// Load reads the boot file at path (relative names resolve against the
// working directory), decodes it strictly, validates it, and reads,
// parses and checks every Click file, define file, Lua hook and probe
// script it names. Nothing on the system changes. All problems are
// returned together; each names FILE:LINE and the key.
func Load(path string, o LoadOptions) (*Set, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if o.Root != "" && !filepath.IsAbs(path) {
		abs = filepath.Clean("/" + path)
	}
	s := &Set{BootFile: abs, Root: o.Root, Files: map[string][]byte{}, Defines: map[string]string{}}
	doc, err := s.read(abs)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read boot file: " + errText(err)}
	}
	file := path
	if o.Root != "" {
		file = abs
	}
	cfg, pos, err := Decode(file, doc)
	if err != nil {
		return nil, err
	}
	s.Config, s.pos = cfg, pos
	if err := cfg.Validate(file, pos); err != nil {
		return nil, err
	}
	var errs Errors
	at := func(key string, format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: pos.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	dir := filepath.Dir(abs)
	resolve := func(f string) string {
		if filepath.IsAbs(f) {
			return filepath.Clean(f)
		}
		return filepath.Join(dir, f)
	}

	// Interface variables, then [graph.define] (which wins).
	for _, in := range cfg.Interfaces {
		if in.Define == "" {
			continue
		}
		for k, v := range interfaceDefines(in, o.LinkMAC, &s.Warnings) {
			s.Defines[k] = v
		}
	}
	for k, v := range cfg.Graph.Define {
		s.Defines[strings.TrimPrefix(k, "$")] = v
	}
	for _, k := range sortedKeys(cfg.Graph.DefineFile) {
		key := "graph.define_file." + k
		f := cfg.Graph.DefineFile[k]
		b, err := s.read(resolve(f))
		if err != nil {
			at(key, "cannot read %s: %s", f, errText(err))
			continue
		}
		s.Defines[strings.TrimPrefix(k, "$")] = defineFileValue(b)
	}

	// Click files, parsed one by one and merged.
	var graphs []*lang.Graph
	for i, f := range cfg.Graph.Files {
		key := fmt.Sprintf("graph.files[%d]", i)
		p := resolve(f)
		src, err := s.read(p)
		if err != nil {
			at(key, "cannot read Click configuration %s: %s", f, errText(err))
			continue
		}
		name := s.display(p)
		g, err := lang.Parse(name, src, lang.Options{
			Defines: s.Defines,
			IsClass: func(n string) bool { return core.Lookup(n) != nil },
			ReadFile: func(lib string) ([]byte, error) {
				return s.read(filepath.Join(filepath.Dir(p), lib))
			},
		})
		if err != nil {
			at(key, "Click configuration %s has errors:\n%v", f, err)
			continue
		}
		graphs = append(graphs, g)
	}
	for i, h := range cfg.Hooks.Files {
		key := fmt.Sprintf("hooks.files[%d]", i)
		p := resolve(h)
		src, err := s.read(p)
		if err != nil {
			at(key, "cannot read Lua hooks %s: %s", h, errText(err))
			continue
		}
		hk, err := lua.LoadHooksString(s.display(p), string(src), lua.HookOptions{Budget: cfg.Hooks.Budget.Duration, Dirs: []string{filepath.Dir(s.Path(p))}})
		if err != nil {
			at(key, "Lua hooks: %v", err) // err names the file
			continue
		}
		hk.Close()
		s.HookFiles = append(s.HookFiles, p)
	}
	for i, pr := range cfg.Probes {
		if pr.Script == "" {
			continue
		}
		key := fmt.Sprintf("probe[%d].script", i)
		p := resolve(pr.Script)
		src, err := s.read(p)
		if err != nil {
			at(key, "cannot read probe script %s: %s", pr.Script, errText(err))
			continue
		}
		if _, err := lua.CompileString(s.display(p), string(src)); err != nil {
			at(key, "probe script: %v", err) // err names the file
			continue
		}
		s.ProbeScripts = append(s.ProbeScripts, p)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	g, err := mergeGraphs(graphs)
	if err != nil {
		at("graph.files", "%v", err)
		return nil, errs
	}
	s.Graph = g
	if !o.SkipBuild {
		if _, err := runtime.Build(g, runtime.BuildOptions{SkipInitialize: true, Threads: cfg.Graph.Threads}); err != nil {
			at("graph.files", "the configuration does not build:\n%v", err)
			return nil, errs
		}
	}
	return s, nil
}

// read reads an absolute path (under Root) and records it.
func (s *Set) read(abs string) ([]byte, error) {
	b, err := os.ReadFile(s.Path(abs))
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(s.Path(abs))
	if err == nil && st.IsDir() {
		return nil, fmt.Errorf("is a directory")
	}
	s.Files[abs] = b
	return b, nil
}

// display is the name errors use for a file: relative to the working
// directory when that is shorter.
func (s *Set) display(abs string) string {
	if s.Root != "" {
		return abs
	}
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return abs
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(err, fs.ErrNotExist) {
			return "no such file"
		}
		return pe.Err.Error()
	}
	return err.Error()
}

// interfaceDefines computes $D, $D_METHOD, $D_QUEUES, $D_IP, $D_PREFIX,
// $D_NET, $D_MTU, $D_MAC for an [[interface]] with define = "D".
func interfaceDefines(in Interface, linkMAC func(string) (net.HardwareAddr, error), warn *[]string) map[string]string {
	d := in.Define
	m, _ := ParseMethod(in.Method)
	q := in.Queues
	if q == 0 {
		q = 1
	}
	out := map[string]string{
		d: in.Name, d + "_METHOD": m, d + "_QUEUES": strconv.Itoa(q),
		d + "_IP": "0.0.0.0", d + "_PREFIX": "0.0.0.0/0", d + "_NET": "0.0.0.0/0",
		d + "_MTU": "1500",
	}
	if in.MTU != 0 {
		out[d+"_MTU"] = strconv.Itoa(in.MTU)
	}
	for _, a := range in.Addresses {
		p, err := netip.ParsePrefix(a)
		if err != nil || !p.Addr().Is4() {
			continue
		}
		out[d+"_IP"] = p.Addr().String()
		out[d+"_PREFIX"] = p.String()
		out[d+"_NET"] = p.Masked().String()
		break
	}
	mac := "00:00:00:00:00:00"
	switch {
	case in.MAC != "":
		mac = strings.ToLower(in.MAC)
	case linkMAC != nil:
		hw, err := linkMAC(in.Name)
		if err == nil && len(hw) == 6 {
			mac = hw.String()
		} else if warn != nil {
			*warn = append(*warn, fmt.Sprintf("interface %s: cannot read its MAC address (%v); $%s_MAC is %s", in.Name, err, d, mac))
		}
	}
	out[d+"_MAC"] = mac
	return out
}

// mergeGraphs joins several parsed configurations into one graph.
func mergeGraphs(gs []*lang.Graph) (*lang.Graph, error) {
	if len(gs) == 1 {
		return gs[0], nil
	}
	out := &lang.Graph{Sources: map[string][]byte{}}
	where := map[string]lang.Pos{}
	var errs []string
	for _, g := range gs {
		base := len(out.Elements)
		for _, e := range g.Elements {
			if _, dup := where[e.Name]; dup && e.Anonymous {
				// Anonymous names (Class@N) restart in every file: number on.
				c := *e
				for n := len(out.Elements) + 1; ; n++ {
					c.Name = fmt.Sprintf("%s@%d", e.Class, n)
					if _, taken := where[c.Name]; !taken {
						break
					}
				}
				e = &c
			}
			if p, dup := where[e.Name]; dup {
				errs = append(errs, fmt.Sprintf("%s: element %q is also declared at %s", e.Pos, e.Name, p))
			}
			where[e.Name] = e.Pos
			out.Elements = append(out.Elements, e)
		}
		for _, c := range g.Connections {
			c.From += base
			c.To += base
			out.Connections = append(out.Connections, c)
		}
		out.Requirements = append(out.Requirements, g.Requirements...)
		for k, v := range g.Sources {
			out.Sources[k] = v
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// defineFileValue turns a rules file into one define value: '#'
// comments and blank lines dropped, lines joined with ", " (so each line
// is one argument, e.g. one IPFilter rule).
func defineFileValue(b []byte) string {
	var parts []string
	for _, l := range strings.Split(string(b), "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		l = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(l), ","))
		if l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, ", ")
}
