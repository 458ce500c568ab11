package nat

import "flowbox/appliance/core"

// IPRewriter is Click's NAPT: one INPUTSPEC per input; TCP and UDP flows
// get forward and reply mappings with per-protocol timeouts.
type IPRewriter struct{ Rewriter }

func init() {
	core.Register(core.Class{
		Name: "IPRewriter", Ports: "1-/1-", Processing: "h/h",
		New: func() core.Element { r := new(IPRewriter); r.mode = modeIP; return r },
		Doc: rewriterDoc("IPRewriter", "rewrites TCP/UDP packets' addresses and ports (NAPT)",
			"TCP flows use TCP_NODATA_TIMEOUT until the reply side sends, then TCP_TIMEOUT, "+
				"and TCP_DONE_TIMEOUT after RST or FIN in both directions. UDP flows use "+
				"UDP_TIMEOUT, or UDP_STREAMING_TIMEOUT once replies flow."),
	})
}

// rewriterDoc builds the documentation shared by the three rewriters.
func rewriterDoc(class, summary, timeouts string) core.Doc {
	return core.Doc{
		Synopsis: class + "(INPUTSPEC1, ..., INPUTSPECn [, KEYWORDS])",
		Summary:  summary,
		Description: `Network address/port translation. Input port i is governed by
INPUTSPEC i. A flow is keyed by its 5-tuple (protocol, addresses, ports).
A packet that matches an existing mapping (created on any input) is
rewritten and sent to that mapping's output. Otherwise its input spec
decides:

  drop | discard            drop the packet.
  pass [OUT]                send it unchanged to OUT (default 0); no mapping.
  keep FOUT ROUT            install an identity mapping: forward packets
                            go to FOUT, replies to ROUT.
  pattern SADDR SPORT DADDR DPORT FOUT ROUT
                            rewrite to the pattern. Any field may be '-'
                            (unchanged). SPORT may be a range L-H: the
                            packet's own port is used when it is in range
                            and free, else a free one from a random start;
                            a '#' suffix allocates sequentially, '?'
                            randomly (both skip the own-port try). SADDR
                            may be a range A-B or a prefix A/len (its hosts
                            without network and broadcast addresses).
  pattern SADDR DADDR FOUT ROUT
                            rewrite addresses only.

Every new flow installs a forward mapping and a reply mapping; the
rewritten tuple is chosen so that the reply tuple is unique. When a range
is used up toward a destination, or the table is full, new flows are
dropped and mapping_failures increases. Packets of other protocols and
non-first fragments are dropped unless the spec is pass. Malformed IPv4
or transport headers are counted (malformed) and dropped.

Addresses and ports are rewritten in place with incremental IP and
TCP/UDP checksum updates (a UDP checksum of 0 stays 0), and the
destination-IP annotation is set to the new destination. The IP header
is taken at the network annotation, or at the start of the data.

` + timeouts + ` Expired flows are freed lazily when
a packet meets them and by a reaper every REAP_INTERVAL. The flow table
is an open-addressing hash table with MAPPING_CAPACITY preallocated
flows; new flows never allocate. A hot reconfiguration keeps the flows
of input specs that did not change. TCP_GUARANTEE and UDP_GUARANTEE are
accepted for compatibility and have no effect; named patterns
(IPRewriterPatterns) and IPMapper elements are not supported.`,
		Ports: "Inputs: IPv4 packets, one INPUTSPEC each (push).\n" +
			"Outputs: as the specs and mappings name them (push).",
		Args: []core.Item{
			{Name: "INPUTSPEC", Text: "one per input, see above"},
			{Name: "TCP_TIMEOUT", Text: "idle timeout of established TCP flows (24h)"},
			{Name: "TCP_DONE_TIMEOUT", Text: "timeout after RST or FIN both ways (4min)"},
			{Name: "TCP_NODATA_TIMEOUT", Text: "timeout before the reply side has sent (5min)"},
			{Name: "UDP_TIMEOUT", Text: "idle timeout of UDP flows (5min)"},
			{Name: "UDP_STREAMING_TIMEOUT", Text: "UDP timeout once replies flow (UDP_TIMEOUT)"},
			{Name: "REAP_INTERVAL", Text: "how often expired flows are freed (15s; 0 = only lazily)"},
			{Name: "MAPPING_CAPACITY", Text: "most flows held, preallocated (65536)"},
		},
		Handlers: []core.Item{
			{Name: "table_size", Text: "number of live flows"},
			{Name: "mapping_failures", Text: "new flows refused (range exhausted, table full)"},
			{Name: "malformed", Text: "packets dropped as malformed"},
			{Name: "tcp_table", Text: "TCP mappings, both directions, Click format"},
			{Name: "udp_table", Text: "UDP mappings, both directions, Click format"},
			{Name: "table", Text: "tcp_table then udp_table"},
			{Name: "patterns", Text: "input specs, with their live flow counts"},
			{Name: "capacity", Text: "MAPPING_CAPACITY (rw; writing rebuilds the table)"},
			{Name: "clear", Text: "remove every flow (w)"},
		},
		Example: `rw :: ` + class + `(pattern 1.0.0.1 1024-65535 - - 0 1, drop);
FromDevice(inside) -> Strip(14) -> CheckIPHeader -> [0]rw;
FromDevice(outside) -> Strip(14) -> CheckIPHeader -> [1]rw;
rw[0] -> ... -> ToDevice(outside);   // translated outbound
rw[1] -> ... -> ToDevice(inside);    // replies, translated back`,
	}
}
