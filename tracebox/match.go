package tracebox

import "fmt"

// Match reports whether reply answers probe, as tracebox's reply filter
// does: either a direct reply (addresses swapped, L4 ports swapped, or an
// ICMP echo reply with the same identifier), or an ICMP error whose quote
// carries the probe's IPv4 ID / IPv6 flow label (when non-zero), or the
// probe's address pair and L4 ports (or TCP seq+ack, or ICMP identifier).
func Match(probe *Packet, r *Reply) bool {
	pn := probe.Net()
	if pn == nil || r == nil || r.Packet == nil {
		return false
	}
	rn := r.Packet.Net()
	if rn == nil || rn.Kind != pn.Kind {
		return false
	}
	if r.Quote != nil {
		return quoteMatches(probe, r.Quote)
	}
	if r.Packet.Src() != probe.Dst() || r.Packet.Dst() != probe.Src() {
		return false
	}
	if t := probe.First(KTCP); t != nil {
		rt := r.Packet.First(KTCP)
		return rt != nil && rt.F[tcpSport].V == t.F[tcpDport].V && rt.F[tcpDport].V == t.F[tcpSport].V
	}
	if u := probe.First(KUDP); u != nil {
		ru := r.Packet.First(KUDP)
		return ru != nil && ru.F[udpSport].V == u.F[udpDport].V && ru.F[udpDport].V == u.F[udpSport].V
	}
	ic := probe.First(KICMP)
	if ic == nil {
		ic = probe.First(KICMPv6)
	}
	if ic != nil {
		ri := r.Packet.First(ic.Kind)
		if ri == nil {
			return false
		}
		echoReply := (ic.Kind == KICMP && ri.F[icmpType].V == 0) || (ic.Kind == KICMPv6 && ri.F[icmpType].V == 129)
		return echoReply && ri.F[icmpRest].V>>16 == ic.F[icmpRest].V>>16
	}
	return true
}

func quoteMatches(probe, q *Packet) bool {
	pn, qn := probe.Net(), q.Net()
	if qn == nil || qn.Kind != pn.Kind {
		return false
	}
	if pn.Kind == KIP && pn.F[ipID].V != 0 && qn.F[ipID].V == pn.F[ipID].V && qn.F[ipDst].A == pn.F[ipDst].A {
		return true
	}
	if pn.Kind == KIPv6 && pn.F[v6Flow].V != 0 && qn.F[v6Flow].V == pn.F[v6Flow].V && qn.F[v6Dst].A == pn.F[v6Dst].A {
		return true
	}
	if q.Src() != probe.Src() || q.Dst() != probe.Dst() {
		return false
	}
	if t := probe.First(KTCP); t != nil {
		if qt := q.First(KTCP); qt != nil {
			return (qt.F[tcpSport].V == t.F[tcpSport].V && qt.F[tcpDport].V == t.F[tcpDport].V) ||
				(qt.F[tcpSeq].V == t.F[tcpSeq].V && qt.F[tcpAck].V == t.F[tcpAck].V)
		}
		if pt := q.First(KPartialTCP); pt != nil {
			return pt.F[0].V == t.F[tcpSport].V && pt.F[1].V == t.F[tcpDport].V || pt.F[2].V == t.F[tcpSeq].V
		}
		return false
	}
	if u := probe.First(KUDP); u != nil {
		qu := q.First(KUDP)
		return qu != nil && qu.F[udpSport].V == u.F[udpSport].V && qu.F[udpDport].V == u.F[udpDport].V
	}
	ic := probe.First(KICMP)
	if ic == nil {
		ic = probe.First(KICMPv6)
	}
	if ic != nil {
		qi := q.First(ic.Kind)
		return qi != nil && qi.F[icmpRest].V == ic.F[icmpRest].V
	}
	return true
}

// MatchRule describes (for -D) how replies to probe are recognised.
func MatchRule(probe *Packet) string {
	n := probe.Net()
	if n == nil {
		return "(no IP layer)"
	}
	var l4 string
	if t := probe.First(KTCP); t != nil {
		l4 = fmt.Sprintf("tcp sport %d dport %d (seq %d)", t.F[tcpSport].V, t.F[tcpDport].V, t.F[tcpSeq].V)
	} else if u := probe.First(KUDP); u != nil {
		l4 = fmt.Sprintf("udp sport %d dport %d", u.F[udpSport].V, u.F[udpDport].V)
	} else {
		l4 = "icmp"
	}
	key := fmt.Sprintf("ip id 0x%x", n.F[ipID].V)
	if n.Kind == KIPv6 {
		key = fmt.Sprintf("flow label 0x%x", n.F[v6Flow].V)
	}
	return fmt.Sprintf("direct: src %s dst %s %s swapped | icmp error quoting (%s) or (src %s dst %s %s)",
		probe.Dst(), probe.Src(), l4, key, probe.Src(), probe.Dst(), l4)
}
