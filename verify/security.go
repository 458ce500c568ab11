package verify

import (
	"fmt"
	"net/netip"
	"strings"

	"flowbox/appliance/lang"
	"flowbox/verify/sym"
)

// Role is who requests the processing (In-Net §2.1).
type Role uint8

const (
	Operator Role = iota
	Client
	ThirdParty
)

// ParseRole accepts operator, client and third-party.
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(s) {
	case "operator":
		return Operator, nil
	case "client":
		return Client, nil
	case "third-party", "thirdparty", "third_party", "3rd-party":
		return ThirdParty, nil
	}
	return 0, fmt.Errorf("unknown role %q (operator, client or third-party)", s)
}

func (r Role) String() string { return [...]string{"operator", "client", "third-party"}[r] }

// Decision is a security check's outcome.
type Decision uint8

const (
	Accept Decision = iota
	Reject
	Sandbox
)

func (d Decision) String() string { return [...]string{"ACCEPT", "REJECT", "SANDBOX"}[d] }

// SecurityOptions configure the check.
type SecurityOptions struct {
	Role    Role
	Address netip.Addr     // the module's assigned address
	Allowed []netip.Prefix // the tenant's whitelist of destinations
}

// SecurityResult is the outcome with its reason.
type SecurityResult struct {
	Decision       Decision   `json:"-"`
	DecisionText   string     `json:"decision"`
	Role           string     `json:"role"`
	Reason         string     `json:"reason"`
	Counterexample string     `json:"counterexample,omitempty"`
	Path           string     `json:"path,omitempty"`
	Paths          []PathInfo `json:"paths"`
}

// Line renders the result as `flowbox verify` prints it.
func (r *SecurityResult) Line() string {
	s := r.Decision.String() + " (" + r.Role + "): " + r.Reason
	if r.Counterexample != "" {
		s += "; counterexample: " + r.Counterexample
	}
	if r.Path != "" {
		s += "; path: " + r.Path
	}
	return s
}

type tri uint8

const (
	proven tri = iota
	refuted
	unknown
)

// rule judges "v is in allowed, or v carries the input value in" on one
// path: proven when that holds for every packet of the path; refuted when
// v can never be in allowed and is not bound to in (a value that merely
// might coincide with the input's is not authorization); unknown
// otherwise.
func rule(s *sym.Solver, v, in sym.Expr, hasIn bool, allowed sym.Set) tri {
	if hasIn && s.MustEqual(v, in) {
		return proven
	}
	if !allowed.Empty() {
		c := s.Clone()
		if !c.In(v, allowed.Complement(v.W)) || !c.Feasible() {
			if !c.Approx {
				return proven
			}
		}
	}
	canAllowed := false
	if !allowed.Empty() {
		c := s.Clone()
		canAllowed = c.In(v, allowed) && c.Feasible()
	}
	canIn := false
	if hasIn && s.Related(v, in) {
		c := s.Clone()
		canIn = c.Eq(v, in) && c.Feasible()
	}
	if !canAllowed && !canIn && !s.Approx {
		return refuted
	}
	return unknown
}

