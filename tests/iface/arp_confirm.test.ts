// Neighbour confirmation by TCP forward progress (RFC 1122 2.3.2.1 link-layer advice, RFC 4861
// 7.3.1) and the bounded queue behind a resolution (RFC 1122 2.3.2.2), with a fake clock: the
// ARP cache alone with scripted calls, then two whole stacks over a memory link in virtual
// time whose neighbour lifetime is 1 s, over IPv4 (ARP) and IPv6 (ND): a transfer of several
// lifetimes with ACKs flowing sends no request; an idle connection's next acknowledged write is
// confirmed during DELAY (no probe either); one whose ACKs stop coming is re-probed.

import assert from "node:assert/strict";
import { ARP_DELAY, ARP_INCOMPLETE, ARP_PROBE, ARP_REACHABLE } from "../../src/iface/arp_cache.ts";
import { arpHarness } from "../support/arp_harness.ts";
import { createMemoryLinkPair, createStack } from "../../mod.ts";
import { Simulation, VirtualClock } from "../../testing.ts";
import type { MemoryLink } from "../../src/link/memory.ts";

Deno.test("arp confirm: a confirmed entry outlives its lifetime without a request", () => {
  const { cache, log } = arpHarness({ arpEntryTtlMs: 1000 });
  cache.lookup(9, 0);
  cache.observe(9, 0x0200, 9, false, 0);
  log.length = 0;
  // Forward progress every 400 ms for 5 lifetimes: never stale, never probed.
  for (let t = 400; t <= 5000; t += 400) {
    assert.ok(cache.confirm(9, t));
    cache.poll(t);
    assert.equal(cache.use(cache.get(9)!, t + 1).state, ARP_REACHABLE);
  }
  assert.deepEqual(log, []);
  assert.equal(cache.confirmations, 12);
  // Without progress it ages; the next use waits in DELAY (arpDelayFirstProbeMs, 5 s), then
  // probes (unicast, PROBE).
  cache.poll(6401);
  assert.equal(cache.use(cache.get(9)!, 6401).state, ARP_DELAY);
  cache.poll(11400);
  assert.deepEqual(log, []);
  cache.poll(11401);
  assert.equal(cache.get(9)!.state, ARP_PROBE);
  assert.deepEqual(log, [`req 9 ${ARP_PROBE}`]);
});

Deno.test("arp confirm: a confirmation during DELAY prevents the probe", () => {
  const { cache, log } = arpHarness({ arpEntryTtlMs: 1000, arpDelayFirstProbeMs: 500 });
  cache.lookup(9, 0);
  cache.observe(9, 0x0200, 9, false, 0);
  log.length = 0;
  assert.equal(cache.use(cache.get(9)!, 3000).state, ARP_DELAY); // idle, then used again
  assert.ok(cache.confirm(9, 3010)); // the peer's ACK of what it sent
  for (let t = 3100; t <= 3900; t += 100) cache.poll(t);
  assert.equal(cache.get(9)!.state, ARP_REACHABLE);
  assert.deepEqual(log, []);
});

Deno.test("arp confirm: stops a probe in progress; never confirms an entry without a MAC", () => {
  const { cache, log } = arpHarness({
    arpEntryTtlMs: 1000,
    arpRetries: 3,
    arpRetryMs: 100,
    arpDelayFirstProbeMs: 50,
  });
  cache.lookup(9, 0);
  assert.equal(cache.confirm(9, 1), false); // INCOMPLETE: nothing to confirm
  assert.equal(cache.get(9)!.state, ARP_INCOMPLETE);
  assert.equal(cache.confirm(77, 1), false); // no entry
  cache.observe(9, 0x0200, 9, false, 10);
  cache.use(cache.get(9)!, 1500); // stale and used: DELAY, then a probe goes out
  cache.poll(1550);
  assert.equal(cache.get(9)!.state, ARP_PROBE);
  assert.equal(log.at(-1), `req 9 ${ARP_PROBE}`);
  assert.ok(cache.confirm(9, 1560));
  const e = cache.get(9)!;
  assert.equal(e.state, ARP_REACHABLE);
  assert.equal(e.macLo, 9);
  const before = log.length;
  for (let t = 1600; t <= 2400; t += 100) cache.poll(t);
  assert.equal(log.length, before); // no further probes, not deleted
  assert.equal(cache.probeFailures, 0);
});

