// Package ether holds the Ethernet header elements EtherEncap, EtherMirror
// and EtherRewrite (Click's elements/ethernet), working on whole batches
// without allocating.
package ether

import (
	"fmt"
	"net"

	"flowbox/appliance/core"
)

// headerLen is the length of an Ethernet II header.
const headerLen = 14

// macValue parses an Ethernet address into dst.
func macValue(dst *[6]byte) core.Value { return core.Ether(dst) }

func formatMAC(m [6]byte) string { return net.HardwareAddr(m[:]).String() }

// etherTypeValue parses a 16-bit ethertype given in host order (0x0800).
func etherTypeValue(dst *uint16) core.Value {
	return func(s string) error {
		if err := core.Uint16(dst)(s); err != nil {
			return fmt.Errorf("expected ethertype, got %q", s)
		}
		return nil
	}
}
