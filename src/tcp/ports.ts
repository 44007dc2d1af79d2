/**
 * Ephemeral port selection per RFC 6056 section 3.3.4 (algorithm 4, "double-hash port
 * selection"): the port for a connection is
 *
 *     min_ephemeral + (F(local, remote, remote port, secret1) + table[G(..., secret2)]) % n
 *
 * so the ports used toward one destination say nothing about those used toward another, and
 * a per-bucket counter keeps consecutive connections to one destination apart. As Linux
 * (`__inet_hash_connect` since 5.18), the counter advances by a random step of 1 to 8 rather
 * than by one (RFC 6056 section 3.3.5's random increments), so even connections to the same
 * destination do not get consecutive ports. A collision (the four-tuple in use) moves to the
 * next port, one by one, until every port of the range was tried (RFC 6056 3.3.4's loop).
 *
 * Sans-I/O: the secret is drawn once (or given, for reproducible tests); no clock.
 *
 * @module
 */

import { type AddressBytes, tupleHash } from "./isn.ts";

/** The IANA dynamic range (RFC 6335 section 6), as Linux's default is close to: 49152-65535. */
export const EPHEMERAL_LO = 49152;
/** Ports in the range. */
export const EPHEMERAL_N = 65536 - EPHEMERAL_LO;
/** RFC 6056 3.3.4 TABLE_LENGTH: counters, one per bucket of destinations. */
const TABLE_LENGTH = 1024;

/**
 * The ephemeral port chooser of one TCP layer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EphemeralPorts } from "./ports.ts";
 * const ports = new EphemeralPorts(new Uint32Array([1, 2, 3, 4, 5, 6, 7, 8]));
 * const a = ports.pick(0x0a000001, 0x0a000002, 80, () => false);
 * const b = ports.pick(0x0a000001, 0x0a000002, 80, () => false);
 * assert(a >= 49152 && b >= 49152 && a !== b);
 * ```
 */
export class EphemeralPorts {
  readonly #key1: Uint32Array;
  readonly #key2: Uint32Array;
  readonly #table = new Uint16Array(TABLE_LENGTH);
  #rng: number;
  readonly #bytesOf: AddressBytes | undefined;

  /** `key`: 8 words of secret (random by default); `bytesOf`: IPv6 handles to bytes. */
  constructor(key?: Uint32Array, bytesOf?: AddressBytes) {
    this.#bytesOf = bytesOf;
    const k = key ?? crypto.getRandomValues(new Uint32Array(8));
    this.#key1 = k.subarray(0, 4);
    this.#key2 = k.subarray(4, 8);
    this.#rng = (k[0]! ^ k[5]! ^ 0x9e3779b9) >>> 0 || 1;
    // Counters start anywhere (RFC 6056 3.3.4 allows any initial value).
    for (let i = 0; i < TABLE_LENGTH; i++) this.#table[i] = this.#next() & 0xffff;
  }

  /** xorshift32 from the secret: the random steps (no clock, reproducible with a given key). */
  #next(): number {
    let x = this.#rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (this.#rng = x >>> 0);
  }

  /**
   * A free port toward `remoteIp:remotePort` from `localIp`, or 0 when `inUse` says every port
   * of the range is taken for this destination.
   */
  pick(
    localIp: number,
    remoteIp: number,
    remotePort: number,
    inUse: (port: number) => boolean,
  ): number {
    const l = localIp, r = remoteIp, rp = remotePort & 0xffff, b = this.#bytesOf;
    // F: the offset for this destination (secret1); G: its counter's bucket (secret2).
    const offset = tupleHash(this.#key1, l, r, rp, 0x6056, b);
    const index = tupleHash(this.#key2, l, r, rp, 0x6057, b) % TABLE_LENGTH;
    const base = this.#table[index]!;
    this.#table[index] = (base + 1 + (this.#next() & 7)) & 0xffff; // RFC 6056 3.3.5 style step
    for (let i = 0; i < EPHEMERAL_N; i++) {
      const port = EPHEMERAL_LO + (offset + base + i) % EPHEMERAL_N;
      if (!inUse(port)) {
        if (i > 0) this.#table[index] = (this.#table[index]! + i) & 0xffff; // past the collisions
        return port;
      }
    }
    return 0;
  }
}