Deno.test("arp queue: bytes bounded for all entries; failure, eviction and resolution free them", () => {
  const { cache, log } = arpHarness({
    arpPendingBytes: 250,
    arpPendingPerAddress: 4,
    arpCacheSize: 2,
    arpRetries: 1,
    arpRetryMs: 100,
  });
  const a = cache.lookup(1, 0)!;
  const b = cache.lookup(2, 0)!;
  assert.equal(cache.enqueue(a, new Uint8Array(100)), 0);
  assert.equal(cache.enqueue(a, new Uint8Array(100)), 0);
  // 50 bytes left: b's 100-byte frame does not fit and b has nothing to give up.
  const big = new Uint8Array(100);
  assert.equal(cache.enqueue(b, big), 1);
  assert.equal(b.pending.length, 0);
  assert.equal(cache.enqueue(b, new Uint8Array(50)), 0);
  assert.equal(cache.pendingBytes, 250);
  // a's next frame pushes out a's oldest (the latest is kept), not b's.
  const last = new Uint8Array(60);
  assert.equal(cache.enqueue(a, last), 1);
  assert.equal(a.pending[a.pending.length - 1], last);
  assert.equal(cache.pendingBytes, 210);
  // A third resolution evicts the oldest INCOMPLETE (a): its frames are dropped and freed.
  const c = cache.lookup(3, 50)!;
  assert.equal(cache.incompleteEvicted, 1);
  assert.equal(cache.evictedFrames, 2);
  assert.equal(cache.pendingBytes, 50);
  cache.enqueue(c, new Uint8Array(30));
  cache.observe(3, 0x0200, 3, false, 60); // c resolves: its frame is handed over
  assert.equal(cache.pendingBytes, 50);
  cache.poll(100); // b fails (one request only)
  assert.ok(log.includes("failed 2 1"));
  assert.equal(cache.pendingBytes, 0);
});

// ---- Whole stacks in virtual time ----

interface Seen {
  at: number;
  from: "a" | "b";
  /** 1: ARP request or neighbor solicitation; 2: ARP reply or neighbor advertisement. */
  op: number;
  /** To the broadcast or a multicast MAC (a first resolution), else unicast (a probe). */
  group: boolean;
  /** A gratuitous ARP (RFC 5227 2.3) or a DAD solicitation (RFC 4862 5.4): not a resolution. */
  announce: boolean;
}

/** The ARP and ND frames `link` sends; `mute` drops everything it sends while true. */
function watch(link: MemoryLink, from: "a" | "b", clock: VirtualClock, seen: Seen[]) {
  const send = link.send.bind(link);
  const ctl = { mute: false };
  link.send = (buf: Uint8Array, off: number, len: number) => {
    const type = (buf[off + 12]! << 8) | buf[off + 13]!;
    const group = (buf[off]! & 1) === 1;
    if (type === 0x0806) {
      const announce = [0, 1, 2, 3].every((i) => buf[off + 28 + i] === buf[off + 38 + i]);
      seen.push({ at: clock.now(), from, op: buf[off + 21]!, group, announce });
    } else if (type === 0x86dd && buf[off + 20] === 58) {
      const icmp = buf[off + 54]!;
      const announce = buf.subarray(off + 22, off + 38).every((b) => b === 0);
      if (icmp === 135 || icmp === 136) {
        seen.push({ at: clock.now(), from, op: icmp - 134, group, announce });
      }
    }
    if (!ctl.mute) send(buf, off, len);
  };
  return ctl;
}

