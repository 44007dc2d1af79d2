/**
 * The relay's buffers (src/gateway/relay.ts): a direction starts with a small buffer and grows
 * it only while reads fill it, up to the relay's bound; bytes arrive exact and in order either
 * way, and half-close is passed on.
 */

import assert from "node:assert/strict";
import {
  grownSize,
  pooledBuffers,
  relay,
  RELAY_FIRST_BUFFER,
  type RelayEnd,
} from "../../src/gateway/relay.ts";

/** A connection end that reads `data` in chunks of at most `chunk`, and records writes. */
class FakeEnd implements RelayEnd {
  readSizes: number[] = [];
  readBuffers: ArrayBufferLike[] = [];
  written: Uint8Array[] = [];
  writeClosed = false;
  closed = false;
  #off = 0;
  constructor(readonly data: Uint8Array, readonly chunk: number) {}
  read(p: Uint8Array): Promise<number | null> {
    this.readSizes.push(p.length);
    this.readBuffers.push(p.buffer);
    if (this.#off >= this.data.length) return Promise.resolve(null);
    const n = Math.min(p.length, this.chunk, this.data.length - this.#off);
    p.set(this.data.subarray(this.#off, this.#off + n));
    this.#off += n;
    return Promise.resolve(n);
  }
  write(p: Uint8Array): Promise<number> {
    const n = Math.min(p.length, 5000); // partial writes: the relay must loop
    this.written.push(p.slice(0, n));
    return Promise.resolve(n);
  }
  closeWrite(): Promise<void> {
    this.writeClosed = true;
    return Promise.resolve();
  }
  close(): void {
    this.closed = true;
  }
  joined(): Uint8Array {
    const out = new Uint8Array(this.written.reduce((s, b) => s + b.length, 0));
    let o = 0;
    for (const b of this.written) {
      out.set(b, o);
      o += b.length;
    }
    return out;
  }
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 8)) & 0xff;
  return b;
}

Deno.test("gateway relay: buffers start small, grow while reads fill them, bytes exact both ways", async () => {
  const bound = 262144;
  const bulk = pattern(3 << 20, 1); // a bulk direction: reads fill whatever buffer they get
  const small = pattern(20000, 7); // request/response sized: 1 KiB reads never fill 16 KiB
  const a = new FakeEnd(bulk, Infinity);
  const b = new FakeEnd(small, 1024);
  const r = await relay(a, b, bound);
  assert.deepEqual(r, { aToB: bulk.length, bToA: small.length, clean: true });
  assert.deepEqual(b.joined(), bulk);
  assert.deepEqual(a.joined(), small);
  assert.ok(a.writeClosed && b.writeClosed && a.closed && b.closed);
  // Bulk: 16 KiB, 64 KiB, then the bound for every further read.
  assert.deepEqual(a.readSizes.slice(0, 4), [RELAY_FIRST_BUFFER, 65536, bound, bound]);
  assert.equal(Math.max(...a.readSizes), bound);
  // Small reads keep the first buffer.
  assert.ok(b.readSizes.every((n) => n === RELAY_FIRST_BUFFER), `${b.readSizes}`);
});

Deno.test("gateway relay: a bound below the first buffer size is kept", async () => {
  const a = new FakeEnd(pattern(50000, 3), Infinity);
  const b = new FakeEnd(new Uint8Array(0), 1);
  const r = await relay(a, b, 4096);
  assert.equal(r.aToB, 50000);
  assert.ok(a.readSizes.every((n) => n === 4096), `${a.readSizes}`);
});

Deno.test("gateway relay: reads toward a side with a segment size grow in whole segments", async () => {
  const seg = 65468; // MTU 65520 less IPv4, TCP and timestamp headers
  assert.equal(grownSize(16384, 262144, seg), seg); // 64 KiB holds one
  assert.equal(grownSize(seg, 262144, seg), 4 * seg); // 256 KiB holds four
  assert.equal(grownSize(1000, 262144, seg), 4000, "below one segment: as it is");
  assert.equal(grownSize(16384, 262144, 0), 65536);
  assert.equal(grownSize(1000, 2000, 1448), 1448);
  // Through relay(): b's bytes toward a are read in whole segments of a once grown.
  const bulk = pattern(2 << 20, 5);
  const a = new FakeEnd(new Uint8Array(0), 1);
  const b = new FakeEnd(bulk, Infinity);
  const r = await relay(a, b, 262144, undefined, seg);
  assert.equal(r.bToA, bulk.length);
  assert.deepEqual(a.joined(), bulk);
  assert.deepEqual(b.readSizes.slice(0, 4), [RELAY_FIRST_BUFFER, seg, 4 * seg, 4 * seg]);
  assert.equal(Math.max(...b.readSizes), 4 * seg);
});

Deno.test("gateway relay: first buffers go back to a bounded pool and carry nothing of their last relay", async () => {
  // A relay of 16 KiB-filling reads each way, then one of a few bytes: the second takes the
  // buffers the first gave back, and moves exactly its own bytes.
  const first = [
    new FakeEnd(pattern(RELAY_FIRST_BUFFER, 11), 4000),
    new FakeEnd(pattern(9000, 12), 4000),
  ];
  await relay(first[0]!, first[1]!, 1 << 20);
  const given = new Set(first.flatMap((e) => e.readBuffers));
  assert.ok(pooledBuffers() >= 2, `${pooledBuffers()} pooled`);
  const a = new FakeEnd(new Uint8Array([1, 2, 3]), 3);
  const b = new FakeEnd(new Uint8Array([9]), 1);
  const r = await relay(a, b, 1 << 20);
  assert.deepEqual(r, { aToB: 3, bToA: 1, clean: true });
  assert.deepEqual(b.joined(), new Uint8Array([1, 2, 3]));
  assert.deepEqual(a.joined(), new Uint8Array([9]));
  assert.ok(given.has(a.readBuffers[0]!) && given.has(b.readBuffers[0]!), "buffers reused");
  // A failed relay gives its buffers back too; the pool never holds more than its bound.
  const failing: RelayEnd = {
    read: () => Promise.reject(new Error("reset")),
    write: () => Promise.reject(new Error("broken pipe")),
    closeWrite: () => Promise.resolve(),
    close: () => {},
  };
  await Promise.all(
    Array.from({ length: 100 }, () => relay(failing, new FakeEnd(pattern(10, 1), 10), 1 << 20)),
  );
  assert.ok(pooledBuffers() <= 64, `${pooledBuffers()} pooled`);
});
