import assert from "node:assert/strict";
import {
  D_ARP_OP,
  D_ARP_SPA,
  D_ARP_THA_HI,
  D_ARP_THA_LO,
  D_ARP_TPA,
  D_DST_PORT,
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ICMP_CODE,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_IP_DST,
  D_IP_FRAG,
  D_IP_ID,
  D_IP_PROTO,
  D_IP_SRC,
  D_IP_TTL,
  D_KIND,
  D_SRC_PORT,
  D_TCP_ACK,
  D_TCP_SEQ,
  F_ACK,
  F_PSH,
  F_SYN,
  K_ARP,
  K_ICMP,
  K_IPV4_FRAGMENT,
  K_TCP,
  K_UDP,
} from "../../src/wire/layout.ts";
import type { EngineKind } from "../../src/kernels/engine.ts";
import { IfaceError } from "../../src/iface/interface.ts";
import { parseIpv4 } from "../../src/iface/routing.ts";
import type { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { segment } from "../support/segment.ts";
import {
  Harness,
  icmpMessage,
  OUR_HI,
  OUR_IP,
  OUR_LO,
  PEER_HI,
  PEER_IP,
  PEER_LO,
} from "../support/iface_harness.ts";

const ENGINES: EngineKind[] = ["js", "wasm"];

function bytes(n: number, seed = 3): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

function each(name: string, fn: (kind: EngineKind) => void): void {
  for (const kind of ENGINES) Deno.test(`iface (${kind}): ${name}`, () => fn(kind));
}

/** A segment from us to the peer, no options, for sendTcp tests. */
function outSegment(srcPort: number, dstPort: number, seq: number): TcpSegment {
  return segment({ srcIp: OUR_IP, dstIp: PEER_IP, srcPort, dstPort, seq });
}

each("start announces our address with a gratuitous ARP request", (kind) => {
  const h = new Harness(kind);
  h.iface.start(0);
  const [f] = h.take();
  assert.equal(f!.verdict, 0);
  assert.equal(f!.desc[D_KIND], K_ARP);
  assert.equal(f!.desc[D_ARP_OP], 1);
  assert.equal(f!.desc[D_ARP_SPA]! >>> 0, OUR_IP);
  assert.equal(f!.desc[D_ARP_TPA]! >>> 0, OUR_IP);
  assert.equal(f!.desc[D_ETH_DST_HI], 0xffff);
});

each("ARP requests for our address are answered; others are ignored", (kind) => {
  const h = new Harness(kind);
  h.deliver(h.arp(1, PEER_IP, OUR_IP));
  const [r] = h.take();
  assert.equal(r!.desc[D_ARP_OP], 2);
  assert.equal(r!.desc[D_ARP_SPA]! >>> 0, OUR_IP);
  assert.equal(r!.desc[D_ARP_TPA]! >>> 0, PEER_IP);
  assert.equal(r!.desc[D_ARP_THA_HI], PEER_HI);
  assert.equal(r!.desc[D_ARP_THA_LO]! >>> 0, PEER_LO);
  assert.equal(r!.desc[D_ETH_DST_LO]! >>> 0, PEER_LO);
  h.deliver(h.arp(1, PEER_IP, parseIpv4("10.0.0.77")));
  assert.equal(h.take().length, 0);
  assert.equal(h.iface.stats()["arp-ignored"], undefined); // the peer is known: refreshed
  h.deliver(h.arp(1, parseIpv4("10.0.0.50"), parseIpv4("10.0.0.77")));
  assert.equal(h.iface.stats()["arp-ignored"], 1);
  // A probe (sender 0.0.0.0) for our address is answered, nothing learned.
  h.deliver(h.arp(1, 0, OUR_IP, { shaLo: 0x99 }));
  const [p] = h.take();
  assert.equal(p!.desc[D_ARP_OP], 2);
  assert.equal(p!.desc[D_ARP_TPA], 0);
  assert.equal(h.iface.stats()["arp-cache-entries"], 1);
});

each("frames for other MACs and multicast are dropped unless enabled", (kind) => {
  const h = new Harness(kind);
  h.deliver(h.udp(1, 2, bytes(4), (d) => (d[D_ETH_DST_LO] = 0x1234)));
  assert.equal(h.iface.stats()["eth-not-for-us"], 1);
  const mc = h.udp(1, 5353, bytes(4), (d) => {
    d[D_ETH_DST_HI] = 0x0100;
    d[D_ETH_DST_LO] = 0x5e0000fb;
    d[D_IP_DST] = parseIpv4("224.0.0.251") | 0;
  });
  h.deliver(mc);
  assert.equal(h.iface.stats()["eth-not-for-us"], 2);
  const m = new Harness(kind, { acceptMulticast: true });
  const s = m.iface.udpBind(5353);
  m.deliver(mc);
  assert.equal(s.receive()?.data.length, 4);
  assert.equal(m.take().length, 0);
});

each("ping: echo replies of 0, 56 and 1472 bytes carry identifier, sequence and data", (kind) => {
  const h = new Harness(kind);
  h.learnPeer();
  for (const n of [0, 56, 1472]) {
    const data = bytes(n, n);
    h.deliver(h.icmp(8, 0, 0x12340007, data));
    const [r] = h.take();
    assert.equal(r!.verdict, 0);
    assert.equal(r!.desc[D_KIND], K_ICMP);
    assert.equal(r!.desc[D_ICMP_TYPE], 0);
    assert.equal(r!.desc[D_ICMP_REST], 0x12340007);
    assert.equal(r!.desc[D_IP_DST]! >>> 0, PEER_IP);
    assert.equal(r!.desc[D_IP_TTL], 64);
    assert.deepEqual(r!.payload, data);
  }
  // Broadcast pings are ignored (Linux icmp_echo_ignore_broadcasts).
  h.deliver(h.icmp(8, 0, 1, bytes(8), (d) => (d[D_IP_DST] = parseIpv4("10.0.0.255") | 0)));
  assert.equal(h.take().length, 0);
});

each("ping -s 3000: fragments are reassembled and the reply is fragmented", (kind) => {
  const h = new Harness(kind);
  h.learnPeer();
  const data = bytes(3000, 5);
  const msg = icmpMessage(h, 8, 0, 0x00010002, data);
  const frags = h.fragments(1, msg, 1480);
  assert.equal(frags.length, 3);
  // Deliver out of order.
  for (const f of [frags[2]!, frags[0]!, frags[1]!]) h.deliver(f);
  const out = h.take();
  assert.equal(out.length, 3);
  const whole = new Uint8Array(3008);
  let id = -1;
  for (const f of out) {
    assert.equal(f.verdict, 0);
    assert.equal(f.desc[D_KIND], K_IPV4_FRAGMENT);
    assert.equal(f.desc[D_IP_PROTO], 1);
    if (id < 0) id = f.desc[D_IP_ID]!;
    assert.equal(f.desc[D_IP_ID], id);
    assert.ok(f.bytes.length <= 1514);
    whole.set(f.payload, (f.desc[D_IP_FRAG]! & 0x1fff) * 8);
  }
  assert.equal(whole[0], 0); // echo reply
  assert.deepEqual(whole.subarray(8), data);
  // The reply's ICMP checksum covers the whole message.
  let sum = 0;
  for (let i = 0; i < whole.length; i += 2) sum += (whole[i]! << 8) | (whole[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  assert.equal(sum, 0xffff);
  assert.equal(h.iface.stats()["ip-reassembled"], 1);
  assert.equal(h.iface.stats()["frag-memory"], 0);
});

each("UDP: bind, receive, send with checksum, zero checksum accepted", (kind) => {
  const h = new Harness(kind);
  h.learnPeer();
  const s = h.iface.udpBind(7000);
  let readable = 0;
  s.onReadable = () => readable++;
  h.deliver(h.udp(5555, 7000, bytes(100)));
  assert.equal(readable, 1);
  const got = s.receive()!;
  assert.deepEqual(got, { data: bytes(100), remoteIp: PEER_IP, remotePort: 5555 });
  // Zero checksum (RFC 768: none computed) is accepted.
  const z = h.udp(5555, 7000, bytes(10));
  z[14 + 20 + 6] = 0;
  z[14 + 20 + 7] = 0;
  h.deliver(z);
  assert.equal(s.receive()?.data.length, 10);
  // A corrupted checksum is dropped and counted.
  const bad = h.udp(5555, 7000, bytes(10));
  bad[14 + 20 + 8] = bad[14 + 20 + 8]! ^ 1;
  h.deliver(bad);
  assert.equal(s.receive(), null);
  assert.equal(h.iface.stats()["udp-bad-checksum"], 1);
  s.send(bytes(33), PEER_IP, 9999);
  const [o] = h.take();
  assert.equal(o!.verdict, 0);
  assert.equal(o!.desc[D_KIND], K_UDP);
  assert.equal(o!.desc[D_SRC_PORT], 7000);
  assert.equal(o!.desc[D_DST_PORT], 9999);
  assert.equal(o!.desc[D_ETH_DST_LO]! >>> 0, PEER_LO);
  assert.deepEqual(o!.payload, bytes(33));
  assert.throws(
    () => h.iface.udpBind(7000),
    (e) => e instanceof IfaceError && e.code === "addr-in-use",
  );
  s.close();
  assert.throws(
    () => s.send(bytes(1), PEER_IP, 1),
    (e) => e instanceof IfaceError && e.code === "closed",
  );
});

each("UDP: the receive queue is bounded", (kind) => {
  const h = new Harness(kind, { limits: { udpQueueDatagrams: 3 } });
  const s = h.iface.udpBind(7000);
  for (let i = 0; i < 5; i++) h.deliver(h.udp(1, 7000, bytes(1)));
  assert.equal(s.queued, 3);
  assert.equal(h.iface.stats()["udp-queue-full"], 2);
});

each("UDP larger than the MTU is fragmented on send", (kind) => {
  const h = new Harness(kind);
  h.learnPeer();
  const s = h.iface.udpBind(7000);
  const data = bytes(4000, 9);
  s.send(data, PEER_IP, 9);
  const out = h.take();
  assert.equal(out.length, 3);
  const whole = new Uint8Array(4008);
  for (const f of out) whole.set(f.payload, (f.desc[D_IP_FRAG]! & 0x1fff) * 8);
  assert.deepEqual(whole.subarray(8), data);
  assert.equal((whole[4]! << 8) | whole[5]!, 4008);
  assert.throws(() => s.send(new Uint8Array(65508), PEER_IP, 9), RangeError);
});

each("UDP to a closed port gets port unreachable, rate limited", (kind) => {
  const h = new Harness(kind, { limits: { icmpErrorBurst: 5, icmpErrorsPerSecond: 10 } });
  h.learnPeer();
  const frame = h.udp(4444, 9, bytes(20));
  h.deliver(frame);
  const [e] = h.take();
  assert.equal(e!.desc[D_ICMP_TYPE], 3);
  assert.equal(e!.desc[D_ICMP_CODE], 3);
  assert.deepEqual(e!.payload, frame.subarray(14)); // the whole datagram fits in the quote
  for (let i = 0; i < 20; i++) h.deliver(frame);
  assert.equal(h.take().length, 4);
  assert.equal(h.iface.stats()["icmp-rate-limited"], 16);
  h.now = 1000;
  h.deliver(frame);
  assert.equal(h.take().length, 1);
  // No errors for broadcast datagrams.
  h.deliver(h.udp(4444, 9, bytes(4), (d) => (d[D_IP_DST] = -1)));
  assert.equal(h.take().length, 0);
});

each("unresolved next hop: ARP request, queue keeps the latest, flush on reply", (kind) => {
  const h = new Harness(kind, { limits: { arpPendingPerAddress: 2 } });
  const s = h.iface.udpBind(7000);
  for (let i = 0; i < 3; i++) s.send(bytes(10, i), PEER_IP, 9);
  const [req, ...rest] = h.take();
  assert.equal(rest.length, 0);
  assert.equal(req!.desc[D_ARP_OP], 1);
  assert.equal(req!.desc[D_ARP_TPA]! >>> 0, PEER_IP);
  assert.equal(h.iface.stats()["arp-queue-full"], 1);
  h.deliver(h.arp(2, PEER_IP, OUR_IP, { ethDst: "us" }));
  const out = h.take();
  assert.equal(out.length, 2);
  for (const [i, f] of out.entries()) {
    assert.equal(f.verdict, 0);
    assert.equal(f.desc[D_ETH_DST_LO]! >>> 0, PEER_LO);
    assert.deepEqual(f.payload, bytes(10, i + 1)); // the oldest gave way (RFC 1122 2.3.2.2)
  }
  assert.equal(h.iface.stats()["arp-pending-bytes"], 0);
});

each("ARP failure after retries drops the queue and tells TCP", (kind) => {
  const h = new Harness(kind);
  h.iface.attachTcp(h.tcp);
  const s = h.iface.udpBind(7000);
  s.send(bytes(1), PEER_IP, 9);
  assert.equal(h.take().length, 1);
  assert.equal(h.iface.pollAt(), 1000);
  for (const t of [1000, 2000, 3000]) {
    h.now = t;
    h.iface.poll(t);
  }
  assert.equal(h.take().length, 2); // two retries, then give up
  assert.deepEqual(h.tcp.calls, [{ kind: "unreachable", ip: PEER_IP }]);
  assert.equal(h.iface.stats()["arp-unresolved"], 1);
});

each("spoofed and unsolicited ARP does not create or overwrite live entries", (kind) => {
  const h = new Harness(kind);
  h.deliver(h.arp(2, parseIpv4("10.0.0.9"), OUR_IP, { ethDst: "us" }));
  assert.equal(h.iface.stats()["arp-cache-entries"], 0);
  h.learnPeer();
  h.deliver(h.arp(2, PEER_IP, OUR_IP, { shaLo: 0x666, ethDst: "us" }));
  assert.equal(h.iface.stats()["arp-conflict"], 1);
  h.iface.udpBind(7000).send(bytes(1), PEER_IP, 9);
  assert.equal(h.take()[0]!.desc[D_ETH_DST_LO]! >>> 0, PEER_LO);
  // Someone claiming our address is counted.
  h.deliver(h.arp(1, OUR_IP, OUR_IP, { shaLo: 0x777 }));
  assert.equal(h.iface.stats()["arp-address-conflict"], 1);
});

each("routing: unroutable destinations throw; off-link goes through the gateway", (kind) => {
  const h = new Harness(kind);
  const s = h.iface.udpBind(0);
  assert.ok(s.localPort >= 49152);
  assert.throws(
    () => s.send(bytes(1), parseIpv4("8.8.8.8"), 53),
    (e) => e instanceof IfaceError && e.code === "unreachable",
  );
  assert.equal(h.iface.route(parseIpv4("8.8.8.8")), null);
  assert.equal(h.iface.sourceFor(parseIpv4("8.8.8.8")), -1);
  const g = new Harness(kind, { gateway: PEER_IP });
  g.learnPeer();
  g.iface.udpBind(0).send(bytes(1), parseIpv4("8.8.8.8"), 53);
  const [f] = g.take();
  assert.equal(f!.desc[D_IP_DST]! >>> 0, parseIpv4("8.8.8.8"));
  assert.equal(f!.desc[D_ETH_DST_LO]! >>> 0, PEER_LO);
  assert.equal(g.iface.sourceFor(parseIpv4("8.8.8.8")), OUR_IP);
});

each("IPv4 validation drops with specific reasons", (kind) => {
  const h = new Harness(kind);
  const good = h.udp(1, 9, bytes(4));
  const badCk = good.slice();
  badCk[14 + 10] = badCk[14 + 10]! ^ 0xff;
  h.deliver(badCk);
  const badVer = good.slice();
  badVer[14] = 0x65;
  h.deliver(badVer);
  h.deliver(good.subarray(0, 14 + 19));
  h.deliver(h.udp(1, 9, bytes(4), (d) => (d[D_IP_DST] = parseIpv4("10.0.0.3") | 0)));
  h.deliver(h.udp(1, 9, bytes(4), (d) => (d[D_IP_SRC] = parseIpv4("10.0.0.255") | 0)));
  const s = h.iface.stats();
  assert.equal(s["ip-bad-checksum"], 1);
  assert.equal(s["ip-bad-version"], 1);
  assert.equal(s["ip-truncated"], 1);
  assert.equal(s["ip-not-for-us"], 1);
  assert.equal(s["ip-bad-source"], 1);
  assert.equal(h.take().length, 0);
});

each("unknown IP protocols get protocol unreachable", (kind) => {
  const h = new Harness(kind);
  h.learnPeer();
  h.deliver(h.build(5, /* K_IPV4_OTHER */ bytes(8), (d) => (d[D_IP_PROTO] = 132)));
  const [e] = h.take();
  assert.equal(e!.desc[D_ICMP_TYPE], 3);
  assert.equal(e!.desc[D_ICMP_CODE], 2);
});

each("overlapping fragments drop the datagram; timeouts send time exceeded", (kind) => {
  const h = new Harness(kind, { limits: { fragTimeoutMs: 5000 } });
  h.learnPeer();
  h.iface.udpBind(7000);
  const msg = h.udp(1, 7000, bytes(3000)).slice(34);
  const frags = h.fragments(17, msg, 1480, 5);
  h.deliver(frags[0]!);
  // MF set, offset 0, 1488 bytes: overlaps fragment zero.
  const overlap = h.build(K_IPV4_FRAGMENT, msg.subarray(0, 1488), (d) => {
    d[D_IP_PROTO] = 17;
    d[D_IP_ID] = 5;
    d[D_IP_FRAG] = 0x2000;
  });
  h.deliver(overlap);
  h.deliver(frags[1]!);
  h.deliver(frags[2]!);
  assert.equal(h.iface.stats()["frag-overlap"], 1);
  assert.equal(h.iface.stats()["frag-dead"], 2);
  // A second datagram that never completes times out with an ICMP time exceeded.
  const f2 = h.fragments(17, msg, 1480, 6);
  h.deliver(f2[0]!);
  assert.equal(h.iface.pollAt(), 5000);
  h.now = 5000;
  h.iface.poll(5000);
  const [te] = h.take();
  assert.equal(te!.desc[D_ICMP_TYPE], 11);
  assert.equal(te!.desc[D_ICMP_CODE], 1);
  assert.equal(h.iface.stats()["frag-timeout"], 1);
  assert.equal(h.iface.stats()["frag-memory"], 0);
});

each("both engines send the same bytes for the same scenario", (kind) => {
  if (kind === "wasm") return;
  const run = (k: EngineKind): Uint8Array[] => {
    const h = new Harness(k);
    h.iface.start(0);
    h.learnPeer();
    h.deliver(h.icmp(8, 0, 5, bytes(64)));
    h.deliver(h.udp(1, 9, bytes(30)));
    h.iface.udpBind(7).send(bytes(2000), PEER_IP, 7);
    h.iface.udpBind(8).send(bytes(5), parseIpv4("10.0.0.3"), 7);
    return h.sent.splice(0);
  };
  assert.deepEqual(run("wasm"), run("js"));
});

void OUR_HI;
void OUR_LO;

function peerSeg(fill: (s: TcpSegment) => void): TcpSegment {
  const s = segment({ srcIp: PEER_IP, dstIp: OUR_IP, srcPort: 40000, dstPort: 80 });
  fill(s);
  return s;
}

each("TCP: segments go to the handler; without one they are counted", (kind) => {
  const h = new Harness(kind);
  // The seed note's client data segment: PSH+ACK SEQ 101 ACK 2001, 100 bytes.
  const seg = peerSeg((s) => {
    s.seq = 101;
    s.ack = 2001;
    s.flags = F_PSH | F_ACK;
    s.wnd = 65535;
  });
  const frame = h.build(K_TCP, bytes(100), (d) => seg.toDesc(d));
  h.deliver(frame);
  assert.equal(h.iface.stats()["tcp-no-handler"], 1);
  h.iface.attachTcp(h.tcp);
  h.deliver(frame);
  const [c] = h.tcp.calls;
  assert.ok(c?.kind === "input");
  assert.equal(c.seg.seq, 101);
  assert.equal(c.seg.ack, 2001);
  assert.equal(c.seg.flags, F_PSH | F_ACK);
  assert.equal(c.seg.srcIp, PEER_IP);
  assert.equal(c.seg.dstPort, 80);
  assert.deepEqual(c.payload, bytes(100));
  // Not to broadcast addresses (RFC 1122 4.2.3.10).
  h.deliver(h.build(K_TCP, bytes(0), (d) => {
    seg.toDesc(d);
    d[D_IP_DST] = parseIpv4("10.0.0.255") | 0;
  }));
  assert.equal(h.iface.stats()["tcp-to-broadcast"], 1);
  assert.equal(h.tcp.calls.length, 1);
});

each("TCP: sendTcp builds DF frames with the payload from the send ring", (kind) => {
  const h = new Harness(kind);
  h.learnPeer();
  const ring = h.engine.sndCreate(4096, 2001);
  assert.equal(h.engine.sndWrite(ring, bytes(500, 1)), 500);
  // The seed note's server reply: PSH+ACK SEQ 2001 ACK 201, 500 bytes.
  const seg = outSegment(80, 40000, 2001);
  seg.ack = 201;
  seg.flags = F_PSH | F_ACK;
  seg.wnd = 1000;
  seg.payloadLen = 500;
  assert.ok(h.iface.sendTcp(seg, ring, h.now));
  const [f] = h.take();
  assert.equal(f!.verdict, 0);
  assert.equal(f!.desc[D_KIND], K_TCP);
  assert.equal(f!.desc[D_IP_FRAG], 0x4000);
  assert.equal(f!.desc[D_IP_TTL], 64);
  assert.equal(f!.desc[D_TCP_SEQ]! >>> 0, 2001);
  assert.equal(f!.desc[D_TCP_ACK]! >>> 0, 201);
  assert.deepEqual(f!.payload, bytes(500, 1));
  // A bare ACK with no ring.
  seg.flags = F_ACK;
  seg.payloadLen = 0;
  assert.ok(h.iface.sendTcp(seg, -1, h.now));
  assert.equal(h.take()[0]!.payload.length, 0);
  seg.dstIp = parseIpv4("9.9.9.9");
  assert.equal(h.iface.sendTcp(seg, -1, h.now), false);
  assert.equal(h.iface.stats()["tcp-no-route"], 1);
  assert.equal(h.iface.pathMtu(PEER_IP, h.now), 1500);
  assert.equal(h.iface.sourceFor(PEER_IP), OUR_IP);
});

each("ICMP errors quoting our TCP segments reach TCP; frag-needed lowers the path MTU", (kind) => {
  const h = new Harness(kind);
  h.learnPeer();
  h.iface.attachTcp(h.tcp);
  const seg = outSegment(50000, 443, 100);
  seg.flags = F_SYN;
  seg.mss = 1460;
  h.iface.sendTcp(seg, -1, h.now);
  const quote = h.take()[0]!.bytes.slice(14, 14 + 28);
  h.deliver(h.icmp(3, 4, 1400, quote));
  assert.deepEqual(h.tcp.calls.at(-1), {
    kind: "icmp",
    error: "fragmentation-needed",
    args: [OUR_IP, 50000, PEER_IP, 443, 100, 1400],
  });
  assert.equal(h.iface.pathMtu(PEER_IP, h.now), 1400);
  h.deliver(h.icmp(3, 3, 0, quote));
  const last = h.tcp.calls.at(-1);
  assert.ok(last?.kind === "icmp" && last.error === "port-unreachable");
  // A forged tiny MTU is floored at 552 (Linux min_pmtu).
  h.deliver(h.icmp(3, 4, 100, quote));
  assert.equal(h.iface.pathMtu(PEER_IP, h.now), 552);
  const told = h.tcp.calls.at(-1);
  assert.ok(told?.kind === "icmp" && told.args[5] === 552, "TCP is told the floored MTU");
  // RFC 5927 7.2: an error TCP does not believe (no connection, sequence number not in flight)
  // leaves the path MTU alone.
  const h2 = new Harness(kind);
  h2.learnPeer();
  h2.iface.attachTcp(h2.tcp);
  h2.tcp.believeIcmp = false;
  h2.deliver(h2.icmp(3, 4, 1000, quote));
  assert.equal(h2.iface.pathMtu(PEER_IP, h2.now), 1500);
  assert.equal(h2.iface.stats()["icmp-frag-needed-ignored"], 1);
  // A quote of someone else's datagram is ignored.
  const other = quote.slice();
  other[15] = 99;
  h.deliver(h.icmp(3, 3, 0, other));
  assert.equal(h.iface.stats()["icmp-quote-not-ours"], 1);
  h.deliver(h.icmp(3, 3, 0, quote.subarray(0, 20)));
  assert.equal(h.iface.stats()["icmp-bad-quote"], 1);
});

each("nothing larger than the link MTU is sent", (kind) => {
  const h = new Harness(kind, { mtu: 576 });
  h.learnPeer();
  const ring = h.engine.sndCreate(4096, 1);
  h.engine.sndWrite(ring, bytes(1000));
  const seg = outSegment(1, 2, 1);
  seg.flags = F_ACK;
  seg.payloadLen = 537;
  assert.equal(h.iface.sendTcp(seg, ring, h.now), false);
  assert.equal(h.iface.stats()["tx-too-big"], 1);
  seg.payloadLen = 536;
  assert.ok(h.iface.sendTcp(seg, ring, h.now));
  assert.equal(h.take()[0]!.bytes.length, 14 + 576);
});

each("a TCP segment over the MTU is refused whole: TCP fits its SACK blocks itself", (kind) => {
  const h = new Harness(kind);
  h.learnPeer();
  const ring = h.engine.sndCreate(4096, 1);
  h.engine.sndWrite(ring, bytes(1448));
  const seg = outSegment(1, 2, 1);
  seg.flags = F_ACK;
  seg.hasTs = true;
  seg.sackCount = 2;
  seg.sack.set([10, 20, 30, 40]);
  seg.payloadLen = 1448; // 20 + 32 (TS) + 1448 = 1500: no room for SACK blocks
  assert.equal(h.iface.sendTcp(seg, ring, h.now), false);
  assert.equal(h.take().length, 0);
  assert.equal(h.iface.stats()["tx-too-big"], 1);
  // payloadRoom (src/tcp/tcp_output.ts) is the one place that trims SACK blocks.
  assert.equal(h.iface.stats()["tcp-sack-trimmed"], undefined);
});

/** Insert IPv4 options after the 20-byte header of `frame`, fixing IHL, length and checksum. */
function withIpOptions(frame: Uint8Array, opts: number[]): Uint8Array {
  const out = new Uint8Array(frame.length + opts.length);
  out.set(frame.subarray(0, 34));
  out.set(opts, 34);
  out.set(frame.subarray(34), 34 + opts.length);
  out[14] = 0x40 | ((20 + opts.length) / 4);
  const tot = ((out[16]! << 8) | out[17]!) + opts.length;
  out[16] = tot >>> 8;
  out[17] = tot & 0xff;
  out[24] = out[25] = 0;
  let sum = 0;
  for (let i = 0; i < 20 + opts.length; i += 2) sum += (out[14 + i]! << 8) | out[15 + i]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  out[24] = (~sum >>> 8) & 0xff;
  out[25] = ~sum & 0xff;
  return out;
}

each("IPv4 options: harmless ones are skipped, source routes are dropped", (kind) => {
  const h = new Harness(kind);
  const s = h.iface.udpBind(7000);
  h.deliver(withIpOptions(h.udp(1, 7000, bytes(8)), [1, 1, 1, 0]));
  assert.deepEqual(s.receive()?.data, bytes(8));
  h.deliver(withIpOptions(h.udp(1, 7000, bytes(8)), [0x83, 7, 4, 10, 0, 0, 9, 1]));
  assert.equal(s.receive(), null);
  assert.equal(h.iface.stats()["ip-source-route"], 1);
});

each("a claim on our address is defended at most every 10 seconds (RFC 5227 2.4)", (kind) => {
  const h = new Harness(kind);
  const claim = h.arp(2, OUR_IP, OUR_IP, { shaLo: 0x666 });
  h.deliver(claim);
  h.now = 5000;
  h.deliver(claim);
  h.now = 10000;
  h.deliver(claim);
  const out = h.take();
  assert.equal(out.length, 2);
  for (const f of out) {
    assert.equal(f.desc[D_ARP_SPA]! >>> 0, OUR_IP);
    assert.equal(f.desc[D_ARP_TPA]! >>> 0, OUR_IP);
  }
  assert.equal(h.iface.stats()["arp-address-conflict"], 3);
});
