// Package all links every element family into a binary.
package all

import (
	_ "flowbox/elements/arp"
	_ "flowbox/elements/classifier"
	_ "flowbox/elements/device"
	_ "flowbox/elements/enforcer"
	_ "flowbox/elements/ether"
	_ "flowbox/elements/icmp"
	_ "flowbox/elements/ids"
	_ "flowbox/elements/ip"
	_ "flowbox/elements/ipfrag"
	_ "flowbox/elements/iproute"
	_ "flowbox/elements/middlebox"
	_ "flowbox/elements/nat"
	_ "flowbox/elements/pcap"
	_ "flowbox/elements/standard"
)
