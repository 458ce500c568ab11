// A server answering whoever asks (SymNet's response rule).
FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> IPFilter(allow dst host 198.51.100.7, deny all) -> IPMirror -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth0);
