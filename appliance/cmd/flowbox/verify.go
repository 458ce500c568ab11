package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"flowbox/appliance/control"
	"flowbox/appliance/lang"
	"flowbox/lua"
	"flowbox/verify"
)

func init() {
	commands["verify"] = command{"prove reachability/invariant requirements and security rules of configurations", verifyCmd}
}

const verifyUsage = `
usage: flowbox verify [--network FILE] [--as ROLE] [--address A] [--allow PREFIX]...
                      [--hooks FILE] [--json] [--sandboxed FILE] CONFIG... [-r 'REQ']... [-R FILE]

Explores every path of the configuration with symbolic packets (SymNet /
In-Net) and answers each requirement, in the order given:

  reach from NODE [FLOW] {-> NODE [FLOW] [const FIELDS]}+

NODE is an element (arrival at it), ELEMENT:PORT (leaving output PORT),
MODULE:ELEMENT:PORT (with --network), an address or subnet, client or
internet. FLOW is an IPFilter expression. FIELDS are &&-separated: src,
dst, proto, src port, dst port, tos, ttl, seq, ack, payload. reach holds
if some path meets every hop; const if on every such path each field
ends the hop with the value it started it with.

With one CONFIG and no --network, its FromDevice elements are where
traffic enters and its ToDevice elements where it leaves. Several CONFIGs
are boxes named after their files (without links). --network FILE
describes boxes, routers, links and the client/internet subnets; CONFIGs
given with it are boxes named after their files that it may link.

--as operator|client|third-party checks In-Net's security rules for a
module with address --address (whitelist: --allow, repeatable): the
answer is ACCEPT, REJECT, or SANDBOX (ChangeEnforcer must be inserted;
--sandboxed FILE writes the configuration with it). --hooks FILE asks
the operator's Lua on_tenant(req) hook about every client and
third-party request (req = {role, address, allow, configs, text,
decision, reason}); a hook that rejects, or fails, turns the answer into
REJECT with its reason.

Each answer is one line starting SATISFIED, VIOLATED or UNPROVABLE (or
ACCEPT, REJECT, SANDBOX). Exit status: 0 all hold/accept, 1 any
violation or reject, 2 only unprovable/sandbox answers remain (or a usage
error).`

func verifyCmd(args []string) int {
	return runVerify(args, os.Stdout, stderr)
}

