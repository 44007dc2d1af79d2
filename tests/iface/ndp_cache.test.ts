// The IPv6 neighbor cache (src/iface/neighbor6.ts) on its own: the RFC 4861 7.3.2 states and
// their timers, the section 7.2.5 advertisement rules (Override flag), the ARP-like policy
// against spoofing and floods, and its bounds (ndCacheSize, ndPendingPerAddress) at their
// edges. A fast-check model run checks that no sequence of wire events grows it past its size
// or creates entries from unsolicited advertisements.

import assert from "node:assert/strict";
import fc from "fast-check";
import { resolveLimits } from "../../src/iface/limits.ts";
import {
  DELAY_FIRST_PROBE_TIME_MS,
  ND_DELAY,
  ND_INCOMPLETE,
  ND_PROBE,
  ND_REACHABLE,
  ND_STALE,
  type Neighbor6,
  NeighborCache6,
} from "../../src/iface/neighbor6.ts";
import { ip6 } from "../support/ndp_frames.ts";

function cache(limits = {}) {
  const calls: string[] = [];
  const c = new NeighborCache6(resolveLimits(limits), {
    solicit: (e: Neighbor6) =>
      calls.push(`solicit ${e.state === ND_INCOMPLETE ? "multicast" : "unicast"}`),
    resolved: (e: Neighbor6) => calls.push(`resolved ${e.pending.length}`),
    failed: (e: Neighbor6) => calls.push(`failed ${e.pending.length}`),
    notRouter: () => calls.push("not-router"),
  }, () => 0.5); // ReachableTime = BaseReachableTime x 1.0
  return { c, calls };
}

const A = ip6("fe80::1");
const S = { s: true, o: true, r: false };

Deno.test("ndp cache: INCOMPLETE queues frames, resolves on a solicited advertisement", () => {
  const { c, calls } = cache({ ndPendingPerAddress: 2 });
  const e = c.lookup(A, 0)!;
  assert.equal(e.state, ND_INCOMPLETE);
  assert.deepEqual(calls, ["solicit multicast"]);
  assert.equal(c.enqueue(e, new Uint8Array([1])), 0);
  assert.equal(c.enqueue(e, new Uint8Array([2])), 0);
  // ndPendingPerAddress = 2: the third replaces the oldest (RFC 4861 7.2.2).
  assert.equal(c.enqueue(e, new Uint8Array([3])), 1);
  assert.deepEqual(e.pending.map((f) => f[0]), [2, 3]);
  assert.equal(c.pendingBytes, 2);
  // An advertisement without a target link-layer address cannot resolve it.
  assert.equal(c.advert(A, false, 0, 0, S, 10), "ignored-no-override");
  assert.equal(c.advert(A, true, 0x0200, 1, S, 10), "resolved");
  assert.deepEqual(calls, ["solicit multicast", "resolved 2"]);
  assert.equal(c.pendingBytes, 0);
  assert.equal(e.state, ND_REACHABLE);
  assert.deepEqual([e.macHi, e.macLo], [0x0200, 1]);
});

Deno.test("ndp cache: resolution fails after MAX_MULTICAST_SOLICIT solicitations, RetransTimer apart", () => {
  const { c, calls } = cache();
  const e = c.lookup(A, 0)!;
  c.enqueue(e, new Uint8Array(1));
  for (let t = 0; t <= 3000; t += 100) c.poll(t);
  assert.deepEqual(calls, [
    "solicit multicast",
    "solicit multicast",
    "solicit multicast",
    "failed 1",
  ]);
  assert.equal(c.size, 0);
}); // deno-fmt-ignore-line

Deno.test("ndp cache: REACHABLE -> STALE -> DELAY -> PROBE -> deleted (RFC 4861 7.3.3)", () => {
  const { c, calls } = cache();
  const e = c.lookup(A, 0)!;
  c.advert(A, true, 0x0200, 1, S, 0);
  calls.length = 0;
  c.poll(29999);
  assert.equal(e.state, ND_REACHABLE);
  c.poll(30000);
  assert.equal(e.state, ND_STALE, "ReachableTime (30 s) passed without confirmation");
  assert.equal(c.lookup(A, 31000), e);
  assert.equal(e.state, ND_DELAY, "first use of a STALE entry");
  c.poll(31000 + DELAY_FIRST_PROBE_TIME_MS - 1);
  assert.equal(e.state, ND_DELAY);
  c.poll(31000 + DELAY_FIRST_PROBE_TIME_MS);
  assert.equal(e.state, ND_PROBE);
  assert.deepEqual(calls, ["solicit unicast"]);
  for (let t = 36000; t <= 40000; t += 500) c.poll(t);
  assert.deepEqual(calls, ["solicit unicast", "solicit unicast", "solicit unicast"]);
  assert.equal(c.size, 0, "MAX_UNICAST_SOLICIT probes unanswered: deleted");
  assert.equal(c.probeFailures, 1);
});

