/**
 * The IPv6 neighbor cache (RFC 4861 section 7.3), sans-I/O: neighbor address to MAC with the
 * reachability states of section 7.3.2, bounded in size, with a bounded queue of frames per
 * address being resolved (section 7.2.2).
 *
 * States: INCOMPLETE (multicast solicitations are out, frames wait), REACHABLE (confirmed within
 * ReachableTime), STALE (older; still used, and a use starts NUD), DELAY (used while stale;
 * waits DELAY_FIRST_PROBE_TIME for an upper-layer confirmation), PROBE (unicast solicitations
 * every RetransTimer, MAX_UNICAST_SOLICIT of them, then the entry is deleted, section 7.3.3).
 *
 * Policy against floods and spoofing, as the ARP cache (arp_cache.ts; documented choice):
 * - Entries are created only by our own resolutions and by messages that RFC 4861 lets create
 *   them (a solicitation with a source link-layer option addressed to us, section 7.2.3; a
 *   router advertisement's, section 6.3.4), and only while the cache has room. Messages from
 *   the wire never evict, so a flood cannot push out live entries.
 * - An unsolicited advertisement never creates an entry (section 7.2.5).
 * - Advertisements follow section 7.2.5 to the letter: without the Override flag a different
 *   link-layer address does not replace the cached one (a REACHABLE entry only turns STALE).
 * - Solicitations and router advertisements carrying a different link-layer address do not
 *   overwrite a REACHABLE entry (counted as a conflict, as ARP); a STALE, DELAY or PROBE
 *   entry takes the new address and turns STALE (sections 7.2.3, 6.3.4).
 * - Our own resolutions may evict, in this order: the least recently used settled entry idle
 *   for as long as a resolution may take, else the oldest INCOMPLETE entry (its frames dropped),
 *   else the least recently used settled entry.
 *
 * @module
 */

import { PendingFrames } from "./pending_frames.ts";
import type { IfaceLimits } from "./limits.ts";

/** Solicitations are out and frames wait for the answer. */
export const ND_INCOMPLETE = 0;
/** Confirmed within ReachableTime. */
export const ND_REACHABLE = 1;
/** Not confirmed recently; still used. */
export const ND_STALE = 2;
/** Used while STALE: waiting for an upper-layer confirmation before probing. */
export const ND_DELAY = 3;
/** Unicast solicitations are out. */
export const ND_PROBE = 4;
/** State names (for diagnostics and tests). */
export const ND_STATE_NAMES: readonly string[] = [
  "INCOMPLETE",
  "REACHABLE",
  "STALE",
  "DELAY",
  "PROBE",
];

/** RFC 4861 section 10 constants. */
export const MAX_MULTICAST_SOLICIT = 3;
export const MAX_UNICAST_SOLICIT = 3;
export const DELAY_FIRST_PROBE_TIME_MS = 5000;

/** The key of an address in the cache's map (8 UTF-16 units). */
export function key16(m: Uint8Array, off = 0): string {
  let s = "";
  for (let i = 0; i < 16; i += 2) s += String.fromCharCode((m[off + i]! << 8) | m[off + i + 1]!);
  return s;
}

/** One neighbor. Objects are reused by the cache; do not keep them. */
export class Neighbor6 {
  /** The neighbor's IPv6 address. */
  readonly addr: Uint8Array;
  /** key16(addr). */
  readonly key: string;
  /** ND_INCOMPLETE ... ND_PROBE. */
  state = ND_INCOMPLETE;
  /** MAC hi word (valid unless INCOMPLETE). */
  macHi = 0;
  /** MAC lo word (valid unless INCOMPLETE). */
  macLo = 0;
  /** The neighbor said it is a router (IsRouter flag, section 7.3.1 and 7.2.5). */
  isRouter = false;
  /** When reachability was last confirmed (or the MAC last learned). */
  updatedAt = 0;
  /** When the entry was last used to send. */
  usedAt = 0;
  /** Solicitations sent in the current resolution or probe. */
  tries = 0;
  /** INCOMPLETE, PROBE: next solicitation; DELAY: when probing starts. */
  nextAt = 0;
  /** Whole frames waiting for the MAC (the destination MAC is filled in on resolution). */
  readonly pending: Uint8Array[] = [];

