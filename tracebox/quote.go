package tracebox

// Reply is a decoded reply with its quote (if it is an ICMP error).
type Reply struct {
	Raw    []byte
	Packet *Packet // the whole reply as decoded
	// Quote is the packet quoted in an ICMP error, trimmed to its IP length
	// (RFC 4884 length honoured), with a truncated TCP header turned into a
	// PartialTCP layer. nil when the reply is not an ICMP error.
	Quote   *Packet
	Partial bool
	// Ext are the layers found after the quote: RFC 4884 ICMP extension
	// structures, or the excess bytes of an over-long quote (RawLayer).
	Ext []*Layer
	// ICMP type/code when the reply is ICMP.
	ICMP     bool
	Type     uint8
	Code     uint8
	QuoteLen int // number of bytes quoted (before trimming)
}

func isICMPError(v6 bool, t uint8) bool {
	if v6 {
		return t >= 1 && t <= 4
	}
	switch t {
	case 3, 4, 5, 11, 12:
		return true
	}
	return false
}

// ParseReply decodes a reply and extracts its quote. It never panics on
// malformed input.
func ParseReply(b []byte) *Reply {
	r := &Reply{Raw: b, Packet: Decode(b)}
	var ic *Layer
	idx := -1
	for i, l := range r.Packet.Layers {
		if l.Kind == KICMP || l.Kind == KICMPv6 {
			ic, idx = l, i
			break
		}
	}
	if ic == nil {
		return r
	}
	v6 := ic.Kind == KICMPv6
	r.ICMP = true
	r.Type, r.Code = uint8(ic.F[icmpType].V), uint8(ic.F[icmpCode].V)
	if !isICMPError(v6, r.Type) || idx+1 >= len(r.Packet.Layers) || r.Packet.Layers[idx+1].Kind != KRaw {
		return r
	}
	q := r.Packet.Layers[idx+1].Data
	r.QuoteLen = len(q)
	var ext []byte
	// RFC 4884 length attribute.
	rest := uint32(ic.F[icmpRest].V)
	var qlen int
	if !v6 && (r.Type == 3 || r.Type == 11 || r.Type == 12) {
		qlen = int(rest>>16&0xff) * 4
	} else if v6 && (r.Type == 1 || r.Type == 3) {
		qlen = int(rest>>24) * 8
	}
	if qlen > 0 && qlen < len(q) {
		q, ext = q[:qlen], q[qlen:]
		r.Ext = append(r.Ext, parseExtensions(ext)...)
	}
	inner := Decode(q)
	r.Quote = inner
	n := inner.Net()
	if n == nil {
		return r
	}
	var total int
	var proto uint8
	if n.Kind == KIP {
		total = int(n.F[ipTotLen].V)
		proto = uint8(n.F[ipProto].V)
		if n.F[ipFragOff].V != 0 {
			proto = 0
		}
	} else {
		total = int(n.F[v6PayLen].V) + 40
		proto = uint8(n.F[v6Next].V)
	}
	switch {
	case len(q) > total && total > 0:
		// Over-long quote: the excess is an extension / padding.
		excess := q[total:]
		inner = Decode(q[:total])
		r.Quote = inner
		if ext == nil {
			r.Ext = append(r.Ext, NewRaw(excess))
		}
	case len(q) < total && proto == 6:
		r.Partial = true
		last := inner.Layers[len(inner.Layers)-1]
		if last.Kind == KRaw && inner.First(KTCP) == nil && len(last.Data) >= 8 {
			d := last.Data
			pt := newPartialTCP(be16(d), be16(d[2:]), be32(d[4:]))
			inner.Layers[len(inner.Layers)-1] = pt
			if len(d) > 8 {
				inner.Layers = append(inner.Layers, NewRaw(d[8:]))
			}
		}
	}
	return r
}

// parseExtensions decodes an RFC 4884 extension structure.
func parseExtensions(b []byte) []*Layer {
	if len(b) < 4 || b[0]>>4 != 2 {
		return []*Layer{NewRaw(b)}
	}
	hdr := &Layer{Kind: KRaw, F: []Field{{Name: "Version", V: uint64(b[0] >> 4)}, {Name: "Reserved", V: uint64(be16(b) & 0xfff)}, {Name: "CheckSum", V: uint64(be16(b[2:])), Fmt: fHex}}}
	hdr.Data = nil
	out := []*Layer{extLayer("ICMPExtension", hdr)}
	b = b[4:]
	for len(b) >= 4 {
		n := int(be16(b))
		if n < 4 || n > len(b) {
			break
		}
		name := "ICMPExtensionObject"
		if b[2] == 1 {
			name = "ICMPExtensionMPLS"
		}
		o := &Layer{Kind: KRaw, F: []Field{{Name: "Length", V: uint64(n)}, {Name: "ClassNum", V: uint64(b[2])}, {Name: "CType", V: uint64(b[3])}}, Data: append([]byte(nil), b[4:n]...)}
		out = append(out, extLayer(name, o))
		b = b[n:]
	}
	if len(b) > 0 {
		out = append(out, NewRaw(b))
	}
	return out
}

func extLayer(name string, l *Layer) *Layer {
	l.ext = name
	return l
}
