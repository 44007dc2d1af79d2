// Differential property tests of the stream buffers: the JS and WASM engines fed the same
// random work must report the same results at every step, and the delivered stream must equal
// the original byte for byte. Seeded; fast-check prints the seed and path of any failure, and
// TCPIP_SEED=<n> replays one.
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Engine } from "../../src/kernels/engine.ts";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { createWasmEngine } from "../../src/kernels/wasm_engine.ts";
import { RX_OFF, TX_PAYLOAD_OFF } from "../../src/wire/layout.ts";
import { pattern } from "../support/rng.ts";

const SEED = Number(Deno.env.get("TCPIP_SEED") ?? 20261125);
const RUNS = 150;

/** Everything observable about a receive buffer after a step. */
function rcvState(e: Engine, h: number): number[] {
  const out = new Uint32Array(8);
  const n = e.rcvSack(h, out, 4);
  return [
    e.rcvLastInsert(h),
    e.rcvNext(h),
    e.rcvReadable(h),
    e.rcvWindow(h),
    e.rcvHeld(h),
    n,
    ...out.subarray(0, 2 * n),
  ];
}

interface Seg {
  start: number; // offset in the stream
  len: number;
  salt: number; // 0: true data; otherwise conflicting bytes
}

/** A stream, its segments in arrival order with duplicates and overlaps, and read sizes. */
const scenario = fc.record({
  isn: fc.oneof(fc.nat({ max: 0xffffffff }), fc.integer({ min: 0xffffc000, max: 0xffffffff })),
  length: fc.integer({ min: 1, max: 12000 }),
  capacity: fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 3000, max: 20000 })),
  cuts: fc.array(fc.integer({ min: 1, max: 1600 }), { minLength: 1, maxLength: 40 }),
  shuffle: fc.array(fc.nat(), { maxLength: 80 }),
  extras: fc.array(
    fc.record({ at: fc.nat(), len: fc.integer({ min: 1, max: 3000 }) }),
    { maxLength: 20 },
  ),
  reads: fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 20 }),
  conflicts: fc.boolean(),
  // Receive buffer auto-tuning: grow by this much at every fifth segment (0: never).
  grow: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5000 })),
});

function makeStream(length: number, isn: number): Uint8Array {
  return pattern(length, isn ^ 0x9e3779b9);
}

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function segments(sc: Scenario): Seg[] {
  const segs: Seg[] = [];
  let pos = 0, k = 0;
  while (pos < sc.length) {
    const len = Math.min(sc.cuts[k++ % sc.cuts.length]!, sc.length - pos);
    segs.push({ start: pos, len, salt: 0 });
    pos += len;
  }
  for (const x of sc.extras) {
    const start = x.at % sc.length;
    segs.push({
      start,
      len: Math.min(x.len, sc.length - start),
      salt: sc.conflicts ? 1 + (x.at % 251) : 0,
    });
  }
  for (let i = 0; i < sc.shuffle.length && segs.length > 1; i++) {
    const a = i % segs.length, b = sc.shuffle[i]! % segs.length;
    [segs[a], segs[b]] = [segs[b]!, segs[a]!];
  }
  return segs;
}

function insertSeg(e: Engine, h: number, isn: number, stream: Uint8Array, s: Seg): number {
  const mem = e.mem;
  mem.set(stream.subarray(s.start, s.start + s.len), RX_OFF);
  if (s.salt !== 0) {
    for (let i = 0; i < s.len; i++) mem[RX_OFF + i]! ^= s.salt;
  }
  return e.rcvInsert(h, (isn + s.start) >>> 0, RX_OFF, s.len);
}

Deno.test("js and wasm reassembly agree on random segment streams", () => {
  fc.assert(
    fc.property(scenario, (sc) => {
      const engines = [createJsEngine(), createWasmEngine()];
      const handles = engines.map((e) => e.rcvCreate(sc.capacity, sc.isn));
      const stream = makeStream(sc.length, sc.isn);
      const delivered = engines.map(() => [] as Uint8Array[]);
      const read = (step: number, drain = false): void => {
        const size = drain
          ? engines[0]!.rcvReadable(handles[0]!)
          : sc.reads[step % sc.reads.length]!;
        const got = engines.map((e, i) => {
          const buf = new Uint8Array(size);
          const n = e.rcvRead(handles[i]!, buf);
          delivered[i]!.push(buf.subarray(0, n));
          return buf.subarray(0, n);
        });
        assert.deepEqual(got[1], got[0]);
      };
      let capacity = sc.capacity;
      const step = (s: Seg, i: number): void => {
        if (sc.grow > 0 && i % 5 === 4) {
          capacity += sc.grow;
          engines.forEach((e, k) => e.rcvGrow(handles[k]!, capacity));
          assert.deepEqual(rcvState(engines[1]!, handles[1]!), rcvState(engines[0]!, handles[0]!));
        }
        const r = engines.map((e, k) => insertSeg(e, handles[k]!, sc.isn, stream, s));
        assert.equal(r[1], r[0], `insert result, segment ${i}`);
        assert.deepEqual(rcvState(engines[1]!, handles[1]!), rcvState(engines[0]!, handles[0]!));
        if (i % 3 === 2) read(i);
      };
      segments(sc).forEach(step);
      // Retransmit everything in order, reading as we go, until the whole stream is delivered.
      for (
        let round = 0;
        engines[0]!.rcvNext(handles[0]!) !== ((sc.isn + sc.length) >>> 0);
        round++
      ) {
        assert.ok(round < 100 + sc.length, "stream never completed");
        const off = (engines[0]!.rcvNext(handles[0]!) - sc.isn) >>> 0;
        step({ start: off, len: Math.min(1460, sc.length - off), salt: 0 }, round);
        read(round, true);
      }
      engines.forEach((e, i) => {
        const rest = new Uint8Array(e.rcvReadable(handles[i]!));
        e.rcvRead(handles[i]!, rest);
        delivered[i]!.push(rest);
      });
      const whole = delivered.map((parts) => {
        const out = new Uint8Array(sc.length);
        let p = 0;
        for (const part of parts) {
          out.set(part, p);
          p += part.length;
        }
        assert.equal(p, sc.length);
        return out;
      });
      assert.deepEqual(whole[1], whole[0]);
      if (!sc.conflicts) assert.deepEqual(whole[0], stream);
      engines.forEach((e, i) => e.rcvDestroy(handles[i]!));
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

Deno.test("js and wasm reassembly agree when a peer fills the range table", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 50, maxLength: 300 }),
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 10 }),
      (isn, starts, lens) => {
        const engines = [createJsEngine(), createWasmEngine()];
        const handles = engines.map((e) => e.rcvCreate(4096, isn));
        const stream = makeStream(4100, isn);
        starts.forEach((start, i) => {
          const s = { start, len: Math.min(lens[i % lens.length]!, 4100 - start), salt: 0 };
          const r = engines.map((e, k) => insertSeg(e, handles[k]!, isn, stream, s));
          assert.equal(r[1], r[0]);
          assert.deepEqual(rcvState(engines[1]!, handles[1]!), rcvState(engines[0]!, handles[0]!));
        });
        const drops = engines.map((e, k) =>
          (e as unknown as { rcvRangeLimitDrops(h: number): number }).rcvRangeLimitDrops(
            handles[k]!,
          )
        );
        assert.equal(drops[1], drops[0]);
      },
    ),
    { seed: SEED, numRuns: 60 },
  );
});

