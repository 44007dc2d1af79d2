/**
 * ARP floods and spoofing against the interface (RFC 826, RFC 1122 2.3.2, RFC 5227), over both
 * engines. The policy under test (src/iface/arp_cache.ts, documented in docs/limits.md):
 * entries are created only by our own resolutions and by requests addressed to us while there
 * is room; ARP from the wire never evicts; an unsolicited reply or gratuitous ARP never creates
 * an entry (Linux arp_accept=0) and never overwrites a REACHABLE entry, so a spoofer cannot
 * redirect a live peer; an entry that aged to STALE may be updated (Linux does the same: the
 * peer may really have moved). Senders off our subnet are answered but never learned.
 */

import assert from "node:assert/strict";
import type { EngineKind } from "../../src/kernels/engine.ts";
import { FrameMaker, PEER_IP, PEER_MAC, VICTIM_IP, VICTIM_MAC } from "../support/fuzz_corpus.ts";
import { Node } from "../support/fuzz_world.ts";

const LIMITS = { arpCacheSize: 32, arpPendingPerAddress: 4 };

function victim(kind: EngineKind): Node {
  return new Node(kind, VICTIM_IP, VICTIM_MAC, 1, null, LIMITS, {});
}

/** The destination MAC lo byte of the frames `node` sent (cleared afterwards). */
function destinations(node: Node): number[] {
  return node.out.splice(0).map((f) => f[5]!);
}

for (const kind of ["js", "wasm"] as const) {
  Deno.test(`robust arp (${kind}): a request flood is answered, the cache stays at its bound`, () => {
    const n = victim(kind);
    const m = new FrameMaker();
    for (let i = 0; i < 20000; i++) {
      const spa = (0x0a090000 | (3 + (i % 250))) >>> 0;
      n.receive(m.arp(1, spa, VICTIM_IP, 0x100 + i), i);
    }
    const s = n.stats();
    assert.equal(s["arp-cache-entries"], LIMITS.arpCacheSize);
    assert.ok(s["arp-cache-full"]! > 0, "the full cache was not counted");
    assert.equal(s["arp-replies"], 20000, "every request for our address gets an answer");
  });

  Deno.test(`robust arp (${kind}): off-link senders and foreign targets teach nothing`, () => {
    const n = victim(kind);
    const m = new FrameMaker();
    for (let i = 0; i < 2000; i++) {
      n.receive(m.arp(1, (0x0b000000 + i) >>> 0, VICTIM_IP, 0x200 + i), 0);
      n.receive(m.arp(1, (0x0a090000 | (3 + (i % 250))) >>> 0, 0x0a090063, 0x300 + i), 0);
      n.receive(m.arp(2, (0x0a090000 | (3 + (i % 250))) >>> 0, VICTIM_IP, 0x400 + i, false), 0);
    }
    const s = n.stats();
    assert.equal(s["arp-cache-entries"], 0);
    assert.equal(s["arp-off-link-sender"], 2000);
    assert.ok(s["arp-ignored"]! >= 4000, "unsolicited replies and foreign requests are ignored");
  });

  Deno.test(`robust arp (${kind}): a spoofed reply does not redirect a live peer`, () => {
    const n = victim(kind);
    const m = new FrameMaker();
    const sock = n.iface.udpBind(5000);
    sock.send(new Uint8Array(10), PEER_IP, 9); // resolution starts: a request goes out
    assert.equal(destinations(n)[0], 0xff);
    n.receive(m.arp(2, PEER_IP, VICTIM_IP, PEER_MAC[5]!, false), 10); // the real answer
    assert.deepEqual(destinations(n), [1], "the queued datagram went to the real peer");
    // The attacker (MAC ...:66) claims the peer's address, by reply and by gratuitous ARP.
    n.receive(m.arp(2, PEER_IP, VICTIM_IP, 0x66, false), 20);
    n.receive(m.arp(1, PEER_IP, PEER_IP, 0x66), 30);
    n.receive(m.arp(1, PEER_IP, VICTIM_IP, 0x66), 40);
    sock.send(new Uint8Array(10), PEER_IP, 9);
    const out = destinations(n).filter((d) => d !== 0xff);
    assert.equal(out.at(-1), 1, "still sent to the real peer");
    assert.ok(n.stats()["arp-conflict"]! >= 1, "the spoof was counted as a conflict");
  });

  Deno.test(`robust arp (${kind}): the queue behind an unresolved address is bounded`, () => {
    const n = victim(kind);
    const sock = n.iface.udpBind(5000);
    for (let i = 0; i < 50; i++) sock.send(new Uint8Array(100), 0x0a090050, 9);
    const s = n.stats();
    assert.equal(s["arp-queue-full"], 50 - LIMITS.arpPendingPerAddress);
    // Nobody answers: after the retries the queue is dropped and counted; nothing is left.
    for (let t = 0; t <= 10000; t += 500) n.poll(t);
    const after = n.stats();
    assert.equal(after["arp-unresolved"], LIMITS.arpPendingPerAddress);
    assert.equal(after["arp-cache-entries"], 0);
    assert.equal(n.iface.pollAt(), Infinity, "no timer left behind");
  });

  Deno.test(`robust arp (${kind}): resolutions for many addresses stay within the bound`, () => {
    const n = victim(kind);
    const sock = n.iface.udpBind(5000);
    for (let i = 0; i < 200; i++) sock.send(new Uint8Array(8), (0x0a090000 | (10 + i)) >>> 0, 9);
    const s = n.stats();
    assert.ok(s["arp-cache-entries"]! <= LIMITS.arpCacheSize);
    assert.ok(
      (s["arp-incomplete-evicted"] ?? 0) > 0,
      "resolutions past the bound give up the oldest, counted",
    );
  });
}
