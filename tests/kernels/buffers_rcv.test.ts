// Unit tests of the reassembly buffer, run over both engines.
import assert from "node:assert/strict";
import {
  RI_CONFLICT,
  RI_DUPLICATE,
  RI_OUT_OF_ORDER,
  RI_RANGE_LIMIT,
  RI_TRIMMED,
} from "../../src/kernels/engine.ts";
import { RX_OFF } from "../../src/wire/layout.ts";
import {
  ENGINES,
  insertBytes,
  insertPattern,
  pattern,
  readAll,
  sackList,
} from "../support/buffers_helpers.ts";

for (const [name, make] of ENGINES) {
  Deno.test(`${name}: rcv seed vectors (100 bytes at SEQ 101, reply acked to 201)`, () => {
    const e = make();
    const h = e.rcvCreate(65536, 101);
    assert.equal(e.rcvNext(h), 101);
    assert.equal(e.rcvWindow(h), 65536);
    assert.equal(insertPattern(e, h, 101, 100), 100);
    assert.equal(e.rcvLastInsert(h), 0);
    assert.equal(e.rcvNext(h), 201);
    assert.equal(e.rcvReadable(h), 100);
    assert.equal(e.rcvWindow(h), 65436);
    assert.deepEqual(readAll(e, h), pattern(101, 100));
    assert.equal(e.rcvWindow(h), 65536);
    e.rcvDestroy(h);
  });

  Deno.test(`${name}: rcv in order, read in pieces, window shrinks to zero and reopens`, () => {
    const e = make();
    const h = e.rcvCreate(3000, 7);
    let seq = 7;
    assert.equal(insertPattern(e, h, seq, 1460), 1460);
    seq += 1460;
    assert.equal(insertPattern(e, h, seq, 1460), 1460);
    seq += 1460;
    assert.equal(e.rcvWindow(h), 80);
    assert.equal(insertPattern(e, h, seq, 1460), 80);
    assert.equal(e.rcvLastInsert(h), RI_TRIMMED);
    seq += 80;
    assert.equal(e.rcvWindow(h), 0);
    assert.equal(insertPattern(e, h, seq, 1), 0);
    assert.equal(e.rcvLastInsert(h), RI_TRIMMED);
    const part = new Uint8Array(1000);
    assert.equal(e.rcvRead(h, part), 1000);
    assert.deepEqual(part, pattern(7, 1000));
    assert.equal(e.rcvWindow(h), 1000);
    // The next segment wraps around the end of the ring.
    assert.equal(insertPattern(e, h, seq, 1000), 1000);
    const rest = readAll(e, h);
    assert.deepEqual(rest, pattern(1007, 3000));
    assert.equal(e.rcvNext(h), 4007);
  });

  Deno.test(`${name}: rcv out of order held, then delivered by the hole filler`, () => {
    const e = make();
    const h = e.rcvCreate(10000, 1000);
    assert.equal(insertPattern(e, h, 1100, 100), 0);
    assert.equal(e.rcvLastInsert(h), RI_OUT_OF_ORDER);
    assert.equal(e.rcvHeld(h), 100);
    assert.equal(e.rcvReadable(h), 0);
    assert.equal(e.rcvNext(h), 1000);
    assert.equal(e.rcvWindow(h), 10000);
    assert.deepEqual(sackList(e, h), [[1100, 1200]]);
    assert.equal(insertPattern(e, h, 1000, 100), 200);
    assert.equal(e.rcvLastInsert(h), 0);
    assert.equal(e.rcvHeld(h), 0);
    assert.equal(e.rcvNext(h), 1200);
    assert.deepEqual(sackList(e, h), []);
    assert.deepEqual(readAll(e, h), pattern(1000, 200));
  });

  Deno.test(`${name}: rcv duplicates: already delivered, already held, partly old`, () => {
    const e = make();
    const h = e.rcvCreate(10000, 0);
    insertPattern(e, h, 0, 100);
    assert.equal(insertPattern(e, h, 0, 100), 0);
    assert.equal(e.rcvLastInsert(h), RI_DUPLICATE);
    assert.equal(insertPattern(e, h, 50, 100), 50);
    assert.equal(e.rcvLastInsert(h), RI_DUPLICATE);
    assert.equal(e.rcvNext(h), 150);
    insertPattern(e, h, 300, 100);
    assert.equal(insertPattern(e, h, 300, 100), 0);
    assert.equal(e.rcvLastInsert(h), RI_DUPLICATE | RI_OUT_OF_ORDER);
    assert.equal(insertPattern(e, h, 320, 10), 0);
    assert.equal(e.rcvHeld(h), 100);
    assert.deepEqual(readAll(e, h), pattern(0, 150));
  });

  Deno.test(`${name}: rcv overlaps on the left, on the right, and across several ranges`, () => {
    const e = make();
    const h = e.rcvCreate(10000, 0);
    insertPattern(e, h, 100, 100); // [100,200)
    insertPattern(e, h, 50, 100); // left overlap -> [50,200)
    assert.equal(e.rcvLastInsert(h), RI_DUPLICATE | RI_OUT_OF_ORDER);
    insertPattern(e, h, 150, 100); // right overlap -> [50,250)
    assert.deepEqual(sackList(e, h), [[50, 250]]);
    assert.equal(e.rcvHeld(h), 200);
    insertPattern(e, h, 300, 10);
    insertPattern(e, h, 320, 10);
    insertPattern(e, h, 340, 10);
    assert.equal(e.rcvHeld(h), 230);
    // One segment covering three held ranges and the gaps between them.
    insertPattern(e, h, 240, 120);
    assert.equal(e.rcvLastInsert(h), RI_DUPLICATE | RI_OUT_OF_ORDER);
    assert.deepEqual(sackList(e, h), [[50, 360]]);
    assert.equal(e.rcvHeld(h), 310);
    // Touching (adjacent, no overlap) merges without a duplicate.
    insertPattern(e, h, 360, 40);
    assert.equal(e.rcvLastInsert(h), RI_OUT_OF_ORDER);
    assert.deepEqual(sackList(e, h), [[50, 400]]);
    assert.equal(insertPattern(e, h, 0, 60), 400);
    assert.equal(e.rcvLastInsert(h), RI_DUPLICATE);
    assert.deepEqual(readAll(e, h), pattern(0, 400));
    assert.equal(e.rcvHeld(h), 0);
  });

  Deno.test(`${name}: rcv conflicting overlap keeps the first data`, () => {
    const e = make();
    const h = e.rcvCreate(1000, 0);
    insertPattern(e, h, 10, 20);
    const other = pattern(0, 40, 99);
    assert.equal(insertBytes(e, h, 0, other), 40);
    assert.equal(e.rcvLastInsert(h), RI_DUPLICATE | RI_CONFLICT);
    const got = readAll(e, h);
    assert.deepEqual(got.subarray(0, 10), other.subarray(0, 10));
    assert.deepEqual(got.subarray(10, 30), pattern(10, 20));
    assert.deepEqual(got.subarray(30, 40), other.subarray(30, 40));
  });

  Deno.test(`${name}: rcv across the 2^32 wrap`, () => {
    const e = make();
    const start = 0xffffff00;
    const h = e.rcvCreate(4096, start);
    assert.equal(insertPattern(e, h, 0x40, 0x40), 0); // after the wrap, out of order
    assert.deepEqual(sackList(e, h), [[0x40, 0x80]]);
    assert.equal(insertPattern(e, h, 0xffffffc0, 0x80), 0);
    assert.deepEqual(sackList(e, h), [[0xffffffc0, 0x80]]);
    assert.equal(insertPattern(e, h, start, 0x100), 0x180);
    assert.equal(e.rcvNext(h), 0x80);
    assert.deepEqual(readAll(e, h), pattern(start, 0x180));
    // Old data from before the wrap is a duplicate.
    assert.equal(insertPattern(e, h, 0xfffffff0, 0x10), 0);
    assert.equal(e.rcvLastInsert(h), RI_DUPLICATE);
  });

  Deno.test(`${name}: rcv beyond the window is trimmed (RFC 9293 3.10.7.4)`, () => {
    const e = make();
    const h = e.rcvCreate(1000, 5000);
    assert.equal(insertPattern(e, h, 5900, 500), 0);
    assert.equal(e.rcvLastInsert(h), RI_TRIMMED | RI_OUT_OF_ORDER);
    assert.equal(e.rcvHeld(h), 100);
    assert.deepEqual(sackList(e, h), [[5900, 6000]]);
    assert.equal(insertPattern(e, h, 6000, 10), 0);
    assert.equal(e.rcvLastInsert(h), RI_TRIMMED);
    assert.equal(insertPattern(e, h, 4990, 2000), 1000);
    assert.equal(e.rcvLastInsert(h), RI_TRIMMED | RI_DUPLICATE);
    assert.deepEqual(readAll(e, h), pattern(5000, 1000));
    assert.equal(insertPattern(e, h, 6000, 0), 0);
    assert.equal(e.rcvLastInsert(h), 0);
  });

  Deno.test(`${name}: rcv SACK blocks, most recently touched first (RFC 2018 4)`, () => {
    const e = make();
    const h = e.rcvCreate(100000, 0);
    insertPattern(e, h, 100, 10);
    insertPattern(e, h, 200, 10);
    insertPattern(e, h, 300, 10);
    insertPattern(e, h, 400, 10);
    insertPattern(e, h, 500, 10);
    assert.deepEqual(sackList(e, h), [[500, 510], [400, 410], [300, 310], [200, 210]]);
    assert.deepEqual(sackList(e, h, 3), [[500, 510], [400, 410], [300, 310]]);
    insertPattern(e, h, 105, 10); // touches the oldest
    assert.deepEqual(sackList(e, h, 2), [[100, 115], [500, 510]]);
    assert.deepEqual(sackList(e, h, 0), []);
    const small = new Uint32Array(2);
    assert.equal(e.rcvSack(h, small, 4), 1);
    assert.deepEqual([...small], [100, 115]);
    assert.throws(() => e.rcvSack(h, small, 5), RangeError);
  });

  Deno.test(`${name}: rcv held ranges are capped at 64 (RI_RANGE_LIMIT)`, () => {
    const e = make();
    const h = e.rcvCreate(100000, 0);
    for (let i = 0; i < 64; i++) {
      assert.equal(insertPattern(e, h, 2 + 2 * i, 1), 0);
      assert.equal(e.rcvLastInsert(h), RI_OUT_OF_ORDER);
    }
    assert.equal(insertPattern(e, h, 1000, 1), 0);
    assert.equal(e.rcvLastInsert(h), RI_OUT_OF_ORDER | RI_RANGE_LIMIT);
    assert.equal(e.rcvHeld(h), 64);
    // Extending or joining held ranges is still accepted, and so is in-order data.
    insertPattern(e, h, 129, 1);
    assert.equal(e.rcvLastInsert(h), RI_OUT_OF_ORDER);
    insertPattern(e, h, 3, 1); // joins ranges 0 and 1
    assert.equal(e.rcvHeld(h), 66);
    assert.equal(insertPattern(e, h, 0, 2), 5);
    insertPattern(e, h, 1000, 1); // room for a new range again
    assert.equal(e.rcvLastInsert(h), RI_OUT_OF_ORDER);
  });

  Deno.test(`${name}: rcv argument checks`, () => {
    const e = make();
    for (const bad of [0, -1, 1.5, 2 ** 30 + 1, NaN]) {
      assert.throws(() => e.rcvCreate(bad, 0), RangeError, `capacity ${bad}`);
    }
    assert.throws(() => e.rcvCreate(100, -1), RangeError);
    assert.throws(() => e.rcvCreate(100, 2 ** 32), RangeError);
    const big = e.rcvCreate(2 ** 30, 0); // storage is lazy: this costs nothing yet
    assert.equal(e.rcvWindow(big), 2 ** 30);
    e.rcvDestroy(big);
    const h = e.rcvCreate(100, 0);
    assert.throws(() => e.rcvInsert(h, 0, e.mem.length - 10, 20), RangeError);
    assert.throws(() => e.rcvInsert(h, 0, -1, 20), RangeError);
    assert.throws(() => e.rcvInsert(h + 1, 0, RX_OFF, 20), /Unknown receive buffer handle/);
    e.rcvDestroy(h);
    assert.throws(() => e.rcvNext(h), /Unknown receive buffer handle/);
    assert.throws(() => e.rcvDestroy(h), RangeError);
  });

  Deno.test(`${name}: rcv handles are small and reused`, () => {
    const e = make();
    const a = e.rcvCreate(100, 0), b = e.rcvCreate(100, 0), c = e.rcvCreate(100, 0);
    assert.deepEqual([a, b, c], [0, 1, 2]);
    e.rcvDestroy(b);
    assert.equal(e.rcvCreate(100, 77), 1);
    assert.equal(e.rcvNext(1), 77);
  });

  Deno.test(`${name}: rcv buffer is reusable after draining (storage released and retaken)`, () => {
    const e = make();
    const h = e.rcvCreate(5000, 0);
    let seq = 0;
    for (let round = 0; round < 20; round++) {
      insertPattern(e, h, seq + 1460, 1460);
      assert.equal(insertPattern(e, h, seq, 1460), 2920);
      assert.deepEqual(readAll(e, h), pattern(seq, 2920));
      seq += 2920;
    }
    assert.equal(e.rcvNext(h), seq);
  });
}
