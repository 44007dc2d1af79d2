/**
 * The one seeded random generator of the tests, tools and benchmarks (mulberry32: 32 bits of
 * state, full period, good enough for simulation and fuzzing, reproducible from its seed).
 * Print the seed on failure; the same seed gives the same run.
 *
 * The library's own fault injector (src/link/fault.ts) keeps its generator: src/ does not
 * import test support.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pattern, Rng, rng } from "./rng.ts";
 * const a = new Rng(7), b = rng(7);
 * assert.equal(a.float(), b());
 * assert.deepEqual(pattern(16, 3), pattern(16, 3));
 * ```
 *
 * @module
 */

/** A seeded generator (mulberry32). */
export class Rng {
  #s: number;
  /** A generator starting from `seed` (any integer). */
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** The next u32. */
  u32(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }
  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  /** One element of `xs`. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  /** Fill `out[off, off+len)` with random bytes (4 per u32); returns `out`. */
  fill(out: Uint8Array, off = 0, len: number = out.length - off): Uint8Array {
    const end = off + len;
    let i = off;
    for (; i + 4 <= end; i += 4) {
      const x = this.u32();
      out[i] = x & 255;
      out[i + 1] = (x >>> 8) & 255;
      out[i + 2] = (x >>> 16) & 255;
      out[i + 3] = x >>> 24;
    }
    if (i < end) {
      let x = this.u32();
      for (; i < end; i++, x >>>= 8) out[i] = x & 255;
    }
    return out;
  }
}

/** Floats in [0, 1) from `new Rng(seed)`, as a function (for `random` options). */
export function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.float();
}

/** `n` deterministic bytes from `seed`: test data whose copies compare byte for byte. */
export function pattern(n: number, seed: number): Uint8Array {
  return new Rng(seed).fill(new Uint8Array(n));
}
