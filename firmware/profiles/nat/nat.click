// NAT gateway: the router (../router/router.click) plus IPRewriter NAPT
// with ICMP. TCP and UDP from the LAN leave from $WAN_IP with a port in
// 1024-65535; replies are translated back. Pings from the LAN leave from
// $WAN_IP with a translated echo identifier (ICMPPingRewriter); their
// replies are translated back. ICMP errors about translated flows (time
// exceeded, port unreachable, needs fragmentation from beyond the WAN or
// from the box itself) are rewritten by ICMPRewriter so they reach the LAN
// host, and LAN hosts' errors about translated replies reach the WAN peer.
// The WAN cannot open connections to LAN hosts. The box answers pings on
// both addresses and sends ICMP errors (time exceeded, needs
// fragmentation, net unreachable).

in0 :: FromDevice($LAN, METHOD $LAN_METHOD);
in1 :: FromDevice($WAN, METHOD $WAN_METHOD);
out0 :: Queue(1024) -> tx0 :: ToDevice($LAN, METHOD $LAN_METHOD);
out1 :: Queue(1024) -> tx1 :: ToDevice($WAN, METHOD $WAN_METHOD);

c0 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
c1 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
in0 -> c0;
in1 -> c1;

arpq0 :: ARPQuerier($LAN_IP, $LAN_MAC) -> out0;
arpq1 :: ARPQuerier($WAN_IP, $WAN_MAC) -> out1;
c0[0] -> ARPResponder($LAN_IP $LAN_MAC) -> out0;
c1[0] -> ARPResponder($WAN_IP $WAN_MAC) -> out1;
c0[1] -> [1]arpq0;
c1[1] -> [1]arpq1;
c0[3] -> Discard;
c1[3] -> Discard;

ip :: Strip(14) -> CheckIPHeader -> rt :: StaticIPLookup(
    $LAN_IP/32 0, $WAN_IP/32 0, $LAN_NET 1, $WAN_NET 2, $ROUTES);
c0[2] -> Paint(1) -> ip;
c1[2] -> Paint(2) -> ip;

// Input 0: new flows from the LAN get a WAN address and port (output 0).
// Input 1: packets to $WAN_IP; replies of known flows are translated back
// (output 1), anything else is dropped.
nat :: IPRewriter(pattern $WAN_IP 1024-65535 - - 0 1, drop);
// The same for ICMP echo: the identifier plays the source port.
ping :: ICMPPingRewriter(pattern $WAN_IP 1024-65535 - - 0 1, drop);
// ICMP errors about translated flows, mapped back through both tables:
// icmpin for errors addressed to $WAN_IP (to the LAN host), icmpout for
// LAN hosts' errors about translated replies (to the WAN peer).
icmpin :: ICMPRewriter(nat ping);
icmpout :: ICMPRewriter(nat ping);

// Local delivery: pings answered, TCP/UDP replies to translated flows,
// echo replies to translated pings, ICMP errors about translated flows.
rt[0] -> local :: IPClassifier(icmp type echo, tcp or udp, icmp type echo-reply,
    icmp type unreachable or icmp type timeexceeded or icmp type parameterproblem or icmp type sourcequench, -);
local[0] -> ICMPPingResponder -> rt;
local[1] -> [1]nat;
local[2] -> [1]ping;
local[3] -> icmpin;
local[4] -> Discard;

// LAN -> WAN: TCP, UDP and pings from the LAN are translated, LAN hosts'
// ICMP errors about translated replies too; the rest leaves as is only
// when it is the box's own (ICMP errors and ping replies, paint 0/2).
nat[0] -> dt1 :: DecIPTTL -> fr1 :: IPFragmenter($WAN_MTU) -> [0]arpq1;
ping[0] -> dt1;
rt[2] -> towan :: PaintSwitch;
towan[0] -> dt1;
towan[2] -> dt1;
towan[1] -> lanout :: IPClassifier(tcp or udp, icmp type echo,
    icmp type unreachable or icmp type timeexceeded or icmp type parameterproblem or icmp type sourcequench, -);
lanout[0] -> [0]nat;
lanout[1] -> [0]ping;
lanout[2] -> icmpout -> dt1;
icmpout[1] -> Discard;
lanout[3] -> Discard;

// WAN -> LAN: only translated replies (and the box's own packets).
nat[1] -> dt0 :: DecIPTTL -> fr0 :: IPFragmenter($LAN_MTU) -> [0]arpq0;
ping[1] -> dt0;
icmpin[0] -> dt0;       // errors now addressed to the LAN host
icmpin[1] -> Discard;   // errors about the box's own packets
rt[1] -> tolan :: PaintSwitch;
tolan[0] -> dt0;
tolan[1] -> dt0;
tolan[2] -> Discard;

ttl :: PaintSwitch;
dt0[1] -> ttl;
dt1[1] -> ttl;
ttl[0] -> Discard;
ttl[1] -> ICMPError($LAN_IP, timeexceeded) -> rt;
ttl[2] -> ICMPError($WAN_IP, timeexceeded) -> rt;

frag :: PaintSwitch;
fr0[1] -> frag;
fr1[1] -> frag;
frag[0] -> Discard;
frag[1] -> ICMPError($LAN_IP, unreachable, needfrag) -> rt;
frag[2] -> ICMPError($WAN_IP, unreachable, needfrag) -> rt;

unreach :: PaintSwitch;
rt[3] -> unreach;
unreach[0] -> Discard;
unreach[1] -> ICMPError($LAN_IP, unreachable, net) -> rt;
unreach[2] -> ICMPError($WAN_IP, unreachable, net) -> rt;
