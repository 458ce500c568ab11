// flowbox embedded default configuration (firmware/default.click).
//
// Synthetic traffic, no NIC and no privileges needed: two sources feed a
// small firewall + NAT pipeline. `flowbox run` (and `make run`) runs this
// when no configuration is given; counters print every second.
//
//   good: UDP 10.0.0.1:1234 -> 192.0.2.10:80   (allowed, NATed)
//   bad:  TCP SYN 10.0.0.66:4444 -> 192.0.2.10:23 (telnet: denied)

define($RATE 20000, $BAD_RATE 2000)

good :: RatedSource(\<02000000 00020200 00000001 08004500 00300000 40004011 6eb20a00 0001c000 020a04d2 0050001c 4f76666c 6f77626f 782d6465 6d6f2d70 61796c6f 6164>, RATE $RATE);
bad  :: RatedSource(\<02000000 00020200 00000001 08004500 00280000 40004006 6e840a00 0042c000 020a115c 00170000 00010000 00005002 ffffd222 0000>, RATE $BAD_RATE);

good, bad -> rx :: Counter
    -> Strip(14)
    -> CheckIPHeader
    -> fw :: IPFilter(deny tcp dst port 23, allow udp, deny all)
    -> nat :: IPRewriter(pattern 198.51.100.1 1024-65535 - - 0 0)
    -> tx :: Counter
    -> Discard;
