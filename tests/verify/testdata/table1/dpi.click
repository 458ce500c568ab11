// DPI: inspects web traffic (counted separately), forwards everything unchanged.
FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> c :: IPClassifier(tcp dst port 80 and tcp opt psh, -);
c[0] -> web :: Counter -> out :: Queue -> Unqueue -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> ToDevice(eth0);
c[1] -> other :: Counter -> out;