Deno.test("ndp cache: DELAY returns to REACHABLE on a confirmation, PROBE on a solicited NA", () => {
  const { c } = cache();
  const e = c.lookup(A, 0)!;
  c.advert(A, true, 0x0200, 1, S, 0);
  c.poll(30000);
  c.lookup(A, 30000);
  assert.equal(e.state, ND_DELAY);
  c.confirm(A, 31000); // upper-layer hint (RFC 4861 7.3.1)
  assert.equal(e.state, ND_REACHABLE);
  c.poll(61000);
  c.lookup(A, 61000);
  c.poll(66000);
  assert.equal(e.state, ND_PROBE);
  assert.equal(c.advert(A, true, 0x0200, 1, { s: true, o: false, r: false }, 66100), "confirmed");
  assert.equal(e.state, ND_REACHABLE);
});

Deno.test("ndp cache: advertisements follow RFC 4861 7.2.5 (unsolicited, Override, Router)", () => {
  const { c, calls } = cache();
  // Unsolicited advertisements never create an entry.
  assert.equal(c.advert(A, true, 0x0266, 6, { s: false, o: true, r: false }, 0), "no-entry");
  assert.equal(c.size, 0);
  c.lookup(A, 0);
  c.advert(A, true, 0x0200, 1, { s: true, o: true, r: true }, 0);
  const e = c.get(A)!;
  // Without Override a different address is not taken; the REACHABLE entry turns STALE.
  assert.equal(
    c.advert(A, true, 0x0266, 6, { s: true, o: false, r: true }, 10),
    "ignored-no-override",
  );
  assert.deepEqual([e.state, e.macHi, e.macLo], [ND_STALE, 0x0200, 1]);
  // Solicited, no Override, same address: confirmed.
  assert.equal(c.advert(A, true, 0x0200, 1, { s: true, o: false, r: true }, 20), "confirmed");
  assert.equal(e.state, ND_REACHABLE);
  // Override, unsolicited, new address: taken, STALE until confirmed.
  assert.equal(c.advert(A, true, 0x0277, 7, { s: false, o: true, r: true }, 30), "updated");
  assert.deepEqual([e.state, e.macHi, e.macLo], [ND_STALE, 0x0277, 7]);
  // The Router flag cleared: the owner forgets it as a default router.
  c.advert(A, false, 0, 0, { s: false, o: false, r: false }, 40);
  assert.deepEqual(calls.slice(-1), ["not-router"]);
}); // deno-fmt-ignore-line

Deno.test("ndp cache: solicitations create while there is room, never overwrite REACHABLE (ndCacheSize edge)", () => {
  const { c } = cache({ ndCacheSize: 2 });
  assert.equal(c.observe(ip6("fe80::1"), 0x0200, 1, true, 0), "created");
  assert.equal(c.observe(ip6("fe80::2"), 0x0200, 2, true, 0), "created");
  assert.equal(c.observe(ip6("fe80::3"), 0x0200, 3, true, 0), "full", "ndCacheSize = 2");
  assert.equal(c.size, 2);
  assert.equal(c.observe(ip6("fe80::4"), 0x0200, 4, false, 0), "no-entry");
  // Created STALE (RFC 4861 7.2.3); a different address updates a STALE entry ...
  assert.equal(c.get(ip6("fe80::1"))!.state, ND_STALE);
  assert.equal(c.observe(ip6("fe80::1"), 0x0266, 6, true, 10), "updated");
  // ... but not a REACHABLE one (the ARP cache's policy).
  c.lookup(ip6("fe80::2"), 10);
  c.advert(ip6("fe80::2"), true, 0x0200, 2, S, 10);
  assert.equal(c.observe(ip6("fe80::2"), 0x0266, 6, true, 20), "conflict");
  assert.equal(c.get(ip6("fe80::2"))!.macLo, 2);
  // Our own resolution evicts (the least recently used settled entry) when full.
  const n = c.lookup(ip6("fe80::9"), 5000);
  assert.ok(n !== null);
  assert.equal(c.size, 2);
  assert.equal(c.get(ip6("fe80::1")), undefined, "fe80::1 was the least recently used");
}); // deno-fmt-ignore-line

