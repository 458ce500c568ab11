package ipexpr

// Well-known names accepted in patterns (the lists of Click's IPClassifier).

var portNames = map[string]uint32{
	"echo": 7, "discard": 9, "daytime": 13, "chargen": 19, "ftp-data": 20,
	"ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "dns": 53,
	"bootps": 67, "bootpc": 68, "tftp": 69, "finger": 79, "www": 80,
	"pop3": 110, "sunrpc": 111, "auth": 113, "nntp": 119, "ntp": 123,
	"netbios-ns": 137, "netbios-dgm": 138, "netbios-ssn": 139, "snmp": 161,
	"snmp-trap": 162, "irc": 194, "imap3": 220, "https": 443, "rip": 520,
	"route": 520, "imaps": 993, "pop3s": 995,
}

var protoNames = map[string]uint32{"icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "udp": 17}

var icmpTypeNames = map[string]uint32{
	"echo-reply": 0, "unreachable": 3, "sourcequench": 4, "redirect": 5,
	"echo": 8, "routeradvert": 9, "routersolicit": 10, "timeexceeded": 11,
	"parameterproblem": 12, "timestamp": 13, "timestamp-reply": 14,
	"inforeq": 15, "inforeq-reply": 16, "maskreq": 17, "maskreq-reply": 18,
}

var tcpOptNames = map[string]uint32{"fin": 0x01, "syn": 0x02, "rst": 0x04, "psh": 0x08, "ack": 0x10, "urg": 0x20}
