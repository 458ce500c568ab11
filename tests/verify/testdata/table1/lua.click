// Arbitrary code (In-Net's x86 VM): an opaque Lua script.
FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> vm :: LuaElement(CODE "function push(p) return 0 end")
  -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth0);
