// tracebox station: the kernel owns the uplink (probes use its stack);
// the graph watches it. 'read rx.count' / 'show elements' in the shell.
FromDevice($UPLINK, METHOD $UPLINK_METHOD) -> rx :: Counter -> Discard;
