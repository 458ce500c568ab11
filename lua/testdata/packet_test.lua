-- Packet API coverage. Run by lua_test.go through luatest.RunFile.
-- Frames are Ethernet + IPv4 unless noted; offsets are 0-based.

function TestLengthAndBytes(t)
  local p = mk.frame{proto="udp", src="10.0.0.1", dst="10.0.0.2", sport=1000, dport=53, payload="abcd"}
  t:eq(p:len(), 14 + 20 + 8 + 4)
  t:eq(p:u16(12), 0x0800, "ethertype")
  t:eq(p:byte(14), 0x45, "version/ihl")
  t:eq(p:bytes(42, 4), "abcd")
  p:set_byte(42, string.byte("z"))
  t:eq(p:bytes(42, 1), "z")
  p:set_u16(43, 0x4142)
  t:eq(p:bytes(43, 2), "AB")
  p:set_u32(42, 0x31323334)
  t:eq(p:u32(42), 0x31323334)
  t:eq(p:hex(42, 4), "31323334")
  p:set_bytes(42, "wxyz")
  t:eq(p:bytes(42), "wxyz")
  t:raises(function() return p:byte(p:len()) end, "out of range")
  t:raises(function() return p:byte(-1) end, "out of range")
  t:raises(function() p:set_byte(0, 256) end, "out of range")
  t:raises(function() p:set_bytes(44, "toolong") end, "out of range")
  t:raises(function() return p.len() end, "packet or header expected")
end

function TestIPv4Getters(t)
  local p = mk.frame{proto="tcp", src="192.168.1.10", dst="8.8.4.4", ttl=17, tos=0x28, id=4321, sport=1, dport=2}
  local ip = p:ip()
  t:ok(ip ~= nil, "ip view")
  t:eq(ip:src(), "192.168.1.10")
  t:eq(ip:dst(), "8.8.4.4")
  t:eq(ip:proto(), PROTO.TCP)
  t:eq(ip:ttl(), 17)
  t:eq(ip:tos(), 0x28)
  t:eq(ip:id(), 4321)
  t:eq(ip:hlen(), 20)
  t:eq(ip:len(), 40)
  t:eq(ip:src_u32(), net.ip4("192.168.1.10"))
  t:eq(ip:dst_u32(), 8 * 2^24 + 8 * 2^16 + 4 * 256 + 4)
  t:ok(ip:checksum_ok())
  t:ok(not ip:is_fragment())
  t:eq(p:ip_offset(), 14)
  t:eq(p:l4_offset(), 34)
  t:eq(p:ip6(), nil)
end

function TestIPv4Setters(t)
  local p = mk.frame{proto="udp", src="10.1.2.3", dst="10.9.8.7", sport=5000, dport=6000, payload="hello"}
  local ip = p:ip()
  ip:set_src("172.16.0.1")
  ip:set_dst(net.ip4("172.16.0.2"))
  ip:set_ttl(3)
  ip:set_tos(0xb8)
  ip:set_id(7)
  t:eq(ip:src(), "172.16.0.1")
  t:eq(ip:dst(), "172.16.0.2")
  t:eq(ip:ttl(), 3)
  t:eq(ip:tos(), 0xb8)
  t:eq(ip:id(), 7)
  t:eq(ip:dec_ttl(), 2)
  t:ok(mk.verify(p))
  t:ok(ip:checksum_ok())
  t:ok(p:udp():checksum_ok())
  t:raises(function() ip:set_src("not-an-ip") end, "bad IPv4 address")
  t:raises(function() ip:set_ttl(300) end, "out of range")
end