Deno.test("ndp cache: a full cache of resolutions gives up the oldest for a new one", () => {
  const { c } = cache({ ndCacheSize: 2 });
  c.lookup(ip6("fe80::1"), 0);
  c.lookup(ip6("fe80::2"), 0);
  assert.ok(c.lookup(ip6("fe80::3"), 1) !== null);
  assert.equal(c.incompleteEvicted, 1);
  assert.equal(c.get(ip6("fe80::1")), undefined);
});

Deno.test("ndp cache: unused STALE entries are removed after twice BaseReachableTime", () => {
  const { c } = cache();
  c.observe(A, 0x0200, 1, true, 0);
  c.poll(59999);
  assert.equal(c.size, 1);
  c.poll(60000);
  assert.equal(c.size, 0);
});

Deno.test("ndp cache: no sequence of wire events grows it past ndCacheSize (fast-check)", () => {
  const ev = fc.record({
    op: fc.constantFrom("ns", "na", "lookup", "poll"),
    host: fc.nat(15),
    mac: fc.nat(3),
    s: fc.boolean(),
    o: fc.boolean(),
    dt: fc.nat(3000),
  });
  fc.assert(
    fc.property(fc.array(ev, { maxLength: 200 }), (evs) => {
      const { c } = cache({ ndCacheSize: 4, ndPendingPerAddress: 1 });
      let now = 0;
      const created = new Set<number>();
      for (const x of evs) {
        now += x.dt;
        const a = ip6(`fe80::${x.host + 1}`);
        if (x.op === "ns") c.observe(a, 0x0200, x.mac, true, now);
        else if (x.op === "na") {
          const before = c.get(a) !== undefined;
          c.advert(a, true, 0x0200, x.mac, { s: x.s, o: x.o, r: false }, now);
          assert.equal(c.get(a) !== undefined, before, "an advertisement created or removed");
        } else if (x.op === "lookup") {
          const e = c.lookup(a, now);
          if (e) c.enqueue(e, new Uint8Array(1));
          created.add(x.host);
        } else c.poll(now);
        assert.ok(c.size <= 4);
        for (const e of c.entries()) assert.ok(e.pending.length <= 1);
      }
    }),
    { seed: 0x6e64, numRuns: 200 },
  );
});

Deno.test("ndp cache: ndRetransMs sets the solicitation interval (edge: 250 ms)", () => {
  const { c, calls } = cache({ ndRetransMs: 250 });
  c.lookup(A, 0);
  c.poll(249);
  assert.equal(calls.length, 1);
  c.poll(250);
  c.poll(500);
  assert.equal(calls.length, 3);
  c.poll(749);
  assert.equal(c.size, 1);
  c.poll(750);
  assert.deepEqual(calls.at(-1), "failed 0");
  assert.equal(c.size, 0);
});

Deno.test("ndp cache: queued bytes are bounded for all neighbors; failure and eviction free them", () => {
  const { c } = cache({ ndPendingBytes: 250, ndPendingPerAddress: 4, ndCacheSize: 2 });
  const a = c.lookup(A, 0)!;
  const b = c.lookup(ip6("fe80::2"), 0)!;
  assert.equal(c.enqueue(a, new Uint8Array(100)), 0);
  assert.equal(c.enqueue(a, new Uint8Array(100)), 0);
  // 50 bytes left: b's 100-byte frame does not fit and b has nothing to give up.
  assert.equal(c.enqueue(b, new Uint8Array(100)), 1);
  assert.equal(b.pending.length, 0);
  assert.equal(c.enqueue(b, new Uint8Array(50)), 0);
  // a's next frame pushes out a's oldest, not b's.
  const last = new Uint8Array(60);
  assert.equal(c.enqueue(a, last), 1);
  assert.equal(a.pending.at(-1), last);
  assert.equal(c.pendingBytes, 210);
  c.lookup(ip6("fe80::3"), 10); // evicts the oldest resolution (a): its bytes are freed
  assert.equal(c.incompleteEvicted, 1);
  assert.equal(c.pendingBytes, 50);
  for (let t = 0; t <= 4000; t += 100) c.poll(t); // b and fe80::3 fail
  assert.equal(c.size, 0);
  assert.equal(c.pendingBytes, 0);
});
