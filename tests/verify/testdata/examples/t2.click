// Tunnel exit T2: decapsulates and sends the inner packet on.
FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> IPClassifier(ip proto 4) -> StripIPHeader -> CheckIPHeader -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth1);