func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("verify", verifyUsage)
	fs.SetOutput(stderr)
	var (
		network, role, address, reqFile, sandboxed, hooksFile string
		reqs, allow                                           multiFlag
		asJSON                                                bool
		configs                                               []string
	)
	fs.StringVar(&network, "network", "", "network description `FILE`")
	fs.StringVar(&role, "as", "", "check the security rules for `ROLE`: operator, client or third-party")
	fs.StringVar(&address, "address", "", "the module's assigned IPv4 address `A`")
	fs.Var(&allow, "allow", "whitelisted destination `PREFIX` of a third-party tenant (repeatable)")
	fs.Var(&reqs, "r", "requirement `REQ` (repeatable)")
	fs.StringVar(&reqFile, "R", "", "read requirements from `FILE`, one per line (# comments)")
	fs.BoolVar(&asJSON, "json", false, "print JSON with every path")
	fs.StringVar(&hooksFile, "hooks", "", "ask the on_tenant hook of Lua `FILE` about client and third-party requests")
	fs.StringVar(&sandboxed, "sandboxed", "", "with SANDBOX, write the configuration with ChangeEnforcer to `FILE`")
	if err := parseInterspersed(fs, args, func(a string) error { configs = append(configs, a); return nil }); err != nil {
		return exitUsage(stderr, err)
	}
	texts := append([]string(nil), reqs...)
	if reqFile != "" {
		b, err := os.ReadFile(reqFile)
		if err != nil {
			fmt.Fprintln(stderr, "flowbox verify:", err)
			return 2
		}
		for _, l := range strings.Split(string(b), "\n") {
			if i := strings.IndexByte(l, '#'); i >= 0 {
				l = l[:i]
			}
			if l = strings.TrimSpace(l); l != "" {
				texts = append(texts, l)
			}
		}
	}
	if role == "" && len(texts) == 0 {
		fmt.Fprintln(stderr, "flowbox verify: nothing to check: give -r/-R requirements or --as ROLE")
		return 2
	}
	if network == "" && len(configs) == 0 {
		fmt.Fprintln(stderr, "flowbox verify: no configuration (CONFIG... or --network FILE)")
		return 2
	}
	var parsed []*verify.Requirement
	for _, t := range texts {
		r, err := verify.ParseRequirement(t)
		if err != nil {
			fmt.Fprintf(stderr, "flowbox verify: requirement %q: %v\n", t, err)
			return 2
		}
		parsed = append(parsed, r)
	}
	var opt verify.SecurityOptions
	if role != "" {
		r, err := verify.ParseRole(role)
		if err != nil {
			fmt.Fprintln(stderr, "flowbox verify:", err)
			return 2
		}
		opt.Role = r
		if address != "" {
			a, err := netip.ParseAddr(address)
			if err != nil || !a.Is4() {
				fmt.Fprintf(stderr, "flowbox verify: --address: bad IPv4 address %q\n", address)
				return 2
			}
			opt.Address = a
		} else if r != verify.Operator {
			fmt.Fprintln(stderr, "flowbox verify: --address is required with --as client or third-party")
			return 2
		}
		for _, p := range allow {
			pf, err := netip.ParsePrefix(p)
			if err != nil {
				a, err2 := netip.ParseAddr(p)
				if err2 != nil {
					fmt.Fprintf(stderr, "flowbox verify: --allow: bad prefix %q\n", p)
					return 2
				}
				pf = netip.PrefixFrom(a, 32)
			}
			opt.Allowed = append(opt.Allowed, pf)
		}
	}
	var hooks *lua.Hooks
	if hooksFile != "" {
		if role == "" {
			fmt.Fprintln(stderr, "flowbox verify: --hooks needs --as ROLE (on_tenant judges tenant requests)")
			return 2
		}
		h, err := lua.LoadHooks(hooksFile, lua.HookOptions{})
		if err != nil {
			fmt.Fprintln(stderr, "flowbox verify: --hooks:", err)
			return 2
		}
		hooks = h
	}
	c := &verify.Checker{AllPaths: asJSON}
	var single *lang.Graph
	switch {
	case network != "":
		// CONFIGs are boxes named after their files, added first so that
		// the description's links and subnets can name them.
		g := verify.NewGraph()
		var boxes []string
		for _, f := range configs {
			lg, err := readConfig(f)
			if err != nil {
				fmt.Fprintln(stderr, "flowbox verify:", err)
				return 2
			}
			if slices.Contains(boxes, boxName(f)) {
				fmt.Fprintf(stderr, "flowbox verify: %s: a box named %s is already given\n", f, boxName(f))
				return 2
			}
			if err := g.AddBox(boxName(f), lg); err != nil {
				fmt.Fprintln(stderr, "flowbox verify:", err)
				return 2
			}
			boxes = append(boxes, boxName(f))
		}
		n, g, err := verify.LoadNetworkWith(network, g, boxes)
		if err != nil {
			fmt.Fprintln(stderr, "flowbox verify:", err)
			return 2
		}
		c.G, c.Net = g, n
	default:
		c.G = verify.NewGraph()
		for _, f := range configs {
			lg, err := readConfig(f)
			if err != nil {
				fmt.Fprintln(stderr, "flowbox verify:", err)
				return 2
			}
			box := ""
			if len(configs) > 1 {
				box = boxName(f)
			} else {
				single = lg
			}
			if err := c.G.AddBox(box, lg); err != nil {
				fmt.Fprintln(stderr, "flowbox verify:", err)
				return 2
			}
		}
	}
	// An element a requirement names but the configuration lacks is a
	// usage error (a typo), reported before any answer.
	for i, r := range parsed {
		if err := c.Validate(r); err != nil {
			fmt.Fprintf(stderr, "flowbox verify: requirement %q: %v\n", texts[i], err)
			return 2
		}
	}
	status := 0
	worse := func(s int) {
		if s == 1 || status == 0 {
			status = s
		}
	}
	var out struct {
		Requirements []*verify.Answer       `json:"requirements,omitempty"`
		Security     *verify.SecurityResult `json:"security,omitempty"`
	}
	for _, r := range parsed {
		a := c.Check(r)
		out.Requirements = append(out.Requirements, a)
		switch a.Verdict {
		case verify.Violated:
			worse(1)
		case verify.Unprovable:
			worse(2)
		}
		if !asJSON {
			fmt.Fprintln(stdout, a.Line())
		}
	}
	if role != "" {
		res := c.Security(opt)
		if hooks != nil && opt.Role != verify.Operator && res.Decision != verify.Reject {
			tenantHook(hooks, res, opt, configs)
		}
		out.Security = res
		switch res.Decision {
		case verify.Reject:
			worse(1)
		case verify.Sandbox:
			worse(2)
			if sandboxed != "" && single != nil {
				text := lang.Unparse(verify.InsertEnforcers(single, opt))
				if err := os.WriteFile(sandboxed, []byte(text), 0o644); err != nil {
					fmt.Fprintln(stderr, "flowbox verify:", err)
				}
			}
		}
		if !asJSON {
			fmt.Fprintln(stdout, res.Line())
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // paths read "a -> b", not "a -\u003e b"
		if err := enc.Encode(out); err != nil {
			fmt.Fprintln(stderr, "flowbox verify:", err)
			return 2
		}
	}
	return status
}

