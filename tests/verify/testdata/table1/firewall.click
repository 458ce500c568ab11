// Firewall: only UDP to port 1500 reaches the tenant (In-Net Figure 4).
FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> IPFilter(allow udp dst port 1500, deny all)
  -> to_client :: IPRewriter(pattern - - 172.16.15.133 - 0 0) -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth0);