// Security checks a module (the graph's FromDevice to ToDevice paths)
// against the rules for opt.Role (In-Net §2.1, §4.4):
//   - only traffic addressed to the module reaches it: injected packets
//     have destination ADDRESS and a source other than ADDRESS;
//   - anti-spoofing (client, third party): traffic leaving has source
//     ADDRESS or the source it arrived with;
//   - default-off (third party): its destination is whitelisted or is the
//     source of the traffic that entered (implicit authorization);
//   - no transit (client, third party): the module does not send traffic
//     still addressed to itself, i.e. it does not forward traffic that
//     was not meant for it (routers, DPI boxes, transparent proxies).
//
// Packet generators of the module (RatedSource, InfiniteSource, ...) are
// explored too: what they send must have source ADDRESS and, for a third
// party, a whitelisted destination.
//
// Every path to an exit is judged: conforming for every packet, for none,
// or for some. All conforming: ACCEPT; none: REJECT; otherwise, or with
// opaque elements: SANDBOX (insert ChangeEnforcer).
func (c *Checker) Security(opt SecurityOptions) *SecurityResult {
	res := &SecurityResult{Role: opt.Role.String()}
	done := func(d Decision, reason string) *SecurityResult {
		res.Decision, res.DecisionText, res.Reason = d, d.String(), reason
		return res
	}
	if opt.Role != Operator && !opt.Address.Is4() {
		return done(Reject, "--address (the module's IPv4 address) is required for client and third-party modules")
	}
	entries := c.G.Entries()
	gens := c.generators()
	if len(entries) == 0 && len(gens) == 0 && opt.Role != Operator {
		return done(Accept, "the module has no FromDevice and no packet generator: it sends no traffic")
	}
	var A uint32
	if opt.Address.Is4() {
		b := opt.Address.As4()
		A = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	var wl sym.Set
	for _, p := range opt.Allowed {
		if p.Addr().Is4() {
			wl = wl.Union(prefixSet(p.Masked()))
		}
	}
	var paths []*Path
	generated := map[*Path]bool{}
	// Packet generators (RatedSource, ...) originate traffic of their own:
	// there is no incoming packet whose source or destination could
	// authorize what they send.
	for _, g := range gens {
		for p := 0; p < c.G.Nodes[g].NOut; p++ {
			for _, s := range c.startPackets(g, p) {
				s.Init = s.Snapshot()
				x := &Explorer{G: c.G, Limits: c.Limits}
				for _, path := range x.Inject(g, p, s) {
					generated[path] = true
					paths = append(paths, path)
				}
			}
		}
	}
	for _, e := range entries {
		s := sym.NewPacket(c.G.Vars, sym.EtherFrame, "")
		if opt.Role != Operator {
			src, _ := s.Load(s.Hdr[sym.L3]+sym.IPSrc, 4)
			dst, _ := s.Load(s.Hdr[sym.L3]+sym.IPDst, 4)
			s.S.In(dst, sym.Point(A))
			s.S.In(src, sym.Point(A).Complement(32))
		}
		s.Init = s.Snapshot()
		x := &Explorer{G: c.G, Limits: c.Limits}
		paths = append(paths, x.Inject(e, 0, s)...)
	}
	if c.AllPaths {
		for _, p := range paths {
			res.Paths = append(res.Paths, pathInfo(p))
		}
	}
	var good, bad, mixed, opaque, delivered int
	var firstBad, firstMixed, firstOpaque *Path
	var badWhy, mixedWhy string
	for _, p := range paths {
		switch p.Outcome {
		case sym.Unprovable, sym.Failed:
			opaque++
			if firstOpaque == nil {
				firstOpaque = p
			}
			continue
		case sym.Delivered:
		default:
			continue
		}
		delivered++
		if opt.Role == Operator {
			good++
			continue
		}
		end := p.State.Last().At
		srcIn, err1 := fieldAt(p.State, p.State.Init, "src")
		srcOut, err2 := fieldAt(p.State, end, "src")
		dstOut, err3 := fieldAt(p.State, end, "dst")
		if err1 != nil || err2 != nil || err3 != nil {
			bad++
			if firstBad == nil {
				firstBad, badWhy = p, "leaves without an IP header"
			}
			continue
		}
		S := p.State.S
		verdicts := map[string]tri{}
		if generated[p] {
			verdicts["spoofing: the module generates traffic whose source is not the module's address"] =
				rule(S, srcOut, sym.Expr{}, false, sym.Point(A))
			if opt.Role == ThirdParty {
				verdicts["default-off: the module generates traffic to a destination that is not whitelisted"] =
					rule(S, dstOut, sym.Expr{}, false, wl)
			}
		} else {
			verdicts["spoofing: source is neither the module's address nor the source the traffic arrived with"] =
				rule(S, srcOut, srcIn, true, sym.Point(A))
			if opt.Role == ThirdParty {
				verdicts["default-off: destination is neither whitelisted nor the source of the incoming traffic"] =
					rule(S, dstOut, srcIn, true, wl)
			}
		}
		if S.MustEqual(dstOut, sym.Const(32, A)) {
			verdicts["transit: the module forwards traffic still addressed to itself (it processes traffic not meant for it)"] = refuted
		}
		pv, why := proven, ""
		for _, k := range orderedRules(verdicts) {
			switch verdicts[k] {
			case refuted:
				if pv != refuted {
					pv, why = refuted, k
				}
			case unknown:
				if pv == proven {
					pv, why = unknown, k
				}
			}
		}
		switch pv {
		case proven:
			good++
		case refuted:
			bad++
			if firstBad == nil {
				firstBad, badWhy = p, why
			}
		default:
			mixed++
			if firstMixed == nil {
				firstMixed, mixedWhy = p, why
			}
		}
	}
	example := func(p *Path) {
		if m, ok := p.State.S.Model(); ok {
			res.Counterexample = describe(p.State, p.State.Init, m) + " leaves as " + describe(p.State, p.State.Last().At, m)
		}
		res.Path = p.Hops()
	}
	summary := fmt.Sprintf("%d path(s) leave the module: %d conform, %d violate, %d may violate; %d unprovable", delivered, good, bad, mixed, opaque)
	switch {
	case opt.Role == Operator:
		return done(Accept, "operator modules may send any traffic; "+summary)
	case opaque > 0:
		res.Path = firstOpaque.Hops()
		return done(Sandbox, summary+"; "+firstOpaque.Reason)
	case delivered == 0:
		return done(Accept, "the module sends no traffic; "+summary)
	case bad == delivered:
		example(firstBad)
		return done(Reject, badWhy+" on every path; "+summary)
	case bad == 0 && mixed == 0:
		return done(Accept, "every path provably conforms; "+summary)
	case firstMixed != nil:
		example(firstMixed)
		return done(Sandbox, mixedWhy+" on some packets; "+summary)
	default:
		example(firstBad)
		return done(Sandbox, badWhy+" on some paths; "+summary)
	}
}

// InsertEnforcers returns the configuration with one ChangeEnforcer
// sandboxing the whole module: for the k-th device, FromDevice(d) ->
// [2k]enforcer[2k] -> ... carries traffic into the module and ... ->
// [2k+1]enforcer[2k+1] -> ToDevice(d) traffic out of it, so replies may
// leave by any device.
func InsertEnforcers(g *lang.Graph, opt SecurityOptions) *lang.Graph {
	out := &lang.Graph{Elements: append([]*lang.Element(nil), g.Elements...), Requirements: g.Requirements, Sources: g.Sources}
	var wl []string
	for _, p := range opt.Allowed {
		wl = append(wl, p.String())
	}
	conf := "ADDRESS " + opt.Address.String()
	if len(wl) > 0 {
		conf += ", WHITELIST " + strings.Join(wl, " ")
	}
	if opt.Role != ThirdParty {
		conf += ", DEFAULT_OFF false"
	}
	name := "enforcer"
	for i := 0; ; i++ {
		taken := false
		for _, e := range g.Elements {
			if e.Name == name {
				taken = true
			}
		}
		if !taken {
			break
		}
		name = fmt.Sprintf("enforcer%d", i)
	}
	e := len(out.Elements)
	out.Elements = append(out.Elements, &lang.Element{Name: name, Class: "ChangeEnforcer", Config: conf})
	devs := map[string]int{}
	dev := func(d string) int {
		if k, ok := devs[d]; ok {
			return k
		}
		devs[d] = len(devs)
		return devs[d]
	}
	for _, c := range g.Connections {
		from, to := g.Elements[c.From], g.Elements[c.To]
		switch {
		case entryClasses[from.Class]:
			k := 2 * dev(firstWord(from.Config))
			out.Connections = append(out.Connections,
				lang.Connection{From: c.From, FromPort: c.FromPort, To: e, ToPort: k, Pos: c.Pos},
				lang.Connection{From: e, FromPort: k, To: c.To, ToPort: c.ToPort, Pos: c.Pos})
		case exitClasses[to.Class]:
			k := 2*dev(firstWord(to.Config)) + 1
			out.Connections = append(out.Connections,
				lang.Connection{From: c.From, FromPort: c.FromPort, To: e, ToPort: k, Pos: c.Pos},
				lang.Connection{From: e, FromPort: k, To: c.To, ToPort: c.ToPort, Pos: c.Pos})
		default:
			out.Connections = append(out.Connections, c)
		}
	}
	if len(devs) == 0 {
		out.Elements = out.Elements[:e]
	}
	return out
}

// generators lists the elements that originate packets other than the
// devices: models implementing sym.Source, and elements without inputs
// that have outputs (unmodelled generators, explored as such).
func (c *Checker) generators() []int {
	var out []int
	for i, n := range c.G.Nodes {
		if n.Entry || n.NOut == 0 {
			continue
		}
		if _, ok := n.beh.(sym.Source); ok || n.NIn == 0 {
			out = append(out, i)
		}
	}
	return out
}

// orderedRules lists the rules spoofing, default-off, transit first to
// last, so the most fundamental violation is reported.
func orderedRules(v map[string]tri) []string {
	var out []string
	for _, p := range []string{"spoofing", "default-off", "transit"} {
		for k := range v {
			if strings.HasPrefix(k, p) {
				out = append(out, k)
			}
		}
	}
	return out
}
