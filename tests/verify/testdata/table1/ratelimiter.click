// Rate limiter: delivers the tenant's traffic at a bounded rate.
FromDevice(eth0) -> Strip(14) -> CheckIPHeader
  -> to_client :: IPRewriter(pattern - - 172.16.15.133 - 0 0)
  -> Queue(100) -> TimedUnqueue(1, 10) -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth0);
