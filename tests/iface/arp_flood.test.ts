/**
 * The ARP cache under a SYN flood from spoofed on-link sources: our SYN+ACKs to them start
 * resolutions that never end. A new resolution gives up the oldest of those rather than push
 * out a peer in use; an idle settled entry still goes first.
 */

import assert from "node:assert/strict";
import {
  ARP_INCOMPLETE,
  ARP_REACHABLE,
  type ArpActions,
  ArpCache,
  type ArpEntry,
} from "../../src/iface/arp_cache.ts";
import { resolveLimits } from "../../src/iface/limits.ts";

function cache(size: number): ArpCache {
  const actions: ArpActions = {
    request: (_e: ArpEntry) => {},
    resolved: (e: ArpEntry) => void (e.pending.length = 0),
    failed: (_e: ArpEntry) => {},
  };
  return new ArpCache(
    resolveLimits({ arpCacheSize: size, arpRetries: 3, arpRetryMs: 1000 }),
    actions,
  );
}

Deno.test("arp flood: resolutions that never end do not push out the peer in use", () => {
  const c = cache(8);
  const peer = 1;
  c.lookup(peer, 0);
  assert.equal(c.observe(peer, 0x0200, 5, false, 0), "resolved");
  for (let i = 0; i < 1000; i++) {
    const now = i; // the flood: a new spoofed source every millisecond
    const e = c.lookup(1000 + i, now);
    assert.ok(e !== null, "a new resolution always finds room");
    e.pending.push(new Uint8Array(60));
    assert.equal(c.lookup(peer, now)!.state, ARP_REACHABLE, `peer evicted at ${i}`);
  }
  assert.equal(c.size, 8);
  assert.equal(c.incompleteEvicted, 1000 - 7);
  // The survivors are the newest resolutions (the oldest were given up first).
  const incomplete = [...c.entries()].filter((e) => e.state === ARP_INCOMPLETE).map((e) => e.ip);
  assert.deepEqual(incomplete, [1993, 1994, 1995, 1996, 1997, 1998, 1999]);
});

Deno.test("arp flood: an idle settled entry is evicted before a resolution in progress", () => {
  const c = cache(3);
  c.lookup(1, 0);
  c.observe(1, 0x0200, 5, false, 0); // settled, then idle
  c.lookup(2, 5000); // in progress
  c.lookup(3, 5000); // in progress
  assert.ok(c.lookup(4, 5001));
  assert.equal(c.get(1), undefined, "the idle entry made room");
  assert.ok(c.get(2) && c.get(3));
  assert.equal(c.incompleteEvicted, 0);
});
