// A firewall that lets UDP through unchanged (but decrements the TTL).
in :: FromDevice(eth0);
out :: ToDevice(eth1);
in -> Strip(14) -> CheckIPHeader -> IPFilter(allow udp, deny all) -> DecIPTTL
   -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> out;
