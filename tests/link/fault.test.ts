import assert from "node:assert/strict";
import { type FaultOptions, withFaults } from "../../src/link/fault.ts";
import { createMemoryLinkPair } from "../../src/link/memory.ts";

const LEN = 64;

/** A frame carrying index `i` at bytes 14..17, its complement at 18..21, then a pattern. */
function frame(i: number, len = LEN): Uint8Array {
  const f = new Uint8Array(len);
  new DataView(f.buffer).setUint32(14, i);
  new DataView(f.buffer).setUint32(18, ~i >>> 0);
  for (let j = 22; j < len; j++) f[j] = (j * 7) & 255;
  return f;
}

function intact(f: Uint8Array): boolean {
  const v = new DataView(f.buffer, f.byteOffset, f.length);
  if (v.getUint32(14) !== (~v.getUint32(18) >>> 0)) return false;
  for (let j = 0; j < 14; j++) if (f[j] !== 0) return false;
  for (let j = 22; j < f.length; j++) if (f[j] !== ((j * 7) & 255)) return false;
  return true;
}

interface Run {
  indices: number[];
  corrupted: number;
  stats: Record<string, number>;
}

/** Push `count` frames through an inbound injector, advancing a virtual clock 1 ms a frame. */
function run(count: number, opts: Omit<FaultOptions, "clock">): Run {
  let now = 0;
  const [a, b] = createMemoryLinkPair({ queueLimit: 4096 });
  const f = withFaults(b, { ...opts, clock: () => now, queueLimit: 4096 });
  const buf = new Uint8Array(1 << 20);
  const meta = new Int32Array(1024);
  const indices: number[] = [];
  let corrupted = 0;
  const drain = (): void => {
    for (let k = f.receive(buf, meta, 512); k > 0; k = f.receive(buf, meta, 512)) {
      for (let i = 0; i < k; i++) {
        const got = buf.subarray(meta[2 * i]!, meta[2 * i]! + meta[2 * i + 1]!);
        if (!intact(got)) corrupted++;
        else indices.push(new DataView(got.buffer, got.byteOffset).getUint32(14));
      }
    }
  };
  for (let i = 0; i < count; i++) {
    const fr = frame(i);
    a.send(fr, 0, fr.length);
    drain();
    now += 1;
  }
  for (let guard = 0; f.nextDueAt() !== Infinity && guard < 10_000; guard++) {
    now = Math.max(now, f.nextDueAt());
    drain();
  }
  a.close();
  f.close();
  return { indices, corrupted, stats: { ...f.faultStats } };
}

function within(name: string, observed: number, n: number, p: number, seed: number): void {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(
    Math.abs(observed - n * p) <= 5 * sd + 1,
    `${name}: ${observed} of ${n}, expected ${n * p} +- ${5 * sd} (seed ${seed})`,
  );
}

Deno.test("fault: observed rates match the configured ones over many frames", () => {
  const n = 20_000;
  for (const seed of [1, 0xdecafbad]) {
    const opts = { seed, drop: 0.1, duplicate: 0.05, reorder: 0.05, corrupt: 0.02, reorderMs: 3 };
    const r = run(n, opts);
    const s = r.stats;
    assert.equal(s.frames, n, `seed ${seed}`);
    within("drop", s.dropped!, n, 0.1, seed);
    within("duplicate", s.duplicated!, n - s.dropped!, 0.05, seed);
    within("reorder", s.reordered!, n - s.dropped!, 0.05, seed);
    within("corrupt", s.corrupted!, n - s.dropped!, 0.02, seed);
    assert.equal(s.overflow, 0);
    assert.equal(s.delivered, n - s.dropped! + s.duplicated!, `seed ${seed}`);
    assert.equal(r.corrupted, s.corrupted, `every corrupted frame differs (seed ${seed})`);
    assert.equal(r.indices.length + r.corrupted, s.delivered);
    // Frames that left out of order: a reordered frame is overtaken by about reorderMs frames.
    let late = 0;
    for (let i = 1; i < r.indices.length; i++) if (r.indices[i]! < r.indices[i - 1]!) late++;
    assert.ok(late > 0.5 * s.reordered! && late <= s.reordered!, `${late} late (seed ${seed})`);
  }
});

