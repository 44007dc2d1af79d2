/**
 * The reassembly core shared by IPv4 and IPv6 (src/iface/reassembly.ts), on its own: random
 * datagrams cut into random pieces, delivered in random order with duplicates, overlaps and
 * tight bounds. Whatever arrives, the memory gauge equals the capacity the table holds, stays
 * within `fragMemory`, the datagram count within `fragDatagrams`; a finished datagram holds the
 * exact bytes sent; after the timeout nothing is held. Seeded by fast-check (it prints the seed
 * and the counterexample on failure).
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { resolveLimits } from "../../src/iface/limits.ts";
import { PendingDatagram, ReassemblyTable } from "../../src/iface/reassembly.ts";

const TIMEOUT = 1000;

function table(memory: number, datagrams: number, perDatagram: number) {
  const limits = resolveLimits({
    fragMemory: memory,
    fragDatagrams: datagrams,
    fragPerDatagram: perDatagram,
    fragTimeoutMs: TIMEOUT,
  });
  const made: PendingDatagram[] = [];
  const t = new ReassemblyTable(limits, (l) => l.fragTimeoutMs, (key, now) => {
    const g = new PendingDatagram(key, now);
    made.push(g);
    return g;
  });
  return { t, made };
}

/** One fragment through the core in the order the families use: open, fit, store, finish. */
function add(
  t: ReassemblyTable<PendingDatagram>,
  key: string,
  data: Uint8Array,
  start: number,
  end: number,
  now: number,
): string {
  const g = t.open(key, now);
  if (g === null) return "too-many-datagrams";
  const fit = t.fit(g, start, end, end < data.length);
  if (fit !== "ok") return fit;
  const headLen = start === 0 ? 20 : 0;
  const stored = t.store(g, data.subarray(start, end), 0, start, end, headLen);
  if (stored !== "ok") return stored;
  if (start === 0) g.head = new Uint8Array(headLen);
  return t.finish(g) ? "complete" : "held";
}

const datagram = fc.record({
  size: fc.integer({ min: 1, max: 6000 }),
  cuts: fc.array(fc.integer({ min: 1, max: 750 }), { minLength: 1, maxLength: 12 }),
  seed: fc.integer({ min: 0, max: 255 }),
});

Deno.test("reassembly core: bounds, memory accounting and exact bytes under any arrival", () => {
  fc.assert(
    fc.property(
      fc.array(datagram, { minLength: 1, maxLength: 4 }),
      fc.array(fc.nat(), { maxLength: 60 }),
      fc.constantFrom(4096, 16384, 1 << 20),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 2, max: 16 }),
      (dgs, order, memory, datagrams, perDatagram) => {
        const { t, made } = table(memory, datagrams, perDatagram);
        // Each datagram cut at multiples of 8 (the last piece takes the rest).
        const pieces: { key: string; data: Uint8Array; start: number; end: number }[] = [];
        dgs.forEach((d, i) => {
          const data = new Uint8Array(d.size).map((_, j) => (j * 7 + d.seed) & 0xff);
          let start = 0;
          for (const c of d.cuts) {
            if (start >= d.size) break;
            const end = Math.min(d.size, start + c * 8);
            pieces.push({ key: `d${i}`, data, start, end });
            start = end;
          }
          if (start < d.size) pieces.push({ key: `d${i}`, data, start, end: d.size });
        });
        // Arrival: the pieces in a shuffled order, some twice, some overlapping a neighbour.
        const arrivals = pieces.slice();
        for (const n of order) {
          const p = pieces[n % pieces.length]!;
          const shift = n % 3 === 0 && p.start >= 8 ? 8 : 0;
          arrivals.splice(n % (arrivals.length + 1), 0, { ...p, start: p.start - shift });
        }
        let now = 0;
        const finished = new Set<PendingDatagram>();
        for (const p of arrivals) {
          const r = add(t, p.key, p.data, p.start, p.end, now);
          if (r === "complete") {
            const g = t.take()!;
            finished.add(g);
            assert.equal(g.total, p.data.length);
            assert.deepEqual(g.buf.subarray(0, g.total), p.data);
          }
          // Datagrams forgotten when refused, and dead ones, hold nothing.
          const held = made.filter((g) => !finished.has(g));
          const capacity = held.reduce((s, g) => s + g.buf.length + g.headBytes, 0);
          assert.equal(t.memory, capacity);
          assert.ok(t.memory <= memory, `memory ${t.memory} > ${memory}`);
          assert.ok(t.datagrams <= datagrams);
          for (const g of held) assert.ok(g.ranges.length <= 2 * perDatagram);
          now += 1;
        }
        // RFC 8200 4.5 / RFC 791: everything is abandoned at the timeout.
        assert.ok(t.pollAt() >= TIMEOUT || t.datagrams === 0);
        t.expire(now + TIMEOUT);
        assert.equal(t.datagrams, 0);
        assert.equal(t.memory, 0);
        assert.equal(t.pollAt(), Infinity);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("reassembly core: an overlap kills the datagram until its timeout (RFC 5722)", () => {
  const { t } = table(1 << 20, 4, 16);
  const data = new Uint8Array(64).map((_, i) => i);
  assert.equal(add(t, "a", data, 0, 32, 0), "held");
  assert.equal(add(t, "a", data, 0, 32, 1), "duplicate");
  assert.equal(add(t, "a", data, 24, 64, 2), "overlap");
  assert.equal(t.memory, 0);
  assert.equal(add(t, "a", data, 32, 64, 3), "dead");
  assert.equal(t.datagrams, 1);
  let live = 0;
  assert.equal(t.expire(TIMEOUT, () => live++), 0);
  assert.equal(live, 0);
  assert.equal(t.datagrams, 0);
  // A new datagram under the same key starts afresh.
  assert.equal(add(t, "a", data, 32, 64, TIMEOUT), "held");
  assert.equal(add(t, "a", data, 0, 32, TIMEOUT), "complete");
});
