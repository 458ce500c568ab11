package nat

import "flowbox/appliance/core"

// UDPRewriter is IPRewriter with UDP timeouts for every flow; it accepts
// TCP too but does not track TCP session state.
type UDPRewriter struct{ Rewriter }

func init() {
	core.Register(core.Class{
		Name: "UDPRewriter", Ports: "1-/1-", Processing: "h/h",
		New: func() core.Element { r := new(UDPRewriter); r.mode = modeUDP; return r },
		Doc: rewriterDoc("UDPRewriter", "rewrites UDP (and TCP) packets' addresses and ports",
			"All flows, TCP included, use UDP_TIMEOUT, or UDP_STREAMING_TIMEOUT once the "+
				"reply side sends; TCP flags are not tracked and the TCP_* timeouts are unused."),
	})
}