function TestTCPAccessors(t)
  -- options: MSS 1460, NOP, WS 7, SACK-permitted, timestamps
  local opts = "\2\4\5\180" .. "\1" .. "\3\3\7" .. "\4\2" .. "\8\10\0\0\0\1\0\0\0\2"
  local p = mk.frame{proto="tcp", src="1.1.1.1", dst="2.2.2.2", sport=40000, dport=443,
                     flags=TCP.SYN, seq=4000000000, ack=12345, win=1024, options=opts, payload="xyz"}
  local tcp = p:tcp()
  t:ok(tcp ~= nil)
  t:eq(p:udp(), nil)
  t:eq(p:icmp(), nil)
  t:eq(tcp:sport(), 40000)
  t:eq(tcp:dport(), 443)
  t:eq(tcp:flags(), TCP.SYN)
  t:ok(tcp:has_flags(TCP.SYN))
  t:ok(not tcp:has_flags(TCP.SYN + TCP.ACK))
  t:eq(tcp:seq(), 4000000000)
  t:eq(tcp:ack(), 12345)
  t:eq(tcp:win(), 1024)
  t:eq(tcp:hlen(), 20 + 20)
  t:eq(tcp:mss(), 1460)
  t:eq(tcp:wscale(), 7)
  t:ok(tcp:sack_permitted())
  local tsval, tsecr = tcp:timestamps()
  t:eq(tsval, 1)
  t:eq(tsecr, 2)
  t:eq(tcp:option(2), "\5\180")
  t:ok(tcp:has_option(3))
  t:ok(not tcp:has_option(30))
  t:eq(tcp:option(30), nil)
  local list = tcp:options()
  t:eq(#list, 4)
  t:eq(list[1].kind, 2)
  t:eq(list[4].kind, 8)
  t:eq(list[4].len, 10)
  t:eq(tcp:payload_offset(), 14 + 20 + 40)
  t:eq(tcp:payload_len(), 3)
  t:eq(p:payload_offset(), 74)
  t:eq(p:bytes(tcp:payload_offset(), tcp:payload_len()), "xyz")
  t:ok(tcp:checksum_ok())
end

function TestTCPSetters(t)
  local p = mk.frame{proto="tcp", src="1.1.1.1", dst="2.2.2.2", sport=1234, dport=80, flags=TCP.ACK,
                     seq=100, ack=200, options="\2\4\5\180", payload="data!"}
  local tcp = p:tcp()
  tcp:set_sport(4321)
  tcp:set_dport(8080)
  tcp:set_seq(0xfffffff0)
  tcp:set_ack(7)
  tcp:set_flags(TCP.ACK + TCP.PSH)
  tcp:set_win(999)
  t:ok(tcp:set_mss(1400))
  p:ip():set_src("9.9.9.9")
  t:eq(tcp:sport(), 4321)
  t:eq(tcp:dport(), 8080)
  t:eq(tcp:seq(), 0xfffffff0)
  t:eq(tcp:ack(), 7)
  t:eq(tcp:flags(), TCP.ACK + TCP.PSH)
  t:eq(tcp:win(), 999)
  t:eq(tcp:mss(), 1400)
  t:ok(mk.verify(p))
  local q = mk.frame{proto="tcp", sport=1, dport=2}
  t:eq(q:tcp():set_mss(1000), false, "no MSS option")
end

function TestUDP(t)
  local p = mk.frame{proto="udp", sport=5353, dport=53, payload="q"}
  local u = p:udp()
  t:ok(u ~= nil)
  t:eq(p:tcp(), nil)
  t:eq(u:sport(), 5353)
  t:eq(u:dport(), 53)
  t:eq(u:len(), 9)
  t:eq(u:payload_offset(), 42)
  t:eq(u:payload_len(), 1)
  u:set_sport(1)
  u:set_dport(65535)
  t:eq(u:sport(), 1)
  t:eq(u:dport(), 65535)
  t:ok(u:checksum_ok())
  t:ok(mk.verify(p))
  -- a zero UDP checksum means "none" and must stay zero
  local z = mk.frame{proto="udp", sport=7, dport=9, no_udp_checksum=true}
  z:udp():set_dport(10)
  z:ip():set_dst("10.0.0.99")
  t:eq(z:udp():checksum(), 0)
  t:ok(mk.verify(z))
end

function TestICMP(t)
  local p = mk.frame{proto="icmp", icmp_type=8, icmp_code=0, icmp_id=77, icmp_seq=3}
  local c = p:icmp()
  t:ok(c ~= nil)
  t:eq(c:type(), 8)
  t:eq(c:code(), 0)
  t:eq(c:id(), 77)
  t:eq(c:seq(), 3)
  c:set_type(0)
  c:set_code(0)
  p:ip():set_src("10.10.10.10") -- no pseudo-header for ICMPv4
  t:eq(c:type(), 0)
  t:ok(c:checksum_ok())
  t:ok(mk.verify(p))
end

function TestIPv6(t)
  local p = mk.frame{proto="udp", src="2001:db8::1", dst="2001:db8::2", ttl=9, tos=0x20, sport=1, dport=2, payload="six"}
  t:eq(p:ip(), nil, "ip() is IPv4 only")
  local ip6 = p:ip6()
  t:ok(ip6 ~= nil)
  t:eq(ip6:src(), "2001:db8::1")
  t:eq(ip6:dst(), "2001:db8::2")
  t:eq(ip6:proto(), PROTO.UDP)
  t:eq(ip6:hop_limit(), 9)
  t:eq(ip6:tclass(), 0x20)
  t:eq(ip6:plen(), 11)
  t:ok(ip6:src_in(net.prefix("2001:db8::/32")))
  t:ok(not ip6:dst_in("2001:db9::/32"))
  ip6:set_src("2001:db8:ffff::42")
  ip6:set_hop_limit(1)
  ip6:set_tclass(0xb8)
  p:udp():set_dport(4444)
  t:eq(ip6:src(), "2001:db8:ffff::42")
  t:eq(ip6:ttl(), 1)
  t:eq(ip6:tclass(), 0xb8)
  t:ok(p:udp():checksum_ok())
  t:ok(mk.verify(p))
  local q = mk.frame{proto="icmp6", src="fe80::1", dst="ff02::1", icmp_type=135}
  t:eq(q:icmp():type(), 135)
  q:ip6():set_dst("ff02::2")
  t:ok(mk.verify(q), "ICMPv6 pseudo-header update")
end

function TestIPv6ExtensionHeaders(t)
  -- hop-by-hop, routing and destination options before TCP
  local p = mk.frame{proto="tcp", src="2001:db8::1", dst="2001:db8::2", sport=1234, dport=443,
                     flags=TCP.SYN, ext6={"hop", "routing", "dest"}}
  local ip6 = p:ip6()
  t:eq(ip6:proto(), 0, "proto() is the IPv6 header's next header (hop-by-hop)")
  t:eq(p:l4_offset(), 14 + 40 + 24)
  local tc = p:tcp()
  t:ok(tc ~= nil, "TCP found behind three extension headers")
  t:eq(tc:dport(), 443)
  t:ok(tc:has_flags(TCP.SYN))
  t:eq(p:payload_offset(), 14 + 40 + 24 + 20)
  t:ok(tc:checksum_ok())
  tc:set_dport(8443)
  ip6:set_src("2001:db8::99")
  t:eq(p:tcp():dport(), 8443)
  t:ok(p:tcp():checksum_ok())
  t:ok(mk.verify(p))

  -- UDP behind destination options; ports rewritten, checksum kept
  local u = mk.frame{proto="udp", src="2001:db8::1", dst="2001:db8::2", sport=5000, dport=53,
                     payload="query", ext6={"dest"}}
  t:eq(u:udp():dport(), 53)
  t:eq(u:udp():payload_len(), 5)
  u:udp():set_sport(6000)
  t:ok(mk.verify(u))
  u:fix_checksums()
  t:ok(mk.verify(u), "fix_checksums over extension headers")
  t:eq(u:tcp(), nil)

  -- ICMPv6 behind hop-by-hop (MLD-style)
  local m = mk.frame{proto="icmp6", src="fe80::1", dst="ff02::16", icmp_type=143, ext6={"hop"}}
  t:eq(m:icmp():type(), 143)
  t:ok(m:icmp():checksum_ok())
end

function TestIPv6Fragments(t)
  -- first fragment (offset 0, more fragments): the transport header is there
  local f1 = mk.frame{proto="udp", src="2001:db8::1", dst="2001:db8::2", sport=7, dport=4789,
                      payload="first part", ext6={"hop", "frag"}, mf=true, id=77}
  t:ok(f1:udp() ~= nil, "first fragment: UDP header visible")
  t:eq(f1:udp():dport(), 4789)
  -- a later fragment has no transport header
  local f2 = mk.frame{proto="udp", src="2001:db8::1", dst="2001:db8::2", sport=7, dport=4789,
                      payload="second part", ext6={"frag"}, frag_offset=2, id=77}
  t:eq(f2:udp(), nil, "non-first fragment: no UDP view")
  t:eq(f2:l4_offset(), nil)
  t:ok(f2:ip6() ~= nil)
  -- an atomic fragment (offset 0, no more fragments) is a whole datagram
  local a = mk.frame{proto="tcp", src="2001:db8::1", dst="2001:db8::2", sport=1, dport=22, ext6={"frag"}}
  t:eq(a:tcp():dport(), 22)
  t:ok(a:tcp():checksum_ok())
  a:fix_checksums()
  t:ok(mk.verify(a))
end

function TestIPv6RoutingHeaderPseudoHeader(t)
  -- SRH with segments left: the checksum's pseudo-header uses the final
  -- segment, not the IPv6 destination (RFC 8200 8.1)
  local p = mk.frame{proto="udp", src="2001:db8::1", dst="2001:db8:1::1", sport=1, dport=2,
                     payload="sr", ext6={"routing"}, route6="2001:db8:2::2"}
  t:eq(p:udp():dport(), 2)
  t:ok(p:udp():checksum_ok(), "checksum over the final destination")
  t:ok(mk.verify(p))
  -- the next segment changes: the transport checksum must not
  local before = p:udp():checksum()
  p:ip6():set_dst("2001:db8:1::5")
  t:eq(p:udp():checksum(), before)
  t:ok(p:udp():checksum_ok())
  p:ip6():set_src("2001:db8::7")
  t:ok(p:udp():checksum_ok())
  p:fix_checksums()
  t:ok(mk.verify(p))
end

function TestIPv6MalformedExtension(t)
  -- hop-by-hop header claiming more bytes than the payload: no transport
  local p = mk.frame{proto="udp", src="2001:db8::1", dst="2001:db8::2", sport=1, dport=2, ext6={"hop"}}
  p:set_byte(14 + 40 + 1, 200)
  t:eq(p:udp(), nil)
  t:ok(p:ip6() ~= nil)
end

function TestEthernetAndVLAN(t)
  local p = mk.frame{proto="udp", vlan=100, sport=1, dport=2}
  local e = p:eth()
  t:eq(e:type(), 0x8100)
  t:eq(e:src(), "02:00:00:00:00:01")
  t:eq(e:dst(), "02:00:00:00:00:02")
  e:set_dst("aa:bb:cc:dd:ee:ff")
  t:eq(e:dst(), "aa:bb:cc:dd:ee:ff")
  e:set_src("00:11:22:33:44:55")
  t:eq(e:src(), "00:11:22:33:44:55")
  t:eq(p:ip_offset(), 18, "IP found behind the VLAN tag")
  t:eq(p:udp():dport(), 2)
  t:raises(function() e:set_src("zz") end, "bad Ethernet address")
end

function TestIPAnnotationWithoutEthernet(t)
  local p = mk.frame{proto="tcp", src="3.3.3.3", dst="4.4.4.4", sport=9, dport=10, ip_only=true}
  t:eq(p:ip_offset(), 0)
  t:eq(p:ip():src(), "3.3.3.3")
  t:eq(p:tcp():dport(), 10)
  t:eq(p:eth(), nil)
end

function TestNonIP(t)
  -- an ARP frame: no IP view at all
  local p = mk.raw("ffffffffffff020000000001 0806 0001080006040001")
  t:eq(p:ip(), nil)
  t:eq(p:ip6(), nil)
  t:eq(p:tcp(), nil)
  t:eq(p:udp(), nil)
  t:eq(p:ip_offset(), nil)
  t:eq(p:len(), 22)
end

function TestTruncatedAndFragments(t)
  -- IPv4 header claims TCP but the segment is cut short: no tcp view
  local p = mk.frame{proto="tcp", sport=1, dport=2}
  local short = mk.raw(string.sub(mk.hex(p), 1, (14 + 20 + 10) * 2))
  t:ok(short:ip() ~= nil)
  t:eq(short:tcp(), nil)
  -- a non-first fragment has no transport header
  local f = mk.frame{proto="udp", sport=1, dport=2, frag_offset=10}
  t:ok(f:ip():is_fragment())
  t:eq(f:udp(), nil)
  local ff = mk.frame{proto="udp", sport=1, dport=2, mf=true}
  t:ok(ff:udp() ~= nil, "first fragment keeps its header")
end

function TestAnnotations(t)
  local p = mk.frame{proto="udp", sport=1, dport=2}
  t:eq(p:paint(), 0)
  p:set_paint(7)
  t:eq(p:paint(), 7)
  p:set_flow_hash(0xdeadbeef)
  t:eq(p:flow_hash(), 0xdeadbeef)
  for i = 0, 3 do p:set_user(i, 1000 + i) end
  t:eq(p:user(3), 1003)
  t:raises(function() p:user(4) end, "out of range")
  -- lua/README.md: values < 2^53 (exact in a Lua number)
  p:set_user(0, 2^53 - 1)
  t:eq(p:user(0), 2^53 - 1)
  t:raises(function() p:set_user(0, 2^53) end, "out of range")
  t:raises(function() p:set_user(0, -1) end, "out of range")
  p:set_dst_anno("10.0.0.254")
  t:eq(p:dst_anno(), "10.0.0.254")
  t:eq(p:inport(), 0)
  t:eq(p:timestamp(), 0)
  t:raises(function() p:set_paint(256) end, "out of range")
end

function TestVerdictAndClone(t)
  local p = mk.frame{proto="udp", sport=1, dport=2}
  t:eq(p:verdict(), 0)
  p:send(3)
  t:eq(p:verdict(), 3)
  p:drop()
  t:eq(p:verdict(), nil)
  local c = p:clone()
  t:eq(c:len(), p:len())
  t:eq(c:verdict(), 0)
  c:ip():set_dst("10.0.0.200") -- copy-on-write: the original is untouched
  t:eq(c:ip():dst(), "10.0.0.200")
  t:eq(p:ip():dst(), "10.0.0.2")
  t:ok(mk.verify(c))
end

function TestFixChecksums(t)
  local p = mk.frame{proto="tcp", sport=1, dport=2, payload="abc"}
  local off = p:tcp():payload_offset()
  p:set_bytes(off, "XYZ")         -- raw edit: checksums now stale
  t:ok(not mk.verify(p))
  p:fix_checksums()
  t:ok(mk.verify(p))
  p:set_byte(14 + 8, 1)           -- TTL via raw byte
  t:ok(not p:ip():checksum_ok())
  p:fix_checksums()
  t:ok(p:ip():checksum_ok())
end

function TestNetHelpers(t)
  local pfx = net.prefix("10.0.0.0/8")
  t:ok(pfx:contains("10.20.30.40"))
  t:ok(not pfx:contains("11.0.0.1"))
  t:ok(pfx:contains(net.ip4("10.0.0.1")))
  t:eq(pfx:bits(), 8)
  t:eq(pfx:addr(), "10.0.0.0")
  t:eq(tostring(pfx), "10.0.0.0/8")
  t:eq(net.ntoa(net.ip4("1.2.3.4")), "1.2.3.4")
  t:ok(net.valid("::1"))
  t:ok(not net.valid("1.2.3"))
  t:eq(tostring(net.prefix("18.26.4/24")), "18.26.4.0/24", "Click short form")
  local p = mk.frame{proto="udp", src="10.1.1.1", dst="192.168.0.1", sport=1, dport=2}
  t:ok(p:ip():src_in(pfx))
  t:ok(not p:ip():dst_in(pfx))
  t:ok(p:ip():dst_in("192.168.0.0/16"))
  t:raises(function() net.prefix("nope") end, "bad prefix")
end

function TestCountersAndLog(t)
  local c = counter("hits")
  c:inc()
  c:inc(4)
  t:eq(c:get(), 5)
  t:eq(counter("hits"):get(), 5, "same counter by name")
  c:reset()
  t:eq(c:get(), 0)
  log.info("hello", 1, true)
  print("print goes to the log")
  t:ok(type(now()) == "number" and now() > 1e9)
end
