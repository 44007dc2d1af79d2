/**
 * IPv6 path MTU cache (RFC 8201): destinations whose path MTU a Packet Too Big message lowered,
 * bounded in size (`pmtuCacheSize`), entries expiring after `pmtuExpiresMs` (RFC 8201 section
 * 4: a node may try a larger PMTU after at least 5 minutes, 10 recommended; Linux
 * mtu_expires 600 s), as the IPv4 cache (pmtu.ts).
 *
 * RFC 8201 section 4 / RFC 8200 section 5: a reported MTU below 1280 is not used to lower the
 * path MTU below 1280 (the message is ignored: fragments of our own datagrams are frag6's job,
 * and RFC 8021 deprecates atomic fragments); a PTB never raises the estimate.
 *
 * @example
 * ```ts
 * import { PathMtuCache6 } from "./pmtu6.ts";
 * import { DEFAULT_LIMITS } from "./limits.ts";
 * const c = new PathMtuCache6(1500, DEFAULT_LIMITS);
 * const dst = new Uint8Array(16).fill(0xfd, 0, 1);
 * if (c.lower(dst, 1400, 0) !== 1400 || c.get(dst, 1) !== 1400) throw new Error("not lowered");
 * if (c.lower(dst, 1000, 2) !== -1) throw new Error("below 1280 must be ignored");
 * ```
 *
 * @module
 */

import type { IfaceLimits } from "./limits.ts";
import { key16 } from "./neighbor6.ts";

/** The IPv6 minimum link MTU (RFC 8200 section 5). */
export const IPV6_MIN_MTU = 1280;

/** Lowered IPv6 path MTUs per destination. */
export class PathMtuCache6 {
  /** The link's IPv6 MTU (an RA MTU option may lower it, RFC 4861 6.3.4). */
  linkMtu: number;
  #limits: IfaceLimits;
  #mtu = new Map<string, { mtu: number; expires: number }>();
  /** Packet Too Big messages whose MTU was below 1280 (ignored). */
  belowMinimum = 0;

  /** A cache for a link of IPv6 MTU `linkMtu`. */
  constructor(linkMtu: number, limits: IfaceLimits) {
    this.linkMtu = linkMtu;
    this.#limits = limits;
  }

  /** The path MTU toward `m[off, off+16)` at `now`. */
  get(m: Uint8Array, now: number, off = 0): number {
    if (this.#mtu.size === 0) return this.linkMtu; // asked per segment: no lookup when empty
    const k = key16(m, off);
    const e = this.#mtu.get(k);
    if (e === undefined) return this.linkMtu;
    if (now >= e.expires) {
      this.#mtu.delete(k);
      return this.linkMtu;
    }
    return Math.min(e.mtu, this.linkMtu);
  }

  /**
   * A Packet Too Big reports `mtu` toward `dst`. Returns the new path MTU, or -1 when nothing
   * changed (not lower than the current estimate, or below 1280: ignored and counted).
   */
  lower(dst: Uint8Array, mtu: number, now: number, off = 0): number {
    if (mtu < IPV6_MIN_MTU) {
      this.belowMinimum++;
      return -1;
    }
    const cur = this.get(dst, now, off);
    if (mtu >= cur) return -1;
    const k = key16(dst, off);
    if (!this.#mtu.has(k) && this.#mtu.size >= this.#limits.pmtuCacheSize) {
      // Bounded: forget the oldest entry (Map keeps insertion order).
      const oldest = this.#mtu.keys().next();
      if (!oldest.done) this.#mtu.delete(oldest.value);
    }
    this.#mtu.delete(k); // re-inserted last: the newest
    this.#mtu.set(k, { mtu, expires: now + this.#limits.pmtuExpiresMs });
    return mtu;
  }

  /** Entries held. */
  get size(): number {
    return this.#mtu.size;
  }
}
