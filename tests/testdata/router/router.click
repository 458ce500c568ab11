// A two-interface IPv4 router in the style of Click's fake-iprouter.click,
// fed from a pcap instead of devices so it runs anywhere.
//
//   eth0: 10.0.0.1/24  00:00:c0:ae:67:ef
//   eth1: 10.0.1.1/24  00:00:c0:4f:71:ef
//
// One input capture carries the frames of both links; a Classifier on the
// destination MAC (and ARP target) sorts them onto the two interfaces.
// Each interface's output goes to its own capture.
//
// Batching note: within one input batch the Classifiers hand packets on
// output by output, so order is kept per path but not across paths (as in
// FastClick). Here an ARP reply in the same batch as IP packets is learned
// before those packets are routed.

define($IN in.pcap, $OUT0 out0.pcap, $OUT1 out1.pcap)

src :: FromDump($IN, STOP true);
to0 :: ToDump($OUT0);
to1 :: ToDump($OUT1);
out0 :: Queue(1000) -> to0;
out1 :: Queue(1000) -> to1;

// Which link did a frame arrive on?
link :: Classifier(0/0000c0ae67ef, 12/0806 38/0a000001,   // eth0: to our MAC, or ARP for 10.0.0.1
                   0/0000c04f71ef, 12/0806 38/0a000101,   // eth1
                   -);
src -> link;
link[0], link[1] -> c0 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
link[2], link[3] -> c1 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
link[4] -> Discard;

// ARP: answer requests for our addresses, learn from replies.
c0[0] -> ARPResponder(10.0.0.1 00:00:c0:ae:67:ef) -> out0;
c1[0] -> ARPResponder(10.0.1.1 00:00:c0:4f:71:ef) -> out1;
arpq0 :: ARPQuerier(10.0.0.1, 00:00:c0:ae:67:ef) -> out0;
arpq1 :: ARPQuerier(10.0.1.1, 00:00:c0:4f:71:ef) -> out1;
c0[1] -> [1]arpq0;
c1[1] -> [1]arpq1;
c0[3], c1[3] -> Discard;

// IP input: strip Ethernet, check the header, route.
rt :: StaticIPLookup(10.0.0.1/32 0, 10.0.1.1/32 0, 10.0.0.0/24 1, 10.0.1.0/24 2);
c0[2], c1[2] -> Strip(14) -> chk :: CheckIPHeader -> rt;
chk[1] -> bad :: Counter -> Discard;

// Packets for the router itself: answer pings.
rt[0] -> ping :: ICMPPingResponder -> rt;
ping[1] -> Discard;

// Forwarding: TTL, fragmentation, ARP; errors back through routing.
rt[1] -> dt0 :: DecIPTTL -> fr0 :: IPFragmenter(1500) -> [0]arpq0;
rt[2] -> dt1 :: DecIPTTL -> fr1 :: IPFragmenter(1000) -> [0]arpq1;
dt0[1] -> ICMPError(10.0.0.1, timeexceeded) -> rt;
dt1[1] -> ICMPError(10.0.1.1, timeexceeded) -> rt;
fr0[1] -> ICMPError(10.0.0.1, unreachable, needfrag, MTU 1500) -> rt;
fr1[1] -> ICMPError(10.0.1.1, unreachable, needfrag, MTU 1000) -> rt;
