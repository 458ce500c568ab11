// SymNet Figure 3.3: A -> ISN-randomizing box -> B (a TCP responder); B's
// replies either come back through the box or bypass it.
a :: FromDevice(a0);
back :: ToDevice(a0);
isn :: ChangeSeq(DELTA 123456789);
a -> Strip(14) -> CheckIPHeader -> IPFilter(allow tcp syn and not ip frag and tcp[12:1] & 0xf0 >= 0x50, deny all) -> [0]isn;
isn[0] -> b :: TestTCPResponder -> t :: Tee(2);
t[0] -> [1]isn;
isn[1] -> via :: Paint(1) -> out :: Queue -> Unqueue -> EtherEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02) -> back;
t[1] -> bypass :: Paint(2) -> out;
