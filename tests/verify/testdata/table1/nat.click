// NAT: rewrites the source to the NAT's public address and a fresh port.
FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> nat :: IPRewriter(pattern 192.0.2.1 1024-65535 - - 0 1);
nat[0] -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth0);
nat[1] -> Discard;
