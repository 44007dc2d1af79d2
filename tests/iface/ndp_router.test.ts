// Router discovery, SLAAC and DAD of the IPv6 host over both engines, sans-I/O: router
// solicitations on start (RFC 4861 6.3.7), router advertisements accepted only from link-local
// sources with hop limit 255 (6.1.2), default router and prefix lifetimes (6.3.4, 6.3.5), the
// MTU option bounded to [1280, link MTU], the list bounds (ndRouters, ndPrefixes,
// ndSlaacAddresses) at their edges, SLAAC with the two-hour rule (RFC 4862 5.5.3), and
// duplicate address detection (RFC 4862 5.4): tentative addresses neither receive nor answer,
// a conflicting advertisement or DAD solicitation marks them duplicate.

import assert from "node:assert/strict";
import { formatIpv6 } from "../../src/wire/ipv6_address.ts";
import { ADDR_DUPLICATE, ADDR_PREFERRED, ADDR_TENTATIVE } from "../../src/iface/ndp_addresses.ts";
import { engines } from "../support/wire_frames.ts";
import {
  decode6,
  host,
  icmp6Frame,
  ip6,
  llaOption,
  mtuOption,
  prefixOption,
  raBody,
  settle,
} from "../support/ndp_frames.ts";

const LL = "fe80::5054:ff:fe12:3456";
const RA = (lifetime: number, hops = 64) => (hops << 24) | lifetime;