  /** A new entry for `addr` (copied). */
  constructor(addr: Uint8Array) {
    this.addr = Uint8Array.from(addr.subarray(0, 16));
    this.key = key16(this.addr);
  }
}

/** What the cache asks its owner to do. */
export interface NeighborActions {
  /** Send a solicitation for `e.addr`: multicast when INCOMPLETE, unicast to e.mac in PROBE. */
  solicit(e: Neighbor6, now: number): void;
  /** The MAC of an INCOMPLETE entry became known: send `e.pending` (then empty it). */
  resolved(e: Neighbor6, now: number): void;
  /** Resolution failed: drop `e.pending`, report the address unreachable. */
  failed(e: Neighbor6, now: number): void;
  /** A router's advertisement cleared its IsRouter flag (section 7.2.5): forget it as router. */
  notRouter(e: Neighbor6, now: number): void;
}

/** What an advertisement or a solicitation did to the cache. */
export type NdObserve =
  | "resolved"
  | "confirmed"
  | "refreshed"
  | "updated"
  | "conflict"
  | "ignored-no-override"
  | "created"
  | "full"
  | "no-entry";

/** The bounded neighbor cache. */
export class NeighborCache6 {
  #entries = new Map<string, Neighbor6>();
  #limits: IfaceLimits;
  #actions: NeighborActions;
  #due = Infinity;
  #last: Neighbor6 | null = null;
  /** ReachableTime in force (RFC 4861 6.3.2: BaseReachableTime x random 0.5..1.5). */
  reachableMs: number;
  /** RetransTimer in force. */
  retransMs: number;
  /** Entries removed because NUD probes went unanswered. */
  probeFailures = 0;
  /** INCOMPLETE entries given up early to make room for another resolution. */
  incompleteEvicted = 0;
  /** Upper-layer confirmations that refreshed an entry (confirm()). */
  confirmations = 0;
  readonly #pending = new PendingFrames();

