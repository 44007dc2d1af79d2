// The IPv6 services of the host (src/iface/ip6_types.ts) over both engines, sans-I/O: route6
// (on-link, configured prefix, default router, none), emit6 (multicast mapping, loopback,
// resolution with a solicitation from our address to the solicited-node group and a bounded
// queue, the frame sent once an advertisement answers), pathMtu6 and Packet Too Big (RFC 8201:
// lowered, never below 1280, bounded and expiring), ICMPv6 errors reported through onError6.

import assert from "node:assert/strict";
import { formatIpv6 } from "../../src/wire/ipv6_address.ts";
import {
  D_DST_PORT,
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_IP_TTL,
  D_KIND,
  D_SRC_PORT,
  D_VLAN,
  K_UDP6,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";
import type { Engine } from "../../src/kernels/engine.ts";
import type { Ip6ErrorReport } from "../../src/iface/ip6_types.ts";
import { engines } from "../support/wire_frames.ts";
import {
  decode6,
  host,
  icmp6Frame,
  ip6,
  llaOption,
  PEER_MAC,
  raBody,
  settle,
} from "../support/ndp_frames.ts";

const LL = "fe80::5054:ff:fe12:3456";

/** A UDP datagram from `src` to `dst` built in the transmit area; returns [start, len]. */
function udpFrame(e: Engine, src: Uint8Array, dst: Uint8Array, n = 20): [number, number] {
  const t = e.txDesc;
  t.fill(0);
  t[D_KIND] = K_UDP6;
  t[D_VLAN] = -1;
  t[D_ETH_SRC_HI] = 0x5254;
  t[D_ETH_SRC_LO] = 0x00123456;
  t[D_ETH_DST_HI] = 0;
  t[D_ETH_DST_LO] = 0;
  t[D_IP_TTL] = 64;
  t[D_SRC_PORT] = 5000;
  t[D_DST_PORT] = 7;
  e.mem.set(src, TX_IP6_SRC);
  e.mem.set(dst, TX_IP6_DST);
  e.mem.fill(0x61, TX_PAYLOAD_OFF, TX_PAYLOAD_OFF + n);
  const start = e.encode(TX_PAYLOAD_OFF, n);
  return [start, TX_PAYLOAD_OFF + n - start];
}

for (const e of engines()) {
  Deno.test(`${e.kind} ndp services: route6 on-link, configured prefix, default router, none`, () => {
    const x = host(e);
    x.h.addAddress(ip6("fd00::2"), 64);
    // Before DAD, no address may be a source: nothing is routable.
    assert.equal(x.h.route6(ip6("fe80::1")), null);
    const now = settle(x);
    const r = x.h.route6(ip6("fe80::1"))!;
    assert.equal(formatIpv6(r.nextHop), "fe80::1");
    assert.equal(formatIpv6(r.source), LL);
    const g = x.h.route6(ip6("fd00::9"))!;
    assert.deepEqual([formatIpv6(g.nextHop), formatIpv6(g.source)], ["fd00::9", "fd00::2"]);
    assert.equal(x.h.route6(ip6("2001:db8::1")), null, "off-link without a router");
    // Our own address loops back.
    const own = x.h.route6(ip6("fd00::2"))!;
    assert.equal(formatIpv6(own.nextHop), "fd00::2");
    // A router advertisement (lifetime 1800 s) makes fe80::1 the default router.
    x.feed(
      icmp6Frame(
        e,
        { src: "fe80::1", dst: "ff02::1", type: 134, rest: 64 << 24 | 1800 },
        raBody(llaOption(1)),
      ),
      now,
    );
    const d = x.h.route6(ip6("2001:db8::1"))!;
    assert.deepEqual([formatIpv6(d.nextHop), formatIpv6(d.source)], ["fe80::1", "fd00::2"]);
    // Router lifetime 0 removes it (RFC 4861 6.3.4).
    x.feed(
      icmp6Frame(e, { src: "fe80::1", dst: "ff02::1", type: 134, rest: 64 << 24 }, raBody([])),
      now + 10,
    );
    assert.equal(x.h.route6(ip6("2001:db8::1")), null);
  }); // deno-fmt-ignore-line

  Deno.test(`${e.kind} ndp services: emit6 resolves through a solicitation, queues, sends on the advertisement`, () => {
    const x = host(e, { limits: { ndPendingPerAddress: 2 } });
    x.h.addAddress(ip6("fd00::2"), 64);
    const now = settle(x);
    const peer = ip6("fd00::1");
    for (let i = 0; i < 3; i++) {
      const [s, n] = udpFrame(e, ip6("fd00::2"), peer, 20 + i);
      assert.ok(x.h.emit6(peer, s, n, now));
    }
    // ndPendingPerAddress is 2: the third frame replaced the oldest (RFC 4861 7.2.2).
    assert.equal(x.count.get("ndp-queue-full"), 1);
    // One solicitation: from our address, to the solicited-node group, hop limit 255, SLLA.
    assert.equal(x.sent.length, 1);
    const ns = decode6(e, x.sent[0]!);
    assert.deepEqual([ns.type, ns.code, ns.hops, ns.src, ns.dst], [135, 0, 255, "fd00::2", "ff02::1:ff00:1"]);
    assert.deepEqual(ns.ethDst, [0x3333, 0xff000001]);
    assert.equal(formatIpv6(ns.payload), "fd00::1");
    assert.deepEqual(Array.from(ns.payload.subarray(16)), [1, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    // The answer: both queued frames leave with the peer's MAC.
    x.feed(icmp6Frame(e, { src: "fd00::1", dst: "fd00::2", type: 136, rest: 0x60000000 }, [...peer, ...llaOption(2)]), now + 5);
    assert.equal(x.sent.length, 3);
    for (const [i, f] of x.sent.slice(1).entries()) {
      const u = decode6(e, f);
      assert.equal(u.kind, K_UDP6);
      assert.deepEqual(u.ethDst, PEER_MAC);
      assert.equal(u.payload.length, 21 + i, "frames 1 and 2, in order");
    }
    // Later frames go straight out.
    const [s, n] = udpFrame(e, ip6("fd00::2"), peer);
    assert.ok(x.h.emit6(peer, s, n, now + 10));
    assert.equal(x.sent.length, 4);
    assert.deepEqual(decode6(e, x.sent[3]!).ethDst, PEER_MAC);
    // Multicast maps to 33:33 + the low 32 bits (RFC 2464 7); our own address loops back.
    const [s2, n2] = udpFrame(e, ip6("fd00::2"), ip6("ff02::1:2"));
    assert.ok(x.h.emit6(ip6("ff02::1:2"), s2, n2, now + 10));
    assert.deepEqual(decode6(e, x.sent[4]!).ethDst, [0x3333, 0x00010002]);
    const [s3, n3] = udpFrame(e, ip6("fd00::2"), ip6("fd00::2"));
    assert.ok(x.h.emit6(ip6("fd00::2"), s3, n3, now + 10));
    assert.equal(x.looped.length, 1);
    assert.equal(x.sent.length, 5);
  }); // deno-fmt-ignore-line

  Deno.test(`${e.kind} ndp services: a resolution that fails drops the frames and reports unreachable`, () => {
    const x = host(e);
    let now = settle(x);
    const gone: string[] = [];
    x.h.onUnreachable6 = (a) => gone.push(formatIpv6(a));
    const [s, n] = udpFrame(e, ip6(LL), ip6("fe80::77"));
    assert.ok(x.h.emit6(ip6("fe80::77"), s, n, now));
    for (let i = 0; i < 40; i++) x.h.poll(now += 100);
    assert.deepEqual(gone, ["fe80::77"]);
    assert.equal(x.sent.filter((f) => decode6(e, f).type === 135).length, 3);
    assert.equal(x.count.get("ndp-unresolved"), 1);
  }); // deno-fmt-ignore-line

  Deno.test(`${e.kind} ndp services: Packet Too Big lowers pathMtu6, never below 1280, and is reported`, () => {
    const x = host(e, { limits: { pmtuCacheSize: 2, pmtuExpiresMs: 600000 } });
    x.h.addAddress(ip6("fd00::2"), 64);
    const now = settle(x);
    const reports: Ip6ErrorReport[] = [];
    x.h.onError6 = (r) => reports.push(r);
    assert.equal(x.h.pathMtu6(ip6("fd00::1"), now), 1500);
    const ptb = (dst: string, mtu: number, t: number) => {
      const [s, n] = udpFrame(e, ip6("fd00::2"), ip6(dst), 1400);
      const quoted = e.mem.slice(s + 14, s + n);
      x.feed(icmp6Frame(e, { src: "fd00::fe", dst: "fd00::2", type: 2, rest: mtu }, quoted.subarray(0, 1232)), t);
    };
    ptb("fd00::1", 1400, now);
    assert.equal(x.h.pathMtu6(ip6("fd00::1"), now), 1400);
    assert.equal(reports.length, 1);
    const r = reports[0]!;
    assert.deepEqual([r.kind, r.type, r.proto, r.srcPort, r.dstPort, r.mtu], ["too-big", 2, 17, 5000, 7, 1400]);
    assert.deepEqual([formatIpv6(r.src), formatIpv6(r.dst)], ["fd00::2", "fd00::1"]);
    // Below 1280: ignored (RFC 8201 4); higher than the estimate: ignored.
    ptb("fd00::1", 1000, now);
    ptb("fd00::1", 1450, now);
    assert.equal(x.h.pathMtu6(ip6("fd00::1"), now), 1400);
    assert.equal(x.count.get("icmp6-too-big-ignored"), 2);
    assert.equal(reports.length, 1);
    // Bounded (pmtuCacheSize = 2: the oldest is forgotten) and expiring (pmtuExpiresMs).
    ptb("fd00::3", 1300, now);
    ptb("fd00::4", 1300, now);
    assert.equal(x.h.pathMtu6(ip6("fd00::1"), now), 1500);
    assert.equal(x.h.pathMtu6(ip6("fd00::4"), now + 599999), 1300);
    assert.equal(x.h.pathMtu6(ip6("fd00::4"), now + 600000), 1500);
    // Errors about datagrams that are not ours are not reported.
    const [s, n] = udpFrame(e, ip6("fd00::99"), ip6("fd00::1"), 40);
    x.feed(icmp6Frame(e, { src: "fd00::fe", dst: "fd00::2", type: 1, code: 4 }, e.mem.slice(s + 14, s + n)), now);
    assert.equal(x.count.get("icmp6-error-invalid"), 1);
    // Destination unreachable, time exceeded, parameter problem about ours are.
    for (const [type, kind] of [[1, "unreachable"], [3, "time-exceeded"], [4, "parameter-problem"]] as const) {
      const [s, n] = udpFrame(e, ip6("fd00::2"), ip6("fd00::1"), 40);
      x.feed(icmp6Frame(e, { src: "fd00::fe", dst: "fd00::2", type, code: 1 }, e.mem.slice(s + 14, s + n)), now);
      assert.equal(reports.at(-1)!.kind, kind);
      assert.equal(reports.at(-1)!.code, 1);
    }
  }); // deno-fmt-ignore-line
}
