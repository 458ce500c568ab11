// IP router: forwards by destination, decrementing the TTL.
in :: FromDevice(eth0);
in -> Strip(14) -> CheckIPHeader -> rt :: RadixIPLookup(10.0.0.0/8 0, 0.0.0.0/0 192.0.2.254 1);
rt[0] -> DecIPTTL -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth0);
rt[1] -> DecIPTTL -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth1);
