// Inline IDS/IPS: a two-port bump in the wire. Frames from $A leave on $B
// and the other way round, unchanged. IPv4 goes through a flow meter and
// a signature matcher; what matches a signature is an alert: counted,
// logged (rate-limited) and dropped. Non-IPv4 frames (ARP, ...) and IPv4
// with a bad header are bridged untouched, so the wire keeps working.

inA :: FromDevice($A, METHOD $A_METHOD, PROMISC true);
inB :: FromDevice($B, METHOD $B_METHOD, PROMISC true);
toA :: Queue(1024) -> ToDevice($A, METHOD $A_METHOD);
toB :: Queue(1024) -> ToDevice($B, METHOD $B_METHOD);

cA :: Classifier(12/0800, -);
cB :: Classifier(12/0800, -);
inA -> cA;
inB -> cB;
cA[1] -> toB;   // not IPv4: bridged as is
cB[1] -> toA;

// Paint = the port a frame came from; it picks the way out.
ipin :: CheckIPHeader(14);
cA[0] -> Paint(0) -> ipin;
cB[0] -> Paint(1) -> ipin;
ipin[1] -> bad :: PaintSwitch;  // bad IP header: not ours to judge
bad[0] -> toB;
bad[1] -> toA;

ipin -> flows :: FlowMeter($FLOW_TIMEOUT, $FLOW_CAPACITY)
     -> ids :: PatternMatch($SIGNATURES, LOG true)
     -> fwd :: PaintSwitch;
fwd[0] -> toB;
fwd[1] -> toA;

// Alerts: counted and dropped (an IPS). For an IDS that only watches,
// send them on instead: alerts -> fwd.
ids[1] -> alerts :: Counter -> Discard;
