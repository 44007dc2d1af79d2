import assert from "node:assert/strict";
import { formatIpv4, parseIpv4, Router } from "../../src/iface/routing.ts";
import { PathMtuCache } from "../../src/iface/pmtu.ts";
import { TokenBucket } from "../../src/iface/rate_limit.ts";
import { resolveLimits } from "../../src/iface/limits.ts";
import { type UdpOwner, UdpTable } from "../../src/iface/udp.ts";
import { IfaceError } from "../../src/iface/errors.ts";
import { filterDestination, macHi, macLo, randomMac } from "../../src/iface/ethernet.ts";
import { rng } from "../support/rng.ts";

const ip = parseIpv4;

Deno.test("routing: on-link, gateway, broadcast and unroutable destinations", () => {
  const r = new Router(ip("192.168.7.2"), 24, ip("192.168.7.1"));
  assert.deepEqual(r.route(ip("192.168.7.9")), {
    nextHop: ip("192.168.7.9"),
    source: ip("192.168.7.2"),
  });
  assert.equal(r.route(ip("1.1.1.1"))!.nextHop, ip("192.168.7.1"));
  assert.equal(r.route(ip("192.168.7.255"))!.nextHop, ip("192.168.7.255"));
  assert.ok(r.isBroadcast(ip("255.255.255.255")));
  // Local destinations are their own next hop (the loopback path), 127/8 from 127.0.0.1.
  assert.deepEqual(r.route(ip("127.0.0.9")), { nextHop: ip("127.0.0.9"), source: ip("127.0.0.1") });
  assert.equal(r.route(0), null);
  assert.deepEqual(r.route(ip("192.168.7.2")), {
    nextHop: ip("192.168.7.2"),
    source: ip("192.168.7.2"),
  });
  const noGw = new Router(ip("10.1.0.2"), 16);
  assert.equal(noGw.route(ip("10.2.0.1")), null);
  assert.equal(noGw.nextHop(ip("10.2.0.1")), -1);
  assert.equal(noGw.route(ip("10.1.200.1"))!.nextHop, ip("10.1.200.1"));
  assert.throws(() => new Router(ip("10.0.0.2"), 24, ip("10.0.1.1")), RangeError);
  assert.throws(() => new Router(ip("10.0.0.2"), 33), RangeError);
  assert.equal(formatIpv4(ip("10.20.30.40")), "10.20.30.40");
  assert.throws(() => parseIpv4("10.0.0.256"), TypeError);
});

Deno.test("pmtu: lowered by ICMP, never raised, floored, bounded, expiring", () => {
  const c = new PathMtuCache(1500, resolveLimits({ pmtuCacheSize: 2, pmtuExpiresMs: 1000 }));
  assert.equal(c.get(5), 1500);
  assert.equal(c.lower(5, 1400, 0), 1400);
  assert.equal(c.lower(5, 1450, 0), -1);
  assert.equal(c.get(5, 10), 1400);
  assert.equal(c.lower(6, 100, 0), 552);
  c.lower(7, 1000, 0);
  assert.equal(c.size, 2);
  assert.equal(c.get(5, 10), 1500);
  assert.equal(c.get(7, 999), 1000);
  assert.equal(c.get(7, 1000), 1500);
});

Deno.test("rate limit: burst then steady rate", () => {
  const b = new TokenBucket(1000, 50);
  let n = 0;
  for (let i = 0; i < 100; i++) if (b.take(0)) n++;
  assert.equal(n, 50);
  n = 0;
  for (let t = 1; t <= 1000; t++) if (b.take(t)) n++;
  assert.equal(n, 1000);
});

Deno.test("udp table: bind conflicts, wildcard demux, ephemeral ports", () => {
  const owner: UdpOwner = { udpSend() {}, udpClose: (s) => t.remove(s) };
  const t = new UdpTable(7);
  const a = t.bind(owner, 53, 0, 4);
  assert.throws(
    () => t.bind(owner, 53, ip("10.0.0.2"), 4),
    (e) => e instanceof IfaceError && e.code === "addr-in-use",
  );
  assert.equal(t.find(ip("10.0.0.2"), 53), a);
  const e1 = t.bind(owner, 0, 0, 4);
  const e2 = t.bind(owner, 0, 0, 4);
  assert.ok(e1.localPort >= 49152 && e2.localPort >= 49152 && e1.localPort !== e2.localPort);
  a.close();
  assert.equal(t.find(ip("10.0.0.2"), 53), undefined);
  assert.throws(() => t.bind(owner, 70000, 0, 4), RangeError);
  // Bounded receive queue.
  for (let i = 0; i < 6; i++) e1.deliver(new Uint8Array([i]), 1, 2);
  assert.equal(e1.queued, 4);
  assert.deepEqual(e1.receive()!.data, new Uint8Array([0]));
});

Deno.test("ethernet: random MAC is locally administered unicast; filter", () => {
  const mac = randomMac(rng(1));
  assert.equal(mac[0]! & 3, 2);
  const hi = macHi(mac), lo = macLo(mac);
  assert.equal(filterDestination(hi, lo, hi, lo, false), "unicast");
  assert.equal(filterDestination(0xffff, -1, hi, lo, false), "broadcast");
  assert.equal(filterDestination(0x0100, 0x5e000001, hi, lo, false), "not-for-us");
  assert.equal(filterDestination(0x0100, 0x5e000001, hi, lo, true), "multicast");
  assert.equal(filterDestination(0x0200, 1, hi, lo, true), "not-for-us");
});
