// Tunnel endpoint: decapsulates IP-in-IP and sends the inner packet on,
// from the module's address; the destination is only known at run time.
FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> IPClassifier(ip proto 4) -> StripIPHeader
  -> CheckIPHeader -> egress :: IPRewriter(pattern 10.10.0.5 1024-65535 - - 0 0) -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth0);
