// The IPv6 address table (src/iface/addr6_table.ts): handles 2^32 + slot, lookups that enter
// nothing, holds counted per connection, the bound (a hold past it fails and is counted; a pin
// past it throws), slots reused oldest first, and a model check of random operations.

import assert from "node:assert/strict";
import fc from "fast-check";
import { Addr6Table } from "../../src/iface/addr6_table.ts";
import { IPV6_HANDLE_BASE, isIpv6Handle } from "../../src/wire/ip_handle.ts";

function addr(i: number): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0xfd;
  new DataView(a.buffer).setUint32(12, i);
  return a;
}

Deno.test("addr6 table: probe enters nothing, hold and release, the bound, FIFO reuse", () => {
  const t = new Addr6Table(3, 1);
  const p = t.pin(addr(0));
  assert(isIpv6Handle(p) && p === IPV6_HANDLE_BASE);
  assert.equal(t.pin(addr(0)), p); // pinned once
  for (let i = 1; i < 1000; i++) t.probe(addr(i), 0); // a flood of unknown sources
  assert.equal(t.size, 1);
  const a = t.probe(addr(1), 0);
  assert(t.holdable(a) && t.hold(a));
  assert(t.hold(t.probe(addr(1), 0))); // same address, same handle, two holds
  assert.equal(t.probe(addr(1), 0), a);
  const b = t.probe(addr(2), 0);
  assert(t.hold(b));
  assert.equal(t.size, 3);
  // Full: an unknown address gets the scratch handle, which cannot be held.
  const c = t.probe(addr(3), 0);
  assert.equal(t.format(c), "fd00::3"); // still usable for a reply
  assert(!t.holdable(c) && !t.hold(c));
  assert.equal(t.fullCount, 1);
  assert.throws(() => t.pin(addr(9)), RangeError);
  // A stale tentative handle cannot be held once another probe took its slot.
  t.release(b);
  const d = t.probe(addr(4), 0);
  assert.equal(d, b); // the freed slot is the next one
  t.probe(addr(5), 0);
  assert(t.hold(d)); // same slot, now holding fd00::5 (the last probe)
  assert.equal(t.format(d), "fd00::5");
  t.release(d);
  t.release(a);
  assert.equal(t.size, 2); // a is still held once
  t.release(a);
  assert.equal(t.size, 1);
  assert.equal(t.lookup(addr(1), 0), -1);
  t.release(p); // pinned: stays
  assert.equal(t.lookup(addr(0), 0), p);
  assert.throws(() => new Addr6Table(1 << 20, 1), RangeError);
});

Deno.test("addr6 table: random holds and releases agree with a model", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 })), { maxLength: 300 }),
      fc.integer(),
      (ops, seed) => {
        const limit = 16;
        const t = new Addr6Table(limit, seed);
        const model = new Map<number, number>(); // address -> holds
        const handleOf = new Map<number, number>();
        for (const [hold, i] of ops) {
          if (hold) {
            const h = t.probe(addr(i), 0);
            const ok = t.hold(h);
            const want = model.has(i) || model.size < limit;
            assert.equal(ok, want);
            if (ok) {
              model.set(i, (model.get(i) ?? 0) + 1);
              if (handleOf.has(i)) assert.equal(handleOf.get(i), h);
              handleOf.set(i, h);
            }
          } else if (model.has(i)) {
            t.release(handleOf.get(i)!);
            const n = model.get(i)! - 1;
            if (n === 0) {
              model.delete(i);
              handleOf.delete(i);
            } else model.set(i, n);
          }
          assert.equal(t.size, model.size);
          for (const [k, h] of handleOf) {
            assert.equal(t.lookup(addr(k), 0), h);
            assert.deepEqual(t.bytes(h), addr(k));
          }
        }
      },
    ),
    { numRuns: 200 },
  );
});
