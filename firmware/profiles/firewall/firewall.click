// Stateful routing firewall: the router (../router/router.click) with
// IPFilter($RULES) on LAN -> WAN traffic and a flow table (IPRewriter with
// identity mappings, 'keep') that lets replies of allowed TCP/UDP flows
// back in. From the WAN, only those replies and ICMP echo replies and
// errors reach the LAN; the box answers pings on both addresses.

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

rt[0] -> local :: IPClassifier(icmp type echo, -);
local[0] -> ICMPPingResponder -> rt;
local[1] -> Discard;

// Flow table: input 0 installs an identity mapping for allowed LAN flows
// (forward -> output 0, replies -> output 1); input 1 passes only replies.
state :: IPRewriter(keep 0 1, drop);
dt1 :: DecIPTTL -> fr1 :: IPFragmenter($WAN_MTU) -> [0]arpq1;
dt0 :: DecIPTTL -> fr0 :: IPFragmenter($LAN_MTU) -> [0]arpq0;
state[0] -> dt1;
state[1] -> dt0;

// LAN -> WAN through the rules.
rt[2] -> towan :: PaintSwitch;
towan[0] -> dt1;
towan[2] -> dt1;
towan[1] -> fw :: IPFilter($RULES) -> proto :: IPClassifier(tcp or udp, -);
proto[0] -> [0]state;
proto[1] -> dt1;

// WAN -> LAN: replies of known flows; ICMP echo replies and errors.
rt[1] -> tolan :: PaintSwitch;
tolan[0] -> dt0;
tolan[1] -> dt0;
tolan[2] -> inbound :: IPClassifier(tcp or udp, icmp type echo-reply, icmp type 3, icmp type 11, -);
inbound[0] -> [1]state;
inbound[1] -> dt0;
inbound[2] -> dt0;
inbound[3] -> dt0;
inbound[4] -> blocked :: Counter -> Discard;

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
