// DNS server (stock module, abstracted): answers queries to whoever asked.
FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> IPFilter(allow udp dst port 53, deny all)
  -> answer :: IPMirror -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth0);
