package verify

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"flowbox/verify/sym"
)

// Network is a multi-box description:
//
//	box NAME FILE                 a Click configuration (FromDevice/ToDevice are its ports)
//	router NAME FILE              a router: FILE holds "PREFIX [GW] IFACE" lines
//	link BOX:DEV BOX:DEV          a cable: each side's ToDevice(DEV) feeds the other's FromDevice(DEV)
//	client SUBNET at BOX:DEV      the operator's clients live behind BOX's DEV
//	internet SUBNET at BOX:DEV    so does (part of) the internet
//
// Blank lines and # comments are ignored; FILE is relative to the
// description.
type Network struct {
	Boxes   []string
	Attach  []Attachment
	linked  map[string]bool // "box/dev" on a link
	Routers int
	Routes  int
	byDev   map[string][]Attachment // "box/dev" -> attachments there
	nets    map[NodeKind]sym.Set    // client / internet address space
}

// Attachment is a subnet of clients or of the internet behind a device.
type Attachment struct {
	Kind   NodeKind // NodeClient or NodeInternet
	Prefix netip.Prefix
	Box    string
	Dev    string
}

// LoadNetwork reads a description file and builds its graph.
func LoadNetwork(file string) (*Network, *Graph, error) {
	return LoadNetworkWith(file, NewGraph(), nil)
}

// LoadNetworkWith is LoadNetwork on a graph that already holds boxes
// (configurations given on the command line, added with g.AddBox under
// the names in boxes): the description's links and subnets may name them.
func LoadNetworkWith(file string, g *Graph, boxes []string) (*Network, *Graph, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	return parseNetwork(file, text, func(name string) ([]byte, error) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(file), name)
		}
		return os.ReadFile(name)
	}, g, boxes)
}

// ParseNetwork parses a description; read loads the files it names.
func ParseNetwork(file string, text []byte, read func(string) ([]byte, error)) (*Network, *Graph, error) {
	return parseNetwork(file, text, read, NewGraph(), nil)
}

func parseNetwork(file string, text []byte, read func(string) ([]byte, error), g *Graph, boxes []string) (*Network, *Graph, error) {
	n := &Network{linked: map[string]bool{}, Boxes: append([]string(nil), boxes...)}
	type link struct{ a, b [2]string }
	var links []link
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		errf := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...))
		}
		if (f[0] == "box" || f[0] == "router") && len(f) == 3 && slices.Contains(n.Boxes, f[1]) {
			return nil, nil, errf("%s %s: a box of that name already exists (an earlier line, or a CONFIG argument named %s.*)", f[0], f[1], f[1])
		}
		switch f[0] {
		case "box":
			if len(f) != 3 {
				return nil, nil, errf("expected 'box NAME FILE'")
			}
			src, err := read(f[2])
			if err != nil {
				return nil, nil, errf("%v", err)
			}
			lg, err := ParseConfig(f[2], src)
			if err != nil {
				return nil, nil, errf("box %s: %v", f[1], err)
			}
			if err := g.AddBox(f[1], lg); err != nil {
				return nil, nil, errf("box %s: %v", f[1], err)
			}
			n.Boxes = append(n.Boxes, f[1])
		case "router":
			if len(f) != 3 {
				return nil, nil, errf("expected 'router NAME FILE'")
			}
			src, err := read(f[2])
			if err != nil {
				return nil, nil, errf("%v", err)
			}
			routes, err := n.addRouter(g, f[1], src)
			if err != nil {
				return nil, nil, errf("router %s: %v", f[1], err)
			}
			n.Routers++
			n.Routes += routes
			n.Boxes = append(n.Boxes, f[1])
		case "link":
			if len(f) != 3 {
				return nil, nil, errf("expected 'link BOX:DEV BOX:DEV'")
			}
			ab, ad, ok1 := strings.Cut(f[1], ":")
			bb, bd, ok2 := strings.Cut(f[2], ":")
			if !ok1 || !ok2 {
				return nil, nil, errf("expected BOX:DEV")
			}
			links = append(links, link{[2]string{ab, ad}, [2]string{bb, bd}})
		case "client", "internet":
			if len(f) != 4 || f[2] != "at" {
				return nil, nil, errf("expected '%s SUBNET at BOX:DEV'", f[0])
			}
			p, err := netip.ParsePrefix(f[1])
			if err != nil {
				a, err2 := netip.ParseAddr(f[1])
				if err2 != nil {
					return nil, nil, errf("bad subnet %q", f[1])
				}
				p = netip.PrefixFrom(a, 32)
			}
			box, dev, ok := strings.Cut(f[3], ":")
			if !ok {
				return nil, nil, errf("expected BOX:DEV")
			}
			k := NodeClient
			if f[0] == "internet" {
				k = NodeInternet
			}
			n.Attach = append(n.Attach, Attachment{Kind: k, Prefix: p.Masked(), Box: box, Dev: dev})
		default:
			return nil, nil, errf("unknown statement %q", f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	dev := map[string][2]int{} // box/dev -> entry, exit
	for i, nd := range g.Nodes {
		if nd.Device == "" {
			continue
		}
		k := nd.Box + "/" + nd.Device
		v, ok := dev[k]
		if !ok {
			v = [2]int{-1, -1}
		}
		if nd.Entry {
			v[0] = i
		} else {
			v[1] = i
		}
		dev[k] = v
	}
	for _, l := range links {
		ka, kb := l.a[0]+"/"+l.a[1], l.b[0]+"/"+l.b[1]
		da, ok1 := dev[ka]
		db, ok2 := dev[kb]
		if !ok1 || !ok2 {
			return nil, nil, fmt.Errorf("%s: link %s %s: no such device", file, ka, kb)
		}
		if da[1] >= 0 && db[0] >= 0 {
			g.links[da[1]] = db[0]
		}
		if db[1] >= 0 && da[0] >= 0 {
			g.links[db[1]] = da[0]
		}
		n.linked[ka], n.linked[kb] = true, true
	}
	for _, a := range n.Attach {
		if _, ok := dev[a.Box+"/"+a.Dev]; !ok {
			return nil, nil, fmt.Errorf("%s: %s at %s:%s: no such device", file, a.Prefix, a.Box, a.Dev)
		}
	}
	return n, g, nil
}

// addRouter builds a router box: every interface is FromDevice ->
// Strip(14) -> CheckIPHeader -> the shared RadixIPLookup, whose output k
// goes DecIPTTL -> EtherEncap -> ToDevice(interface k).
func (n *Network) addRouter(g *Graph, name string, table []byte) (int, error) {
	var ifaces []string
	ifIndex := map[string]int{}
	var routes []string
	for i, l := range strings.Split(string(table), "\n") {
		if j := strings.IndexByte(l, '#'); j >= 0 {
			l = l[:j]
		}
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 && len(f) != 3 {
			return 0, fmt.Errorf("line %d: expected 'PREFIX [GW] IFACE'", i+1)
		}
		ifc := f[len(f)-1]
		k, ok := ifIndex[ifc]
		if !ok {
			k = len(ifaces)
			ifIndex[ifc] = k
			ifaces = append(ifaces, ifc)
		}
		f[len(f)-1] = fmt.Sprint(k)
		routes = append(routes, strings.Join(f, " "))
	}
	var b strings.Builder
	b.WriteString("rt :: RadixIPLookup(" + strings.Join(routes, ", ") + ");\n")
	for k, ifc := range ifaces {
		fmt.Fprintf(&b, "FromDevice(%s) -> Strip(14) -> CheckIPHeader -> [%d]rt;\n", ifc, 0)
		fmt.Fprintf(&b, "rt[%d] -> DecIPTTL -> EtherEncap(0x0800, 0:0:0:0:0:1, 0:0:0:0:0:2) -> ToDevice(%s);\n", k, ifc)
	}
	lg, err := ParseConfig(name+".router", []byte(b.String()))
	if err != nil {
		return 0, err
	}
	return len(routes), g.AddBox(name, lg)
}

// RouterFromTable is addRouter for callers building graphs directly.
func RouterFromTable(g *Graph, name string, table []byte) (int, error) {
	return (&Network{linked: map[string]bool{}}).addRouter(g, name, table)
}

func (n *Network) subnets(k NodeKind) sym.Set {
	if s, ok := n.nets[k]; ok {
		return s
	}
	var ivs []sym.Iv
	for _, a := range n.Attach {
		if a.Kind == k {
			ivs = append(ivs, prefixSet(a.Prefix)...)
		}
	}
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].Lo < ivs[j].Lo })
	s := sym.Set(nil).Union(ivs)
	if n.nets == nil {
		n.nets = map[NodeKind]sym.Set{}
	}
	n.nets[k] = s
	return s
}