Deno.test("fault: the same seed gives the same sequence, another seed another one", () => {
  const opts = { drop: 0.2, duplicate: 0.1, reorder: 0.1, corrupt: 0.05, jitterMs: 4 };
  const a = run(2000, { seed: 42, ...opts });
  const b = run(2000, { seed: 42, ...opts });
  const c = run(2000, { seed: 43, ...opts });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.indices, c.indices);
});

Deno.test("fault: no faults configured passes every frame through in order", () => {
  const r = run(500, { seed: 7 });
  assert.deepEqual(r.indices, Array.from({ length: 500 }, (_, i) => i));
  assert.equal(r.stats.delayed, 0);
});

Deno.test("fault: delay, jitter and nextDueAt under a virtual clock", () => {
  let now = 1000;
  const [a, b] = createMemoryLinkPair();
  const f = withFaults(b, { seed: 5, delayMs: 20, jitterMs: 10, clock: () => now });
  const buf = new Uint8Array(1 << 16);
  const meta = new Int32Array(64);
  for (let i = 0; i < 10; i++) a.send(frame(i), 0, LEN);
  assert.equal(f.receive(buf, meta, 32), 0);
  assert.equal(f.nextDueAt() >= 1020 && f.nextDueAt() < 1030, true);
  let got = 0;
  while (f.nextDueAt() !== Infinity) {
    now = f.nextDueAt();
    const k = f.receive(buf, meta, 32);
    assert.ok(k >= 1);
    got += k;
  }
  assert.equal(got, 10);
  assert.ok(now >= 1020 && now < 1030);
  assert.equal(f.faultStats.delayed, 10);
  a.close();
  f.close();
});

Deno.test("fault: the rate limit serializes frames like a slow wire", () => {
  let now = 0;
  const [a, b] = createMemoryLinkPair();
  // 1 Mbit/s: a 1250-byte frame takes 10 ms.
  const f = withFaults(b, { seed: 1, rateBitsPerSec: 1_000_000, clock: () => now });
  const buf = new Uint8Array(1 << 16);
  const meta = new Int32Array(64);
  for (let i = 0; i < 5; i++) a.send(frame(i, 1250), 0, 1250);
  const times: number[] = [];
  f.receive(buf, meta, 32);
  while (f.nextDueAt() !== Infinity) {
    now = f.nextDueAt();
    for (let k = f.receive(buf, meta, 32); k > 0; k--) times.push(now);
  }
  assert.deepEqual(times, [10, 20, 30, 40, 50]);
  a.close();
  f.close();
});

Deno.test("fault: outbound faults apply to sent frames; a full pool overflows", () => {
  let now = 0;
  const [a, b] = createMemoryLinkPair();
  const f = withFaults(a, {
    seed: 9,
    delayMs: 5,
    direction: "out",
    queueLimit: 8,
    clock: () => now,
  });
  for (let i = 0; i < 10; i++) f.send(frame(i), 0, LEN);
  assert.equal(f.faultStats.overflow, 2);
  assert.equal(b.pending, 0, "held for 5 ms");
  now = 5;
  const buf = new Uint8Array(1 << 16);
  const meta = new Int32Array(64);
  assert.equal(f.receive(buf, meta, 32), 0, "receive() on the link releases due outbound frames");
  assert.equal(b.receive(buf, meta, 32), 8);
  assert.equal(f.nextDueAt(), Infinity);
  assert.throws(() => withFaults(a, { seed: 1, drop: 2, clock: () => 0 }), RangeError);
  // A link with offloads carries 64 KiB frames: accepted (they are cut, capabilities.test.ts).
  const big = Object.assign(Object.create(a), { maxFrame: 65553 });
  withFaults(big, { seed: 1, clock: () => 0 }).close();
  f.close();
  b.close();
});

Deno.test("fault: wait() resolves when a held frame falls due (real clock)", async () => {
  const [a, b] = createMemoryLinkPair();
  const f = withFaults(b, { seed: 3, delayMs: 30, clock: () => performance.now() });
  a.send(frame(1), 0, LEN);
  const buf = new Uint8Array(1 << 16);
  const meta = new Int32Array(8);
  const t0 = performance.now();
  assert.equal(f.receive(buf, meta, 4), 0);
  while (f.receive(buf, meta, 4) === 0 && performance.now() - t0 < 2000) await f.wait(1000);
  const waited = performance.now() - t0;
  assert.ok(waited >= 29 && waited < 500, `released after ${waited} ms`);
  a.close();
  f.close();
});
