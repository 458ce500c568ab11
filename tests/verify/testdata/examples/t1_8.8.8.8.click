// Tunnel entry T1: encapsulates everything from the client to T2.
FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> IPEncap(ipip, 141.85.37.1, 8.8.8.8) -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth1);