/** Two stacks with 1-s neighbour lifetimes, connected over IPv4 or IPv6. */
async function twoStacks(v6: boolean) {
  const clock = new VirtualClock(1000);
  const [la, lb] = createMemoryLinkPair({ queueLimit: 4096 });
  const seen: Seen[] = [];
  const ma = watch(la, "a", clock, seen);
  const mb = watch(lb, "b", clock, seen);
  const limits = { arpEntryTtlMs: 1000, ndReachableMs: 1000 };
  const opts = { engine: "js" as const, clock, limits, tcp: { sndBuf: 65536, rcvBuf: 65536 } };
  const a = await createStack({ link: la, address: ["10.9.0.1/24", "fd00:9::1/64"], ...opts });
  const b = await createStack({ link: lb, address: ["10.9.0.2/24", "fd00:9::2/64"], ...opts });
  const sim = new Simulation(clock, [a, b]);
  await sim.advance(3000); // IPv6 duplicate address detection
  const lis = b.listen({ port: 9300 });
  const accepted = lis.accept();
  const hostname = v6 ? "fd00:9::2" : "10.9.0.2";
  const conn = await sim.run(a.connect({ hostname, port: 9300 }));
  const server = await sim.run(accepted);
  const resolutions = () => seen.filter((s) => s.op === 1 && !s.announce);
  return { clock, sim, a, b, conn, server, seen, ma, mb, resolutions };
}

for (const v6 of [false, true]) {
  const fam = v6 ? "IPv6 ND" : "IPv4 ARP";
  const confirmed = v6 ? "ndp-confirmed" : "arp-confirmed";

  Deno.test(`${fam} confirm: a transfer of many lifetimes with ACKs flowing is never re-probed`, async () => {
    const w = await twoStacks(v6);
    try {
      const first = w.resolutions().length; // a's resolution of b
      assert.equal(first, 1, JSON.stringify(w.seen));
      const t0 = w.clock.now();
      // Rounds paced by the virtual clock: the transfer spans 8 s, eight lifetimes (and more
      // than ReachableTime + DELAY_FIRST_PROBE_TIME), the ACKs of new data confirming a's entry
      // and the new data b's.
      const chunk = new Uint8Array(16384).fill(7);
      const buf = new Uint8Array(65536);
      for (let round = 0; round < 40; round++) {
        await w.sim.run(w.conn.write(chunk));
        let got = 0;
        while (got < chunk.length) {
          const n = await w.sim.run(w.server.read(buf));
          assert.notEqual(n, null);
          got += n!;
        }
        await w.sim.advance(200);
      }
      assert.ok(w.clock.now() - t0 >= 8000, `transfer took ${w.clock.now() - t0} ms`);
      assert.equal(w.resolutions().length, first, JSON.stringify(w.seen));
      assert.ok(w.a.stats()[confirmed]! > 0 && w.b.stats()[confirmed]! > 0);
      // Idle, the entry ages. The next write finds it stale: it waits in DELAY (5 s; RFC 4861
      // 7.3.3, Linux delay_first_probe_time for ARP too), where the ACK of that write confirms
      // it: still no probe.
      await w.sim.advance(1500);
      await w.sim.run(w.conn.write(chunk.subarray(0, 100)));
      assert.equal(await w.sim.run(w.server.read(buf)), 100);
      await w.sim.advance(6000);
      assert.equal(w.resolutions().length, first, JSON.stringify(w.seen));
    } finally {
      w.conn.close();
      w.server.close();
      await w.a.close();
      await w.b.close();
    }
  });

  Deno.test(`${fam} confirm: a sender whose ACKs stop coming re-probes its peer`, async () => {
    const w = await twoStacks(v6);
    try {
      const first = w.resolutions().length;
      const t0 = w.clock.now();
      w.mb.mute = true; // b's frames (ACKs, replies) are lost: no forward progress
      void w.conn.write(new Uint8Array(8192).fill(1)).catch(() => {});
      await w.sim.advance(9000);
      const probes = w.resolutions().slice(first).filter((s) => s.from === "a");
      assert.ok(probes.length >= 1, JSON.stringify(w.seen));
      assert.equal(probes[0]!.group, false); // a unicast probe of the aged entry
      assert.ok(probes[0]!.at >= t0, "not before the lifetime ended");
    } finally {
      w.mb.mute = false;
      w.conn.close();
      w.server.close();
      await w.a.close();
      await w.b.close();
    }
  });
}
