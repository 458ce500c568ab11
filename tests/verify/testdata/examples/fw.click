// The operator's firewall forbids the public resolver 8.8.8.8.
FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> IPFilter(deny dst host 8.8.8.8, allow all) -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth1);
