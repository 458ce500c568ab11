// A payload scrubber: UDP payloads are rewritten by a script.
in :: FromDevice(eth0);
out :: ToDevice(eth1);
in -> Strip(14) -> CheckIPHeader -> c :: IPClassifier(udp, -);
c[0] -> LuaElement(CODE "function push(p) return 0 end") -> e :: EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> out;
c[1] -> e;
