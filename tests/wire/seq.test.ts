import assert from "node:assert/strict";
import fc from "fast-check";
import {
  seqAdd,
  seqDiff,
  seqGe,
  seqGt,
  seqInWindow,
  seqLe,
  seqLt,
  seqMax,
  seqMin,
} from "../../src/wire/seq.ts";

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const dist = fc.integer({ min: 1, max: 0x7fffffff });

Deno.test("seq: comparisons across the 2^32 wrap (RFC 9293 3.4)", () => {
  assert.equal(seqLt(0xfffffff0, 0x10), true);
  assert.equal(seqGt(0x10, 0xfffffff0), true);
  assert.equal(seqAdd(0xffffffff, 1), 0);
  assert.equal(seqDiff(0x10, 0xfffffff0), 0x20);
  assert.equal(seqInWindow(0x5, 0xfffffffe, 10), true);
  assert.equal(seqInWindow(0x8, 0xfffffffe, 10), false);
  assert.equal(seqInWindow(0xfffffffe, 0xfffffffe, 0), false);
  assert.equal(seqMax(0xfffffff0, 0x10), 0x10);
  assert.equal(seqMin(0xfffffff0, 0x10), 0xfffffff0);
});

Deno.test("seq: the seed note's numbers", () => {
  // SYN SEQ 100 -> SYN+ACK ACK 101; 100 data bytes from 101 -> ACK 201; 500 from 2001 -> 2501.
  assert.equal(seqAdd(100, 1), 101);
  assert.equal(seqAdd(101, 100), 201);
  assert.equal(seqAdd(2001, 500), 2501);
});

Deno.test("seq: a + d is after a for every distance below 2^31 (property)", () => {
  fc.assert(
    fc.property(u32, dist, (a, d) => {
      const b = seqAdd(a, d);
      return seqLt(a, b) && seqLe(a, b) && seqGt(b, a) && seqGe(b, a) && !seqLt(b, a) &&
        seqDiff(b, a) === d && seqInWindow(b, a, d + 1) && !seqInWindow(b, a, d);
    }),
    { seed: 42 },
  );
});
