/**
 * The relay's buffers (src/gateway/relay.ts): a direction starts with a small buffer and grows
 * it only while reads fill it, up to the relay's bound; bytes arrive exact and in order either
 * way, and half-close is passed on.
 */

import assert from "node:assert/strict";
import { relay, RELAY_FIRST_BUFFER, type RelayEnd } from "../../src/gateway/relay.ts";

/** A connection end that reads `data` in chunks of at most `chunk`, and records writes. */
class FakeEnd implements RelayEnd {
  readSizes: number[] = [];
  written: Uint8Array[] = [];
  writeClosed = false;
  closed = false;
  #off = 0;
  constructor(readonly data: Uint8Array, readonly chunk: number) {}
  read(p: Uint8Array): Promise<number | null> {
    this.readSizes.push(p.length);
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