for (const e of engines()) {
  Deno.test(`${e.kind} ndp router: solicitations after start and DAD, 3 of them 4 s apart, stopped by an RA`, () => {
    const x = host(e, { random: () => 0.25 });
    x.h.start(0);
    x.h.poll(0);
    // DAD of the link-local address first: from ::, to its solicited-node group, no options.
    assert.equal(x.sent.length, 1);
    const dad = decode6(e, x.sent[0]!);
    assert.deepEqual([dad.type, dad.hops, dad.src, dad.dst], [135, 255, "::", "ff02::1:ff12:3456"]);
    assert.equal(dad.payload.length, 16);
    assert.deepEqual(dad.ethDst, [0x3333, 0xff123456]);
    // No wake-up before DAD ends: the solicitation due at 250 ms waits for it anyway.
    assert.equal(x.h.pollAt(), 1000);
    // The solicitation was due at 250 ms, but waits for the link-local address (1 s).
    x.h.poll(250);
    assert.equal(x.sent.length, 1);
    assert.equal(x.h.pollAt(), 1000);
    x.h.poll(1000);
    assert.equal(x.sent.length, 2);
    const rs = decode6(e, x.sent[1]!);
    assert.deepEqual([rs.type, rs.code, rs.hops, rs.src, rs.dst], [133, 0, 255, LL, "ff02::2"]);
    assert.deepEqual(rs.ethDst, [0x3333, 2]);
    assert.deepEqual(Array.from(rs.payload), [1, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    for (let t = 1000; t <= 20000; t += 500) x.h.poll(t);
    assert.equal(x.sent.length, 4, "MAX_RTR_SOLICITATIONS = 3");
    assert.equal(x.count.get("ndp-router-solicitations"), 3);
    // A second host that hears an RA after its first solicitation sends no more.
    const y = host(e, { random: () => 0 });
    const now = settle(y);
    y.h.poll(now);
    y.feed(
      icmp6Frame(e, { src: "fe80::1", dst: "ff02::1", type: 134, rest: RA(1800) }, raBody([])),
      now + 1,
    );
    for (let t = now; t <= now + 20000; t += 500) y.h.poll(t);
    assert.equal(y.count.get("ndp-router-solicitations"), 1);
  }); // deno-fmt-ignore-line

  Deno.test(`${e.kind} ndp router: RA validation (link-local source, hop limit 255, options) and lifetimes`, () => {
    const x = host(e);
    x.h.addAddress(ip6("fd00::2"), 64);
    const now = settle(x);
    const ra = (src: string, rest: number, opts: number[], hops = 255) =>
      x.feed(icmp6Frame(e, { src, dst: "ff02::1", type: 134, rest, hops }, raBody(opts)), now);
    ra("fd00::1", RA(1800), []); // not link-local
    ra("fe80::1", RA(1800), [], 64); // forwarded
    ra("fe80::1", RA(1800), [1, 0, 0, 0, 0, 0, 0, 0]); // zero-length option
    ra("fe80::1", RA(1800), [3, 4, 64, 0xc0]); // an option running past the end
    assert.equal(x.count.get("ndp-ra-not-link-local"), 1);
    assert.equal(x.count.get("ndp-bad-hop-limit"), 1);
    assert.equal(x.count.get("ndp-invalid"), 2);
    assert.equal(x.h.route6(ip6("2001:db8::1")), null, "no router learned from invalid RAs");
    // A valid one: router for 30 s, prefix 2001:db8:1::/64 on-link for 60 s, hop limit 33.
    ra("fe80::1", RA(30, 33), [...llaOption(1), ...prefixOption("2001:db8:1::", 64, 0x80, 60, 30)]);
    assert.equal(x.h.hopLimit6(), 33);
    assert.equal(formatIpv6(x.h.route6(ip6("2001:db8::1"))!.nextHop), "fe80::1");
    assert.equal(formatIpv6(x.h.route6(ip6("2001:db8:1::9"))!.nextHop), "2001:db8:1::9");
    // The router's link-layer address is in the cache (STALE, RFC 4861 6.3.4).
    assert.equal(x.count.get("ndp-ra-lla-created"), 1);
    x.h.poll(now + 30000);
    assert.equal(x.h.route6(ip6("2001:db8::1")), null, "router lifetime over");
    assert.equal(formatIpv6(x.h.route6(ip6("2001:db8:1::9"))!.nextHop), "2001:db8:1::9");
    x.h.poll(now + 60000);
    assert.equal(x.h.route6(ip6("2001:db8:1::9")), null, "prefix valid lifetime over");
    assert.equal(x.count.get("ndp-lifetime-expired"), 2);
    // A prefix with valid lifetime 0 is removed at once; the link-local prefix is ignored.
    ra("fe80::1", RA(0), [...prefixOption("2001:db8:2::", 64, 0x80, 600, 600)]);
    ra("fe80::1", RA(0), [...prefixOption("2001:db8:2::", 64, 0x80, 0, 0), ...prefixOption("fe80::", 64, 0x80, 600, 600)]);
    assert.equal(x.count.get("ndp-prefix-removed"), 1);
    assert.equal(x.count.get("ndp-prefix-ignored"), 1);
  }); // deno-fmt-ignore-line

  Deno.test(`${e.kind} ndp router: MTU option bounded to [1280, link MTU]; list bounds at their edges`, () => {
    const x = host(e, { limits: { ndRouters: 2, ndPrefixes: 1 } });
    const now = settle(x);
    const ra = (src: string, opts: number[]) =>
      x.feed(icmp6Frame(e, { src, dst: "ff02::1", type: 134, rest: RA(600) }, raBody(opts)), now);
    ra("fe80::1", mtuOption(1400));
    assert.equal(x.h.pathMtu6(ip6("2001:db8::1"), now), 1400);
    ra("fe80::1", mtuOption(1279));
    ra("fe80::1", mtuOption(9000));
    assert.equal(x.h.pathMtu6(ip6("2001:db8::1"), now), 1400);
    assert.equal(x.count.get("ndp-ra-mtu-ignored"), 2);
    ra("fe80::1", mtuOption(1500));
    assert.equal(x.h.pathMtu6(ip6("2001:db8::1"), now), 1500);
    // Retrans Timer clamped to [100 ms, 60 s]; a Reachable Time over 1 h ignored.
    const timers = (reachable: number, retrans: number) =>
      x.feed(icmp6Frame(e, { src: "fe80::1", dst: "ff02::1", type: 134, rest: RA(600) }, raBody([], reachable, retrans)), now);
    timers(0, 1);
    assert.equal(x.h.nd.cache.retransMs, 100);
    timers(0, 100000);
    assert.equal(x.h.nd.cache.retransMs, 60000);
    const before = x.h.nd.cache.reachableMs;
    timers(3600001, 0);
    assert.equal(x.h.nd.cache.reachableMs, before);
    timers(10000, 0);
    assert.equal(x.h.nd.cache.reachableMs, 10000, "x random 0.5..1.5 with random() = 0.5");
    ra("fe80::2", []);
    ra("fe80::3", []);
    assert.equal(x.count.get("ndp-router-added"), 2);
    assert.equal(x.count.get("ndp-router-full"), 1, "ndRouters = 2");
    ra("fe80::1", [...prefixOption("2001:db8:1::", 64, 0x80, 600, 600), ...prefixOption("2001:db8:2::", 64, 0x80, 600, 600)]);
    assert.equal(x.count.get("ndp-prefix-full"), 1, "ndPrefixes = 1");
  }); // deno-fmt-ignore-line

  Deno.test(`${e.kind} ndp router: SLAAC forms prefix::EUI-64 after DAD; lifetimes and the two-hour rule`, () => {
    const x = host(e, { slaac: true, limits: { ndSlaacAddresses: 1 } });
    let now = settle(x);
    const live = x.h.addresses; // a live array: SLAAC adds to it, expiry removes
    const ra = (opts: number[], t: number) =>
      x.feed(icmp6Frame(e, { src: "fe80::1", dst: "ff02::1", type: 134, rest: RA(1800) }, raBody(opts)), t);
    ra([...prefixOption("2001:db8:1::", 64, 0xc0, 3 * 3600, 3600)], now);
    const formed = "2001:db8:1:0:5054:ff:fe12:3456";
    assert.equal(x.count.get("ndp-slaac-formed"), 1);
    assert.deepEqual(live.map((a) => formatIpv6(a)), [LL, "2001:db8:1:0:5054:ff:fe12:3456"]);
    const a = x.h.nd.addrs.find(ip6(formed))!;
    assert.equal(a.state, ADDR_TENTATIVE);
    assert.equal(x.h.isOurs(ip6(formed), 0), false, "tentative: not ours yet");
    x.h.poll(now);
    const dad = decode6(e, x.sent.at(-1)!);
    assert.deepEqual([dad.type, dad.src, dad.dst], [135, "::", "ff02::1:ff12:3456"]);
    assert.equal(formatIpv6(dad.payload), formed);
    x.h.poll(now += 1000);
    assert.equal(a.state, ADDR_PREFERRED);
    assert.equal(formatIpv6(x.h.route6(ip6("2001:db8::99"))!.source), formed);
    // Prefix lengths other than 64, link-local prefixes, preferred > valid: not formed.
    ra([...prefixOption("2001:db8:2::", 48, 0x40, 600, 600)], now);
    ra([...prefixOption("2001:db8:3::", 64, 0x40, 600, 700)], now);
    assert.equal(x.count.get("ndp-slaac-bad-length"), 1);
    assert.equal(x.count.get("ndp-slaac-ignored"), 1);
    ra([...prefixOption("2001:db8:4::", 64, 0x40, 600, 600)], now);
    assert.equal(x.count.get("ndp-slaac-full"), 1, "ndSlaacAddresses = 1");
    // Two-hour rule: a forged valid lifetime of 60 s shortens the 3 h one to 2 h only.
    ra([...prefixOption("2001:db8:1::", 64, 0x40, 60, 60)], now);
    assert.equal(a.validUntil, now + 7200000);
    x.h.poll(now + 60000);
    assert.equal(x.h.route6(ip6("2001:db8::99")) !== null, true, "deprecated but still valid");
    x.h.poll(now + 7200000);
    assert.equal(x.h.nd.addrs.find(ip6(formed)), undefined, "valid lifetime over: removed");
    assert.equal(live.length, 1);
    // Without `slaac`, no address is formed.
    const y = host(e);
    const t = settle(y);
    y.feed(icmp6Frame(e, { src: "fe80::1", dst: "ff02::1", type: 134, rest: RA(1800) }, raBody(prefixOption("2001:db8:1::", 64, 0xc0, 600, 600))), t);
    assert.equal(y.h.addresses.length, 1);
  }); // deno-fmt-ignore-line

  Deno.test(`${e.kind} ndp DAD: tentative addresses neither receive nor answer; conflicts mark them duplicate`, () => {
    const x = host(e);
    x.h.addAddress(ip6("fd00::2"), 64);
    x.h.addAddress(ip6("fd00::3"), 64);
    x.h.start(0);
    x.h.poll(0);
    assert.equal(x.count.get("ndp-dad-solicitations"), 3);
    x.sent.length = 0;
    // An echo request to the tentative address: dropped, not answered.
    x.feed(icmp6Frame(e, { src: "fd00::1", dst: "fd00::2", type: 128, rest: 0x10001 }, [1, 2, 3]), 10);
    assert.equal(x.count.get("ip6-to-tentative"), 1);
    // A unicast solicitation for it: silently discarded (RFC 4862 5.4.3).
    x.feed(icmp6Frame(e, { src: "fd00::1", dst: "ff02::1:ff00:2", type: 135 }, [...ip6("fd00::2"), ...llaOption(1)]), 10);
    assert.equal(x.count.get("ndp-to-tentative"), 1);
    assert.equal(x.sent.length, 0);
    // Another node's advertisement for fd00::2 and DAD solicitation for fd00::3: duplicates.
    x.feed(icmp6Frame(e, { src: "fd00::2", dst: "ff02::1", type: 136, rest: 0x20000000 }, [...ip6("fd00::2"), ...llaOption(2)]), 20);
    x.feed(icmp6Frame(e, { src: "::", dst: "ff02::1:ff00:3", type: 135 }, ip6("fd00::3")), 20);
    // Our own DAD solicitation heard back (same MAC) is not a conflict.
    x.feed(icmp6Frame(e, { src: "::", dst: "ff02::1:ff12:3456", type: 135, ethSrc: [0x5254, 0x00123456] }, ip6(LL)), 20);
    assert.equal(x.count.get("ndp-dad-duplicate"), 2);
    assert.equal(x.count.get("ndp-dad-looped"), 1);
    x.h.poll(1000);
    const st = (a: string) => x.h.nd.addrs.find(ip6(a))!.state;
    assert.deepEqual([st(LL), st("fd00::2"), st("fd00::3")], [ADDR_PREFERRED, ADDR_DUPLICATE, ADDR_DUPLICATE]);
    const s: Record<string, number> = {};
    x.h.stats(s);
    assert.equal(s["ndp-dad-duplicates"], 2);
    assert.equal(x.h.isOurs(ip6("fd00::2"), 0), false);
    assert.equal(x.h.route6(ip6("fd00::9")), null, "no usable source on the prefix");
    // The link-local address passed: a solicitation for it is answered (solicited, override).
    x.feed(icmp6Frame(e, { src: "fe80::1", dst: "ff02::1:ff12:3456", type: 135 }, [...ip6(LL), ...llaOption(1)]), 1000);
    const na = decode6(e, x.sent.at(-1)!);
    assert.deepEqual([na.type, na.rest, na.src, na.dst, na.hops], [136, 0x60000000, LL, "fe80::1", 255]);
  }); // deno-fmt-ignore-line
}
