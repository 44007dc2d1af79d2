/**
 * The Default Router List and the Prefix List of a host (RFC 4861 sections 5.1, 6.3.4, 6.3.5),
 * sans-I/O, bounded (`ndRouters`, `ndPrefixes`), and next-hop determination (section 5.2):
 * fe80::/10, our configured prefixes and the advertised on-link prefixes are on-link; anything
 * else goes to a default router.
 *
 * - A router advertisement's Router Lifetime adds or refreshes the router; 0 removes it.
 * - A Prefix Information option with the L flag adds or refreshes an on-link prefix for its
 *   valid lifetime; 0 removes it; the link-local prefix is ignored (section 6.3.4).
 * - Entries expire when their lifetime ends. When a list is full, new routers or prefixes are
 *   not learned (counted by the caller): advertisements never push out what is in use.
 * - Default router selection (section 6.3.6): the first router whose neighbor entry is known
 *   reachable (`reachable` callback), else round-robin over the list.
 *
 * @module
 */

import type { IfaceLimits } from "./limits.ts";
import { lifetime } from "./ndp_addresses.ts";

/** One default router. */
export interface Router6 {
  /** Its link-local address. */
  readonly addr: Uint8Array;
  /** When its router lifetime ends. */
  expires: number;
}

/** One on-link prefix. */
export interface Prefix6 {
  /** The prefix, bits past `length` zero. */
  readonly prefix: Uint8Array;
  /** Prefix length in bits. */
  readonly length: number;
  /** When its valid lifetime ends (Infinity for configured prefixes). */
  expires: number;
  /** Configured (from our own addresses) rather than advertised. */
  readonly configured: boolean;
}

/** Default routers and on-link prefixes. */
export class RouterTable6 {
  /** The Default Router List. */
  readonly routers: Router6[] = [];
  /** The Prefix List (configured and advertised). */
  readonly prefixes: Prefix6[] = [];
  #limits: IfaceLimits;
  #due = Infinity;
  #rr = 0;

  /** Lists bounded by `limits`. */
  constructor(limits: IfaceLimits) {
    this.#limits = limits;
  }

  /** A configured on-link prefix (from an address we were given); never expires. */
  addConfigured(addr: Uint8Array, length: number): void {
    const p = masked(addr, length);
    if (this.#findPrefix(p, length) !== undefined) return;
    this.prefixes.push({ prefix: p, length, expires: Infinity, configured: true });
  }

  /**
   * A router advertisement from `addr` with Router Lifetime `lifetimeS` seconds.
   * Returns "added", "updated", "removed", "absent" (lifetime 0, not listed) or "full".
   */
  router(addr: Uint8Array, lifetimeS: number, now: number): string {
    const i = this.routers.findIndex((r) => same16(r.addr, addr));
    if (lifetimeS === 0) {
      if (i < 0) return "absent";
      this.routers.splice(i, 1);
      return "removed";
    }
    const expires = now + lifetimeS * 1000;
    this.#due = Math.min(this.#due, expires);
    if (i >= 0) {
      this.routers[i]!.expires = expires;
      return "updated";
    }
    if (this.routers.length >= this.#limits.ndRouters) return "full";
    this.routers.push({ addr: Uint8Array.from(addr.subarray(0, 16)), expires });
    return "added";
  }

  /** Forget `addr` as a router (its IsRouter flag went to 0, RFC 4861 7.2.5). */
  removeRouter(addr: Uint8Array): boolean {
    const i = this.routers.findIndex((r) => same16(r.addr, addr));
    if (i >= 0) this.routers.splice(i, 1);
    return i >= 0;
  }

  /**
   * A Prefix Information option with the L flag: `validS` seconds (0xffffffff infinite).
   * Returns "added", "updated", "removed", "absent", "ignored" (link-local) or "full".
   */
  prefix(prefix: Uint8Array, length: number, validS: number, now: number): string {
    if (length > 128) return "ignored";
    const p = masked(prefix, length);
    if (p[0] === 0xfe && (p[1]! & 0xc0) === 0x80) return "ignored"; // link-local prefix
    const cur = this.#findPrefix(p, length);
    if (cur?.configured) return "updated"; // configured prefixes stay on-link
    if (validS === 0) {
      if (cur === undefined) return "absent";
      this.prefixes.splice(this.prefixes.indexOf(cur), 1);
      return "removed";
    }
    const expires = lifetime(validS, now);
    this.#due = Math.min(this.#due, expires);
    if (cur !== undefined) {
      cur.expires = expires;
      return "updated";
    }
    if (this.prefixes.filter((x) => !x.configured).length >= this.#limits.ndPrefixes) {
      return "full";
    }
    this.prefixes.push({ prefix: p, length, expires, configured: false });
    return "added";
  }

  /** Whether `dst` is on-link (RFC 4861 5.2): link-local, multicast, or in a listed prefix. */
  onLink(dst: Uint8Array, now: number): boolean {
    if (dst[0] === 0xff || (dst[0] === 0xfe && (dst[1]! & 0xc0) === 0x80)) return true;
    for (const p of this.prefixes) {
      if (now < p.expires && inPrefix(dst, p.prefix, p.length)) return true;
    }
    return false;
  }

  /** The default router to use (RFC 4861 6.3.6), or null when the list is empty. */
  defaultRouter(now: number, reachable: (addr: Uint8Array) => boolean): Uint8Array | null {
    const live = this.routers.filter((r) => now < r.expires);
    if (live.length === 0) return null;
    for (const r of live) if (reachable(r.addr)) return r.addr;
    this.#rr = (this.#rr + 1) % live.length;
    return live[this.#rr]!.addr;
  }

  /** Expire routers and prefixes. Returns how many entries were removed. */
  poll(now: number): number {
    let removed = 0;
    let due = Infinity;
    for (let i = this.routers.length - 1; i >= 0; i--) {
      const r = this.routers[i]!;
      if (now >= r.expires) {
        this.routers.splice(i, 1);
        removed++;
      } else due = Math.min(due, r.expires);
    }
    for (let i = this.prefixes.length - 1; i >= 0; i--) {
      const p = this.prefixes[i]!;
      if (now >= p.expires) {
        this.prefixes.splice(i, 1);
        removed++;
      } else due = Math.min(due, p.expires);
    }
    this.#due = due;
    return removed;
  }

  /** The earliest deadline of poll(), or Infinity. */
  pollAt(): number {
    return this.#due;
  }

  #findPrefix(p: Uint8Array, length: number): Prefix6 | undefined {
    return this.prefixes.find((x) => x.length === length && same16(x.prefix, p));
  }
}

/** `addr` with the bits past `length` cleared. */
export function masked(addr: Uint8Array, length: number): Uint8Array {
  const p = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, length - i * 8));
    p[i] = addr[i]! & ((0xff00 >> bits) & 0xff);
  }
  return p;
}

/** Whether `a` lies in `prefix`/`length`. */
export function inPrefix(a: Uint8Array, prefix: Uint8Array, length: number): boolean {
  for (let i = 0; i < 16 && i * 8 < length; i++) {
    const bits = Math.min(8, length - i * 8);
    const mask = (0xff00 >> bits) & 0xff;
    if ((a[i]! & mask) !== prefix[i]) return false;
  }
  return true;
}

function same16(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}
