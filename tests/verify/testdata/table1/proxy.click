// Transparent proxy: intercepts web connections (tracked per flow) and
// relays them to their original destination with the client's address.
FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> c :: IPClassifier(tcp dst port 80, -);
c[0] -> conn :: TCPRewriter(keep 0 0) -> out :: Queue -> Unqueue -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth0);
c[1] -> out;
