/**
 * Initial sequence numbers per RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), M a clock ticking every 4 µs, F a keyed hash. The hash is SipHash-1-3 style mixing
 * over 32-bit words keyed with 128 random bits drawn when the layer is built.
 *
 * @module
 */

import { isIpv6Handle } from "../wire/ip_handle.ts";
import type { IsnFunction } from "./types.ts";

/** The 16 bytes of an IPv6 handle (the layer below's address table), or null. */
export type AddressBytes = (ip: number) => Uint8Array | null;

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

/** A 32-bit keyed mix of four words (an ARX permutation, 4 rounds per word); also used by ports.ts and syncookie.ts. */
export function keyedHash(key: Uint32Array, a: number, b: number, c: number, d: number): number {
  const w = fourWords; // no array per call (one per connection, and per SYN cookie)
  w[0] = a;
  w[1] = b;
  w[2] = c;
  w[3] = d;
  return keyedHashWords(key, w, 4);
}

const fourWords = new Uint32Array(4);

/** keyedHash over the first `n` words of `words`. */
function keyedHashWords(key: Uint32Array, words: ArrayLike<number>, n: number): number {
  let v0 = key[0]! ^ 0x736f6d65, v1 = key[1]! ^ 0x646f7261, v2 = key[2]! ^ 0x6c796765;
  let v3 = key[3]! ^ 0x74656462;
  for (let i = 0; i < n; i++) {
    const m = words[i]! >>> 0;
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

const tupleWords = new Uint32Array(10);

function putAddr(ip: number, at: number, bytesOf: AddressBytes | undefined): void {
  const b = isIpv6Handle(ip) ? bytesOf?.(ip) : null;
  if (!b) {
    tupleWords[at] = tupleWords[at + 1] = tupleWords[at + 2] = 0;
    tupleWords[at + 3] = ip >= 4294967296 ? (ip / 4294967296) ^ (ip >>> 0) : ip >>> 0;
    return;
  }
  for (let i = 0; i < 4; i++) {
    tupleWords[at + i] = (b[4 * i]! << 24) | (b[4 * i + 1]! << 16) | (b[4 * i + 2]! << 8) |
      b[4 * i + 3]!;
  }
}

/**
 * The keyed hash of a connection's addresses, ports word and a salt: for IPv4 addresses
 * `keyedHash(key, local, remote, ports, salt)`; when either is an IPv6 handle, the hash of the
 * real 16-byte addresses (RFC 6528 section 3 and RFC 6056 section 3.3.4 hash the addresses,
 * not a handle that is reused), read through `bytesOf`.
 */
export function tupleHash(
  key: Uint32Array,
  lip: number,
  rip: number,
  ports: number,
  salt: number,
  bytesOf?: AddressBytes,
): number {
  if (!isIpv6Handle(lip) && !isIpv6Handle(rip)) {
    return keyedHash(key, lip >>> 0, rip >>> 0, ports >>> 0, salt >>> 0);
  }
  putAddr(lip, 0, bytesOf);
  putAddr(rip, 4, bytesOf);
  tupleWords[8] = ports >>> 0;
  tupleWords[9] = salt >>> 0;
  return keyedHashWords(key, tupleWords, 10);
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
export function makeIsn(key?: Uint32Array, bytesOf?: AddressBytes): IsnFunction {
  const k = key ?? crypto.getRandomValues(new Uint32Array(4));
  return (lip, lport, rip, rport, now) => {
    const f = tupleHash(k, lip, rip, ((lport << 16) | rport) >>> 0, 0x9e3779b9, bytesOf);
    // M: a 4 µs timer (RFC 6528 section 3), from the millisecond clock we are given.
    return (f + Math.floor(now * 250)) >>> 0;
  };
}
