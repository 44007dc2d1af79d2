/**
 * Initial sequence numbers per RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), M a clock ticking every 4 µs, F a keyed hash. The hash is SipHash-1-3 style mixing
 * over 32-bit words keyed with 128 random bits drawn when the layer is built.
 *
 * @module
 */

import type { IsnFunction } from "./types.ts";

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

/** A 32-bit keyed mix of four words (an ARX permutation, 4 rounds per word); also used by ports.ts and syncookie.ts. */
export function keyedHash(key: Uint32Array, a: number, b: number, c: number, d: number): number {
  let v0 = key[0]! ^ 0x736f6d65, v1 = key[1]! ^ 0x646f7261, v2 = key[2]! ^ 0x6c796765;
  let v3 = key[3]! ^ 0x74656462;
  const words = [a, b, c, d];
  for (const m of words) {
    v3 ^= m;
    for (let r = 0; r < 4; r++) {
      v0 = (v0 + v1) >>> 0;
      v1 = rotl(v1, 5) ^ v0;
      v0 = rotl(v0, 16);
      v2 = (v2 + v3) >>> 0;
      v3 = rotl(v3, 8) ^ v2;
      v0 = (v0 + v3) >>> 0;
      v3 = rotl(v3, 7) ^ v0;
      v2 = (v2 + v1) >>> 0;
      v1 = rotl(v1, 13) ^ v2;
      v2 = rotl(v2, 16);
    }
    v0 ^= m;
  }
  return (v0 ^ v1 ^ v2 ^ v3) >>> 0;
}

/**
 * Make the default ISN function of RFC 6528 section 3 with a fresh random key (or `key` for
 * reproducible runs).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeIsn } from "./isn.ts";
 * const isn = makeIsn(new Uint32Array([1, 2, 3, 4]));
 * assert(isn(1, 2, 3, 4, 0) !== isn(1, 2, 3, 5, 0));
 * ```
 */
export function makeIsn(key?: Uint32Array): IsnFunction {
  const k = key ?? crypto.getRandomValues(new Uint32Array(4));
  return (lip, lport, rip, rport, now) => {
    const f = keyedHash(k, lip >>> 0, rip >>> 0, ((lport << 16) | rport) >>> 0, 0x9e3779b9);
    // M: a 4 µs timer (RFC 6528 section 3), from the millisecond clock we are given.
    return (f + Math.floor(now * 250)) >>> 0;
  };
}
