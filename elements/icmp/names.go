// Package icmp holds ICMPError and ICMPPingResponder (Click's elements/icmp).
package icmp

import (
	"fmt"
	"strconv"
	"strings"

	"flowbox/appliance/proto"
)

// typeNames are Click's ICMP type names.
var typeNames = map[string]uint8{
	"echo-reply": 0, "unreachable": 3, "sourcequench": 4, "redirect": 5, "echo": 8,
	"routeradvert": 9, "routersolicit": 10, "timeexceeded": 11, "parameterproblem": 12,
	"timestamp": 13, "timestamp-reply": 14, "inforeq": 15, "inforeq-reply": 16,
	"maskreq": 17, "maskreq-reply": 18,
}

// codeNames are Click's code names per error type.
var codeNames = map[uint8]map[string]uint8{
	proto.ICMPUnreachable: {
		"net": 0, "host": 1, "protocol": 2, "port": 3, "needfrag": 4, "srcroutefail": 5,
		"net-unknown": 6, "host-unknown": 7, "isolated": 8, "net-prohibited": 9,
		"host-prohibited": 10, "tos-net": 11, "tos-host": 12, "filterprohibited": 13,
		"host-precedence": 14, "precedence-cutoff": 15,
	},
	proto.ICMPRedirect:     {"net": 0, "host": 1, "tos-net": 2, "tos-host": 3},
	proto.ICMPTimeExceeded: {"transit": 0, "reassembly": 1},
	proto.ICMPParamProblem: {"erroratptr": 0, "missingopt": 1, "length": 2},
}

// isErrorType reports whether t is an ICMP error message type; ICMP errors
// are never answered with ICMP errors (RFC 1122 3.2.2).
func isErrorType(t uint8) bool {
	switch t {
	case proto.ICMPUnreachable, proto.ICMPSourceQuench, proto.ICMPRedirect,
		proto.ICMPTimeExceeded, proto.ICMPParamProblem:
		return true
	}
	return false
}

// parseType parses an ICMP type by name or number.
func parseType(s string) (uint8, error) {
	if v, ok := typeNames[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.ParseUint(s, 0, 8)
	if err != nil {
		return 0, fmt.Errorf("unknown ICMP type %q", s)
	}
	return uint8(v), nil
}

// parseCode parses an ICMP code for type t by name or number.
func parseCode(t uint8, s string) (uint8, error) {
	if v, ok := codeNames[t][strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.ParseUint(s, 0, 8)
	if err != nil {
		return 0, fmt.Errorf("unknown code %q for ICMP type %d", s, t)
	}
	return uint8(v), nil
}
