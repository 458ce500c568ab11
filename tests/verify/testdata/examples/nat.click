// A NAT: clients behind eth0 share 192.0.2.1; only replies come back in.
FromDevice(in) -> Strip(14) -> CheckIPHeader -> [0]nat :: IPRewriter(pattern 192.0.2.1 1024-65535 - - 0 1, drop);
FromDevice(out) -> Strip(14) -> CheckIPHeader -> [1]nat;
nat[0] -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(out);
nat[1] -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(in);