Deno.test("js and wasm send rings agree on random write, copy and release", () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant("write" as const), n: fc.integer({ min: 0, max: 5000 }) }),
    fc.record({ kind: fc.constant("copy" as const), at: fc.nat(), n: fc.nat({ max: 3000 }) }),
    fc.record({ kind: fc.constant("release" as const), n: fc.integer({ min: -10, max: 4000 }) }),
    fc.record({ kind: fc.constant("grow" as const), n: fc.nat({ max: 6000 }) }),
  );
  fc.assert(
    fc.property(
      fc.nat({ max: 0xffffffff }),
      fc.integer({ min: 1, max: 8000 }),
      fc.array(op, { maxLength: 60 }),
      (isn, capacity0, ops) => {
        let capacity = capacity0;
        const engines = [createJsEngine(), createWasmEngine()];
        const handles = engines.map((e) => e.sndCreate(capacity, isn));
        const stream = makeStream(200000, isn);
        let written = 0, una = 0; // stream offsets
        for (const o of ops) {
          if (o.kind === "write") {
            const src = stream.subarray(written, written + o.n);
            const r = engines.map((e, k) => e.sndWrite(handles[k]!, src));
            assert.equal(r[1], r[0]);
            assert.equal(r[0], Math.min(o.n, capacity - (written - una)));
            written += r[0]!;
          } else if (o.kind === "copy") {
            const held = written - una;
            const rel = held === 0 ? 0 : o.at % (held + 1);
            const len = Math.min(o.n, held - rel);
            const seq = (isn + una + rel) >>> 0;
            const got = engines.map((e, k) => {
              e.sndCopy(handles[k]!, seq, len, TX_PAYLOAD_OFF);
              return e.mem.slice(TX_PAYLOAD_OFF, TX_PAYLOAD_OFF + len);
            });
            assert.deepEqual(got[0], stream.subarray(una + rel, una + rel + len));
            assert.deepEqual(got[1], got[0]);
          } else if (o.kind === "grow") {
            capacity += o.n;
            engines.forEach((e, k) => e.sndGrow(handles[k]!, capacity));
          } else {
            const ack = (isn + una + o.n) >>> 0;
            const r = engines.map((e, k) => e.sndRelease(handles[k]!, ack));
            assert.equal(r[1], r[0]);
            assert.equal(r[0], Math.max(0, Math.min(o.n, written - una)));
            una += r[0]!;
          }
          const st = engines.map((e, k) => {
            const h = handles[k]!;
            return [e.sndHead(h), e.sndLength(h), e.sndFree(h)];
          });
          assert.deepEqual(st[1], st[0]);
          assert.deepEqual(st[0], [(isn + una) >>> 0, written - una, capacity - written + una]);
        }
      },
    ),
    { seed: SEED, numRuns: RUNS },
  );
});

Deno.test("both engines refuse to shrink a buffer and grow an empty one without storage", () => {
  for (const e of [createJsEngine(), createWasmEngine()]) {
    const r = e.rcvCreate(1000, 5), s = e.sndCreate(1000, 5);
    assert.throws(() => e.rcvGrow(r, 999), RangeError);
    assert.throws(() => e.sndGrow(s, 999), RangeError);
    assert.throws(() => e.rcvGrow(r, 0), RangeError);
    e.rcvGrow(r, 4000);
    e.sndGrow(s, 4000);
    assert.equal(e.rcvWindow(r), 4000);
    assert.equal(e.sndFree(s), 4000);
    assert.throws(() => e.rcvGrow(99, 5000), RangeError);
    e.rcvDestroy(r);
    e.sndDestroy(s);
  }
});