// tenantHook asks the operator's on_tenant hook about a tenant request
// the security rules let through (ACCEPT or SANDBOX); a rejection, or a
// failing hook (fail closed), makes it REJECT.
func tenantHook(h *lua.Hooks, res *verify.SecurityResult, opt verify.SecurityOptions, configs []string) {
	var allow []string
	for _, p := range opt.Allowed {
		allow = append(allow, p.String())
	}
	text := ""
	if len(configs) > 0 {
		if b, err := os.ReadFile(configs[0]); err == nil {
			text = string(b)
		}
	}
	r, _ := h.OnTenant(map[string]any{
		"role": opt.Role.String(), "address": opt.Address.String(), "allow": allow,
		"configs": append([]string(nil), configs...), "text": text,
		"decision": res.DecisionText, "reason": res.Reason,
	})
	if r.Accept {
		return
	}
	res.Decision, res.DecisionText = verify.Reject, verify.Reject.String()
	res.Reason = r.Reason
	if !strings.HasPrefix(res.Reason, "on_tenant") {
		res.Reason = "on_tenant: " + res.Reason
	}
	res.Counterexample, res.Path = "", ""
}

func readConfig(file string) (*lang.Graph, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return verify.ParseConfig(file, src)
}

func boxName(file string) string {
	b := file
	if i := strings.LastIndexByte(b, '/'); i >= 0 {
		b = b[i+1:]
	}
	if i := strings.IndexByte(b, '.'); i > 0 {
		b = b[:i]
	}
	return b
}

// The shell's `verify` runs the same checks on the running configuration
// (its flattened text), so an operator can prove requirements on what the
// box is doing right now.
func init() {
	control.Register(control.Command{
		Name:    "verify",
		Args:    "[--as ROLE] [--address A] [--allow PREFIX]... [--json] [-r 'REQ']... [-R FILE]",
		Summary: "prove requirements or security rules of the running configuration",
		Help:    "Runs 'flowbox verify' on the running configuration; see 'flowbox verify --help'.",
		Run:     verifyRunning,
	})
}

func verifyRunning(c *control.Call) (string, error) {
	dir, err := os.MkdirTemp("", "flowbox-verify")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "running.click")
	if err := os.WriteFile(conf, []byte(lang.Unparse(c.Router().Graph)), 0o600); err != nil {
		return "", err
	}
	var out, errs bytes.Buffer
	code := runVerify(append(append([]string(nil), c.Args...), conf), &out, &errs)
	if code == 2 && out.Len() == 0 {
		// A usage error: one clear line, as every shell command error.
		msg := strings.TrimSpace(errs.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return "", fmt.Errorf("%s", msg)
	}
	return out.String(), nil
}