  /** A cache bounded by `limits`, calling `actions` for I/O. */
  constructor(limits: IfaceLimits, actions: NeighborActions, random: () => number) {
    this.#limits = limits;
    this.#actions = actions;
    this.reachableMs = Math.round(limits.ndReachableMs * (0.5 + random()));
    this.retransMs = limits.ndRetransMs;
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** The entry of the address at `m[off, off+16)`, if any (no side effects). */
  get(m: Uint8Array, off = 0): Neighbor6 | undefined {
    const l = this.#last;
    if (l !== null && same16(l.addr, m, off)) return l;
    const e = this.#entries.get(key16(m, off));
    if (e !== undefined) this.#last = e;
    return e;
  }

  /**
   * The entry to send to `addr` (section 7.2.2, 7.3.3). Absent: an INCOMPLETE entry is created
   * and a solicitation sent. STALE: it moves to DELAY. Returns null when the cache is full of
   * entries being resolved.
   */
  lookup(addr: Uint8Array, now: number): Neighbor6 | null {
    const e = this.get(addr);
    if (e !== undefined) return this.use(e, now);
    if (this.#entries.size >= this.#limits.ndCacheSize && !this.#evict(now)) return null;
    const n = new Neighbor6(addr);
    n.usedAt = now;
    this.#entries.set(n.key, n);
    this.#startSolicit(n, ND_INCOMPLETE, now);
    return n;
  }

  /** Mark `e` used at `now`: REACHABLE past ReachableTime is STALE; STALE in use is DELAY. */
  use(e: Neighbor6, now: number): Neighbor6 {
    e.usedAt = now;
    if (e.state === ND_REACHABLE && now - e.updatedAt >= this.reachableMs) e.state = ND_STALE;
    if (e.state === ND_STALE) {
      e.state = ND_DELAY; // section 7.3.3: first use of a STALE entry
      e.nextAt = now + DELAY_FIRST_PROBE_TIME_MS;
      this.#due = Math.min(this.#due, e.nextAt);
    }
    return e;
  }

  /** Bytes of the frames waiting in every entry's queue (at most ndPendingBytes). */
  get pendingBytes(): number {
    return this.#pending.bytes;
  }

  /**
   * Queue a frame on an INCOMPLETE entry. When the queue is full (ndPendingPerAddress frames,
   * or ndPendingBytes for all entries together) its oldest frames give way (RFC 4861 7.2.2:
   * "the new arrival SHOULD replace the oldest entry"); when the new one still does not fit
   * (other entries hold the bytes) it is dropped. Returns the number of frames dropped, the
   * new one included (as ArpCache.enqueue).
   */
  enqueue(e: Neighbor6, frame: Uint8Array): number {
    return this.#pending.enqueue(
      e.pending,
      frame,
      this.#limits.ndPendingPerAddress,
      this.#limits.ndPendingBytes,
    );
  }

  /** An upper-layer reachability confirmation (section 7.3.1): the entry becomes REACHABLE. */
  confirm(addr: Uint8Array, now: number): void {
    const e = this.get(addr);
    if (e === undefined || e.state === ND_INCOMPLETE) return;
    this.confirmations++;
    this.#reachable(e, now);
  }

  /**
   * A solicitation (section 7.2.3) or router advertisement (6.3.4) from `addr` carried its
   * link-layer address hi/lo; `mayCreate` when the message may create an entry.
   */
  observe(
    addr: Uint8Array,
    hi: number,
    lo: number,
    mayCreate: boolean,
    now: number,
  ): NdObserve {
    const e = this.get(addr);
    if (e === undefined) {
      if (!mayCreate) return "no-entry";
      if (this.#entries.size >= this.#limits.ndCacheSize) return "full";
      const n = new Neighbor6(addr);
      this.#setMac(n, hi, lo, now);
      n.state = ND_STALE;
      n.usedAt = now;
      this.#entries.set(n.key, n);
      this.#due = Math.min(this.#due, now + 2 * this.#limits.ndReachableMs);
      return "created";
    }
    const same = e.macHi === hi && e.macLo === lo >>> 0;
    if (e.state === ND_INCOMPLETE) {
      this.#setMac(e, hi, lo, now);
      e.state = ND_STALE;
      this.#release(e);
      this.#actions.resolved(e, now);
      return "resolved";
    }
    if (same) return "refreshed";
    if (e.state === ND_REACHABLE && now - e.updatedAt < this.reachableMs) return "conflict";
    this.#setMac(e, hi, lo, now);
    e.state = ND_STALE;
    return "updated";
  }

  /**
   * A valid advertisement for `target` (section 7.2.5): `tlla` when it carried a target
   * link-layer address (hi/lo), its Solicited, Override and Router flags.
   */
  advert(
    target: Uint8Array,
    tlla: boolean,
    hi: number,
    lo: number,
    flags: { s: boolean; o: boolean; r: boolean },
    now: number,
  ): NdObserve {
    const e = this.get(target);
    if (e === undefined) return "no-entry"; // unsolicited advertisements create nothing
    let out: NdObserve;
    if (e.state === ND_INCOMPLETE) {
      if (!tlla) return "ignored-no-override";
      this.#setMac(e, hi, lo, now);
      e.isRouter = flags.r;
      if (flags.s) this.#reachable(e, now);
      else e.state = ND_STALE;
      this.#release(e);
      this.#actions.resolved(e, now);
      return "resolved";
    }
    const differs = tlla && (e.macHi !== hi || e.macLo !== lo >>> 0);
    if (!flags.o && differs) {
      // Not overriding: a REACHABLE entry only turns STALE, the cached address stays.
      if (e.state === ND_REACHABLE) e.state = ND_STALE;
      return "ignored-no-override";
    }
    if (differs) {
      this.#setMac(e, hi, lo, now);
      out = "updated";
    } else out = "refreshed";
    if (flags.s) {
      this.#reachable(e, now);
      if (out === "refreshed") out = "confirmed";
    } else if (differs) e.state = ND_STALE;
    const wasRouter = e.isRouter;
    e.isRouter = flags.r;
    if (wasRouter && !flags.r) this.#actions.notRouter(e, now);
    return out;
  }

  /** Remove the entry of `addr` (its pending frames are dropped). */
  delete(addr: Uint8Array): void {
    const e = this.get(addr);
    if (e === undefined) return;
    this.#remove(e);
    e.pending.length = 0;
  }

  /** Solicitations, failures, state aging and removal of old STALE entries. */
  poll(now: number): void {
    const gc = 2 * this.#limits.ndReachableMs;
    let due = Infinity;
    for (const e of this.#entries.values()) {
      if (e.state === ND_INCOMPLETE || e.state === ND_PROBE) {
        if (now >= e.nextAt) {
          const max = e.state === ND_INCOMPLETE ? MAX_MULTICAST_SOLICIT : MAX_UNICAST_SOLICIT;
          if (e.tries >= max) {
            this.#remove(e);
            if (e.state === ND_INCOMPLETE) this.#actions.failed(e, now);
            else this.probeFailures++;
            continue;
          }
          e.tries++;
          e.nextAt = now + this.retransMs;
          this.#actions.solicit(e, now);
        }
        due = Math.min(due, e.nextAt);
      } else if (e.state === ND_DELAY) {
        if (now >= e.nextAt) {
          this.#startSolicit(e, ND_PROBE, now); // section 7.3.3: DELAY_FIRST_PROBE_TIME passed
        }
        due = Math.min(due, e.nextAt);
      } else if (e.state === ND_REACHABLE) {
        if (now - e.updatedAt >= this.reachableMs) e.state = ND_STALE;
        else {
          due = Math.min(due, e.updatedAt + this.reachableMs);
          continue;
        }
      }
      if (e.state === ND_STALE) {
        // Unused STALE entries are garbage-collected (section 7.3.3 leaves it to us).
        const t = Math.max(e.updatedAt, e.usedAt) + gc;
        if (now >= t) {
          this.#remove(e);
          continue;
        }
        due = Math.min(due, t);
      }
    }
    this.#due = due;
  }

  /** The earliest deadline of poll(), or Infinity. */
  pollAt(): number {
    return this.#due;
  }

  /** Every entry (for tests and diagnostics). */
  entries(): IterableIterator<Neighbor6> {
    return this.#entries.values();
  }

  #setMac(e: Neighbor6, hi: number, lo: number, now: number): void {
    e.macHi = hi;
    e.macLo = lo >>> 0;
    e.updatedAt = now;
    e.tries = 0;
  }

  #reachable(e: Neighbor6, now: number): void {
    e.state = ND_REACHABLE;
    e.updatedAt = now;
    e.tries = 0;
    this.#due = Math.min(this.#due, now + this.reachableMs);
  }

