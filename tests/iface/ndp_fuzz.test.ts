// Random Neighbor Discovery messages through the IPv6 host, both engines (fast-check, seeded):
// solicitations, advertisements and router advertisements with random flags, targets, sources
// and option lists (random types and lengths, some zero or past the end), with SLAAC on and
// small bounds. The host never throws; every table stays within its bound; every frame it
// sends decodes, comes from our MAC, and every ND message among them has hop limit 255.

import assert from "node:assert/strict";
import fc from "fast-check";
import { engines } from "../support/wire_frames.ts";
import { decode6, host, icmp6Frame, ip6, settle } from "../support/ndp_frames.ts";

const SEED = Number(Deno.env.get("TCPIP_SEED") ?? 0x6e6470);
const RUNS = Number(Deno.env.get("TCPIP_RUNS") ?? 300);

const option = fc.oneof(
  fc.record({ type: fc.constantFrom(1, 2, 3, 5, 25, 200), len: fc.integer({ min: 0, max: 5 }) })
    .chain(({ type, len }) =>
      fc.uint8Array({ minLength: Math.max(0, len * 8 - 2), maxLength: Math.max(0, len * 8 - 2) })
        .map((body) => [type, len, ...body])
    ),
  fc.uint8Array({ maxLength: 12 }).map((b) => Array.from(b)), // garbage
);

const message = fc.record({
  type: fc.constantFrom(134, 135, 136),
  src: fc.constantFrom("fe80::1", "fe80::2", "::", "fd00::1", "fd00::9"),
  dst: fc.constantFrom("ff02::1", "ff02::1:ff12:3456", "fd00::2"),
  target: fc.constantFrom("fd00::1", "fd00::2", "fe80::5054:ff:fe12:3456", "fe80::1", "ff02::1"),
  rest: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  hops: fc.constantFrom(255, 255, 255, 64),
  options: fc.array(option, { maxLength: 4 }),
  dt: fc.nat(20000),
});

for (const e of engines()) {
  Deno.test(`${e.kind} ndp fuzz: random ND messages never break the host or its bounds`, () => {
    const x = host(e, {
      slaac: true,
      limits: { ndCacheSize: 8, ndRouters: 2, ndPrefixes: 3, ndSlaacAddresses: 2 },
    });
    x.h.addAddress(ip6("fd00::2"), 64);
    let now = settle(x);
    fc.assert(
      fc.property(message, (m) => {
        now += m.dt;
        const target = m.type === 134 ? [0, 0, 0, 0, 0, 0, 0, 0] : Array.from(ip6(m.target));
        const body = [...target, ...m.options.flat()];
        const f = icmp6Frame(e, {
          src: m.src,
          dst: m.dst,
          type: m.type,
          rest: m.rest,
          hops: m.hops,
        }, body);
        const before = x.sent.length;
        x.feed(f, now);
        x.h.poll(now);
        const s: Record<string, number> = {};
        x.h.stats(s);
        assert.ok(s["ndp-cache-entries"]! <= 8);
        assert.ok(s["ndp-routers"]! <= 2);
        assert.ok(s["ndp-prefixes"]! <= 3 + 1);
        assert.ok(s["ndp-addresses"]! <= 2 + 2);
        for (const out of x.sent.slice(before)) {
          const o = decode6(e, out);
          assert.deepEqual(o.ethSrc, [0x5254, 0x00123456]);
          if (o.type >= 133 && o.type <= 137) assert.equal(o.hops, 255);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    assert.ok(
      (x.count.get("ndp-invalid") ?? 0) > 0 && (x.count.get("ndp-router-advertisements") ?? 0) > 0,
    );
  }); // deno-fmt-ignore-line
}
