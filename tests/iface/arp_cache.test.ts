import assert from "node:assert/strict";
import {
  ARP_DELAY,
  ARP_INCOMPLETE,
  ARP_PROBE,
  ARP_REACHABLE,
  ARP_STALE,
} from "../../src/iface/arp_cache.ts";
import { arpHarness } from "../support/arp_harness.ts";

Deno.test("arp cache: lookup creates an incomplete entry, sends a request, a reply resolves it", () => {
  const { cache, log } = arpHarness();
  const e = cache.lookup(10, 0)!;
  assert.equal(e.state, ARP_INCOMPLETE);
  assert.deepEqual(log, [`req 10 ${ARP_INCOMPLETE}`]);
  assert.equal(cache.enqueue(e, new Uint8Array(60)), 0);
  assert.equal(cache.observe(10, 0x0200, 5, false, 10), "resolved");
  assert.equal(e.state, ARP_REACHABLE);
  assert.equal(log[1], "resolved 10 1");
  assert.equal(cache.lookup(10, 20), e);
  assert.equal(log.length, 2);
});

Deno.test("arp cache: retries then fails with the pending frames", () => {
  const { cache, log } = arpHarness({ arpRetries: 3, arpRetryMs: 1000 });
  const e = cache.lookup(7, 0)!;
  cache.enqueue(e, new Uint8Array(1));
  cache.enqueue(e, new Uint8Array(1));
  assert.equal(cache.pollAt(), 1000);
  cache.poll(999);
  assert.equal(log.length, 1);
  cache.poll(1000);
  cache.poll(2000);
  assert.equal(log.length, 3);
  cache.poll(3000);
  assert.equal(log[3], "failed 7 2");
  assert.equal(cache.get(7), undefined);
  assert.equal(cache.pollAt(), Infinity);
});

Deno.test("arp cache: pending queue is bounded per address and keeps the latest frame", () => {
  const { cache } = arpHarness({ arpPendingPerAddress: 2 });
  const e = cache.lookup(7, 0)!;
  const f = [1, 2, 3].map((i) => new Uint8Array([i]));
  assert.equal(cache.enqueue(e, f[0]!), 0);
  assert.equal(cache.enqueue(e, f[1]!), 0);
  // RFC 1122 2.3.2.2: the latest is saved; the oldest gives way.
  assert.equal(cache.enqueue(e, f[2]!), 1);
  assert.deepEqual(e.pending, [f[1], f[2]]);
  assert.equal(cache.pendingBytes, 2);
});

Deno.test("arp cache: a live entry is not overwritten by a different MAC; a stale one is", () => {
  const { cache } = arpHarness({ arpEntryTtlMs: 1000 });
  cache.lookup(3, 0);
  cache.observe(3, 0x0200, 1, false, 0);
  assert.equal(cache.observe(3, 0x0200, 666, false, 500), "conflict");
  assert.equal(cache.get(3)!.macLo, 1);
  assert.equal(cache.observe(3, 0x0200, 1, false, 600), "refreshed");
  cache.poll(1600);
  assert.equal(cache.get(3)!.state, ARP_STALE);
  assert.equal(cache.observe(3, 0x0200, 2, false, 1700), "updated");
  assert.equal(cache.get(3)!.macLo, 2);
});

Deno.test("arp cache: unsolicited replies never create entries; requests to us do while room", () => {
  const { cache } = arpHarness({ arpCacheSize: 2 });
  assert.equal(cache.observe(1, 0x0200, 1, false, 0), "ignored");
  assert.equal(cache.observe(1, 0x0200, 1, true, 0), "created");
  assert.equal(cache.observe(2, 0x0200, 2, true, 0), "created");
  assert.equal(cache.observe(3, 0x0200, 3, true, 0), "full");
  assert.equal(cache.size, 2);
  // A flood of requests with distinct senders keeps the cache bounded.
  for (let i = 100; i < 10100; i++) cache.observe(i, 0x0200, i, true, 1);
  assert.equal(cache.size, 2);
});

Deno.test("arp cache: our resolutions evict the least recently used resolved entry", () => {
  const { cache } = arpHarness({ arpCacheSize: 2 });
  cache.observe(1, 0x0200, 1, true, 0);
  cache.observe(2, 0x0200, 2, true, 5);
  cache.lookup(1, 10);
  const e = cache.lookup(3, 20);
  assert.ok(e !== null);
  assert.equal(cache.get(2), undefined);
  assert.ok(cache.get(1) !== undefined);
  // Full of incomplete entries: the oldest resolution is given up (arp_flood.test.ts).
  const full = arpHarness({ arpCacheSize: 1 });
  full.cache.lookup(1, 0);
  assert.ok(full.cache.lookup(2, 0) !== null);
  assert.equal(full.cache.get(1), undefined);
  assert.equal(full.cache.incompleteEvicted, 1);
});

Deno.test("arp cache: a stale entry in use is probed, keeps its MAC, and dies if unanswered", () => {
  const { cache, log } = arpHarness({
    arpEntryTtlMs: 1000,
    arpRetries: 2,
    arpRetryMs: 100,
    arpDelayFirstProbeMs: 200,
  });
  cache.lookup(9, 0);
  cache.observe(9, 0x0200, 9, false, 0);
  const e = cache.lookup(9, 1500)!;
  // DELAY first: no confirmation within arpDelayFirstProbeMs, then unicast probes.
  assert.equal(e.state, ARP_DELAY);
  assert.equal(log.length, 2); // the first request, its resolution
  cache.poll(1699);
  assert.equal(e.state, ARP_DELAY);
  assert.equal(cache.pollAt(), 1700);
  cache.poll(1700);
  assert.equal(e.state, ARP_PROBE);
  assert.equal(e.macLo, 9);
  assert.equal(log.at(-1), `req 9 ${ARP_PROBE}`);
  cache.poll(1800);
  cache.poll(1900);
  assert.equal(cache.get(9), undefined);
  assert.ok(!log.some((l) => l.startsWith("failed")));
});

Deno.test("arp cache: unused stale entries are removed", () => {
  const { cache } = arpHarness({ arpEntryTtlMs: 1000 });
  cache.observe(4, 0x0200, 4, true, 0);
  cache.poll(1000);
  assert.equal(cache.get(4)!.state, ARP_STALE);
  assert.equal(cache.pollAt(), 2000);
  cache.poll(2000);
  assert.equal(cache.get(4), undefined);
});
