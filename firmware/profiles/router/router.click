// Two-port IPv4 router (the layout of Click's make-ip-conf): ARP on both
// ports, TTL decrement, fragmentation, ICMP errors (time exceeded, needs
// fragmentation, net unreachable) sourced from the port the packet came
// in on, and ping replies for the router's own addresses.
//
// Variables come from boot.toml: $LAN and $WAN are the devices, with
// $X_IP, $X_MAC, $X_NET, $X_MTU and $X_METHOD each; $ROUTES adds routes.

in0 :: FromDevice($LAN, METHOD $LAN_METHOD);
in1 :: FromDevice($WAN, METHOD $WAN_METHOD);
out0 :: Queue(1024) -> tx0 :: ToDevice($LAN, METHOD $LAN_METHOD);
out1 :: Queue(1024) -> tx1 :: ToDevice($WAN, METHOD $WAN_METHOD);

// ARP requests, ARP replies, IPv4, other
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

// IP input: paint 1 = came in on LAN, 2 = on WAN.
ip :: Strip(14) -> CheckIPHeader -> rt :: StaticIPLookup(
    $LAN_IP/32 0, $WAN_IP/32 0, $LAN_NET 1, $WAN_NET 2, $ROUTES);
c0[2] -> Paint(1) -> ip;
c1[2] -> Paint(2) -> ip;

// Local delivery: answer pings, drop the rest.
rt[0] -> local :: IPClassifier(icmp type echo, -);
local[0] -> ICMPPingResponder -> rt;
local[1] -> Discard;

// Forwarding.
rt[1] -> dt0 :: DecIPTTL -> fr0 :: IPFragmenter($LAN_MTU) -> [0]arpq0;
rt[2] -> dt1 :: DecIPTTL -> fr1 :: IPFragmenter($WAN_MTU) -> [0]arpq1;

// ICMP errors, from the address of the port the packet arrived on.
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