func (n *Network) injections(g *Graph, node ReqNode) ([]injection, error) {
	var out []injection
	for _, a := range n.Attach {
		var src sym.Set
		switch node.Kind {
		case NodeAddr:
			if !a.Prefix.Overlaps(node.Prefix) {
				continue
			}
			src = prefixSet(a.Prefix).Intersect(prefixSet(node.Prefix))
		case NodeClient, NodeInternet:
			if a.Kind != node.Kind {
				continue
			}
			src = prefixSet(a.Prefix)
		}
		for i, nd := range g.Nodes {
			if nd.Entry && nd.Box == a.Box && nd.Device == a.Dev {
				out = append(out, injection{node: i, kind: sym.EtherFrame, src: src, desc: a.Box + ":" + a.Dev})
			}
		}
	}
	if len(out) == 0 {
		for _, a := range n.Attach {
			if a.Kind == node.Kind && (node.Kind == NodeClient || node.Kind == NodeInternet) {
				return nil, fmt.Errorf("%s is attached at %s:%s, but box %s has no FromDevice(%s) there: no %s traffic enters the network", node.Text, a.Box, a.Dev, a.Box, a.Dev, node.Text)
			}
		}
		return nil, fmt.Errorf("no attachment point for %s in the network", node.Text)
	}
	return out, nil
}

// exitServes reports whether exit element elem leads to node's hosts.
func (n *Network) exitServes(g *Graph, elem string, node ReqNode) bool {
	nd, _, ok := g.Lookup(elem)
	if !ok || !nd.Exit {
		return false
	}
	if n.byDev == nil {
		n.byDev = map[string][]Attachment{}
		for _, a := range n.Attach {
			n.byDev[a.Box+"/"+a.Dev] = append(n.byDev[a.Box+"/"+a.Dev], a)
		}
	}
	for _, a := range n.byDev[nd.Box+"/"+nd.Device] {
		switch node.Kind {
		case NodeAddr:
			if a.Prefix.Overlaps(node.Prefix) {
				return true
			}
		default:
			if a.Kind == node.Kind {
				return true
			}
		}
	}
	return false
}
