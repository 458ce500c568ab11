// SymNet §3.1.5 enterprise network: client -> stateful firewall -> proxy
// -> server; the server's replies are routed to the proxy only when they
// are addressed to it.
c :: FromDevice(c0);
back :: ToDevice(c0);
fw :: IPRewriter(keep 0 1, drop);
proxy :: IPRewriter(pattern - - 198.51.100.7 80 0 1, drop);
c -> Strip(14) -> CheckIPHeader -> [0]fw;
fw[0] -> [0]proxy;
proxy[0] -> server :: IPMirror -> rt :: LinearIPLookup(192.0.2.10/32 0, 0.0.0.0/0 1);
rt[0] -> [1]proxy;
rt[1] -> [1]fw;
proxy[1] -> [1]fw;
fw[1] -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> back;
