// Multicast: duplicates the tenant's stream to two of its hosts.
FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> IPFilter(allow udp, deny all) -> t :: Tee(2);
t[0] -> IPRewriter(pattern - - 172.16.15.133 - 0 0) -> out :: Queue -> Unqueue -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth0);
t[1] -> IPRewriter(pattern - - 172.16.15.134 - 0 0) -> out;
