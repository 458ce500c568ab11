package tracebox

import (
	"errors"
	"net/netip"
)

// Fragment splits an IPv4 probe into IP fragments carrying at most size
// bytes of payload each (rounded down to a multiple of 8, at least 8).
// Every fragment is an IP layer (a copy of p's, with the protocol, the MF
// flag and the fragment offset set; IP options only in the first one)
// followed by a Raw layer with its slice of the crafted payload, so
// tracebox sends it as is. The transport checksum inside the payload is
// computed with p's addresses; unset ones count as 0.0.0.0 (fine for
// tracing, where no host reassembles the probe).
func Fragment(p *Packet, size int) ([]*Packet, error) {
	n := p.Net()
	if n == nil || n.Kind != KIP {
		return nil, errors.New("fragment: only IPv4 packets can be fragmented")
	}
	size &^= 7
	if size < 8 {
		size = 8
	}
	c := p.Clone()
	cn := c.Net()
	for _, i := range []int{ipSrc, ipDst} {
		if !cn.F[i].A.Is4() {
			cn.F[i].A = netip.IPv4Unspecified()
		}
	}
	b, err := Craft(c, 0)
	if err != nil {
		return nil, err
	}
	hl := int(b[0]&0xf) * 4
	payload := b[hl:]
	var opts []*Layer
	for i, l := range p.Layers {
		if l == n {
			for _, o := range p.Layers[i+1:] {
				if o.Kind != KIPOpt {
					break
				}
				opts = append(opts, o.Clone())
			}
			break
		}
	}
	var out []*Packet
	baseOff := int(n.F[ipFragOff].V)
	moreAfter := n.F[ipFlags].V&1 != 0
	for off := 0; off < len(payload) || off == 0; off += size {
		end := min(off+size, len(payload))
		ip := n.Clone()
		ip.setV(ipProto, uint64(b[9]))
		ip.setV(ipFragOff, uint64(baseOff+off/8))
		fl := n.F[ipFlags].V &^ 1
		if end < len(payload) || moreAfter {
			fl |= 1
		}
		ip.setV(ipFlags, fl)
		f := &Packet{Layers: []*Layer{ip}}
		if off == 0 {
			f.Layers = append(f.Layers, opts...)
		}
		f.Layers = append(f.Layers, NewRaw(payload[off:end]))
		out = append(out, f)
		if end == len(payload) {
			break
		}
	}
	return out, nil
}
