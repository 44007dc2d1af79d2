/**
 * Path MTU cache (RFC 1191): destinations whose MTU an ICMP fragmentation-needed message
 * lowered, bounded in size, entries expiring after pmtuExpiresMs (Linux mtu_expires).
 *
 * @module
 */

import type { IfaceLimits } from "./limits.ts";

/** Lowered path MTUs per destination. */
export class PathMtuCache {
  #linkMtu: number;
  #limits: IfaceLimits;
  #mtu = new Map<number, { mtu: number; expires: number }>();

  /** A cache for a link of IP MTU `linkMtu`. */
  constructor(linkMtu: number, limits: IfaceLimits) {
    this.#linkMtu = linkMtu;
    this.#limits = limits;
  }

  /** The IP MTU toward `ip` at time `now` (the link MTU unless lowered and not expired). */
  get(ip: number, now = -Infinity): number {
    if (this.#mtu.size === 0) return this.#linkMtu; // asked per segment: no lookup when empty
    const e = this.#mtu.get(ip >>> 0);
    if (e === undefined) return this.#linkMtu;
    if (now >= e.expires) {
      this.#mtu.delete(ip >>> 0);
      return this.#linkMtu;
    }
    return e.mtu;
  }

  /**
   * An ICMP fragmentation-needed message reports `mtu` toward `ip`. RFC 1191 section 6: never
   * raise the estimate from ICMP; values below minPathMtu are raised to it (Linux min_pmtu).
   * Returns the new path MTU, or -1 when nothing changed.
   */
  lower(ip: number, mtu: number, now: number): number {
    const cur = this.get(ip, now);
    const v = Math.max(mtu, this.#limits.minPathMtu);
    if (v >= cur) return -1;
    const key = ip >>> 0;
    if (!this.#mtu.has(key) && this.#mtu.size >= this.#limits.pmtuCacheSize) {
      // Bounded: forget the oldest entry (Map keeps insertion order).
      const oldest = this.#mtu.keys().next();
      if (!oldest.done) this.#mtu.delete(oldest.value);
    }
    this.#mtu.set(key, { mtu: v, expires: now + this.#limits.pmtuExpiresMs });
    return v;
  }

  /** Entries held. */
  get size(): number {
    return this.#mtu.size;
  }
}
