// Reverse proxy (stock module, abstracted): relays requests to the
// tenant's web server from the module's own address.
FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> IPFilter(allow tcp dst port 80, deny all)
  -> relay :: TCPRewriter(pattern 10.10.0.5 1024-65535 172.16.15.133 80 0 0) -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth0);