  /** The frames of `e` leave the queue (sent, or dropped by the caller): free their bytes. */
  #release(e: Neighbor6): void {
    this.#pending.release(e.pending);
  }

  /** Forget `e`; its frames, if any, no longer count (the caller drops them). */
  #remove(e: Neighbor6): void {
    this.#release(e);
    this.#entries.delete(e.key);
    if (this.#last === e) this.#last = null;
  }

  #startSolicit(e: Neighbor6, state: number, now: number): void {
    e.state = state;
    e.tries = 1;
    e.nextAt = now + this.retransMs;
    this.#due = Math.min(this.#due, e.nextAt);
    this.#actions.solicit(e, now);
  }

  /** Make room for a resolution of ours (see the module policy). False when empty. */
  #evict(now: number): boolean {
    let victim: Neighbor6 | null = null;
    let oldestIncomplete: Neighbor6 | null = null;
    for (const e of this.#entries.values()) {
      if (e.state === ND_INCOMPLETE) {
        oldestIncomplete ??= e; // Map order is creation order
        continue;
      }
      const t = Math.max(e.usedAt, e.updatedAt);
      if (victim === null || t < Math.max(victim.usedAt, victim.updatedAt)) victim = e;
    }
    const idleMs = MAX_MULTICAST_SOLICIT * this.retransMs;
    const idle = victim !== null && now - Math.max(victim.usedAt, victim.updatedAt) >= idleMs;
    if (!idle && oldestIncomplete !== null) victim = oldestIncomplete;
    if (victim === null) return false;
    if (victim.state === ND_INCOMPLETE) this.incompleteEvicted++;
    this.#remove(victim);
    victim.pending.length = 0;
    return true;
  }
}

function same16(a: Uint8Array, m: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== m[off + i]) return false;
  return true;
}
