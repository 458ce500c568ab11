// Flow meter: measures the tenant's traffic, then delivers it to the tenant.
FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> meter :: AverageCounter
  -> to_client :: IPRewriter(pattern - - 172.16.15.133 - 0 0) -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth0);
