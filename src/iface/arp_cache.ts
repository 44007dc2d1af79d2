/**
 * The ARP cache (RFC 826, RFC 1122 2.3.2): IPv4 address to MAC, with states like Linux's
 * neighbour table, bounded in size, aging entries and re-validating them, and holding a
 * bounded queue of frames per address being resolved.
 *
 * States, as Linux's neighbour table (and RFC 4861 7.3.2): INCOMPLETE (a request is out; frames
 * wait), REACHABLE (confirmed within arpEntryTtlMs), STALE (older: still used), DELAY (a stale
 * entry in use: waits arpDelayFirstProbeMs for an upper-layer confirmation, Linux
 * delay_first_probe_time), PROBE (no confirmation came: unicast requests are out; the old MAC is
 * still used, RFC 1122 2.3.2.1 "unicast poll").
 *
 * Policy against floods and spoofing (our choice, documented):
 * - Entries are created only by our own resolutions, and by an ARP request addressed to our
 *   IP (RFC 826 "am I the target?") while the cache has room. ARP from the wire never evicts
 *   an entry, so a flood cannot push out live entries or grow the cache past arpCacheSize.
 * - Unsolicited replies and gratuitous ARP for addresses we have no entry for are ignored
 *   (Linux arp_accept=0).
 * - A REACHABLE entry is never overwritten by a different MAC (counted as a conflict); once it
 *   ages to STALE, the next ARP for that address updates it. A reply to a request we sent
 *   (INCOMPLETE, PROBE) is accepted.
 * - Our own resolutions may evict, in this order: the least recently used settled entry idle
 *   for as long as a resolution may take (arpRetries x arpRetryMs), else the oldest INCOMPLETE
 *   entry (its waiting frames dropped: a SYN flood from spoofed on-link sources fills the cache
 *   with resolutions that never end, and must not push out the peers in use), else the least
 *   recently used settled entry.
 *
 * Upper-layer confirmation (RFC 1122 2.3.2.1 "link-layer advice", RFC 4861 7.3.1; Linux
 * neigh_confirm): `confirm()` marks an entry with a MAC REACHABLE again without a request, when
 * a transport saw forward progress through it (TCP: new data acknowledged, or new data
 * received, src/tcp/neigh_confirm.ts). An entry in use by a transfer that makes progress is
 * then never re-probed; without progress it ages and is re-validated as before.
 *
 * Frames waiting for a resolution (RFC 1122 2.3.2.2: keep at least the latest packet): each
 * INCOMPLETE entry holds at most arpPendingPerAddress frames, and all entries together at most
 * arpPendingBytes bytes. A full queue drops its oldest frame for the new one (as Linux
 * __neigh_event_send and RFC 4861 7.2.2); a frame that does not fit in the bytes left is
 * dropped. The owner counts both. A failed resolution hands its frames to `failed` to be
 * dropped and counted; an INCOMPLETE entry evicted for another drops its frames (counted in
 * `incompleteEvicted` and `evictedFrames`).
 *
 * @module
 */

import { PendingFrames } from "./pending_frames.ts";
import type { IfaceLimits } from "./limits.ts";

/** A request is out and frames wait for the answer. */
export const ARP_INCOMPLETE = 0;
/** Confirmed within arpEntryTtlMs. */
export const ARP_REACHABLE = 1;
/** Older than arpEntryTtlMs and unused since. */
export const ARP_STALE = 2;
/** Stale, used again, no confirmation within arpDelayFirstProbeMs: unicast probes are out. */
export const ARP_PROBE = 3;
/** Stale and used again: waiting arpDelayFirstProbeMs for a confirmation before probing. */
export const ARP_DELAY = 4;

/** One address of the cache. Objects are reused by the cache; do not keep them. */
export class ArpEntry {
  /** The IPv4 address. */
  readonly ip: number;
  /** ARP_INCOMPLETE, ARP_REACHABLE, ARP_STALE, ARP_DELAY or ARP_PROBE. */
  state = ARP_INCOMPLETE;
  /** MAC hi word (valid unless INCOMPLETE). */
  macHi = 0;
  /** MAC lo word (valid unless INCOMPLETE). */
  macLo = 0;
  /** When the MAC was last confirmed. */
  updatedAt = 0;
  /** When the entry was last used to send. */
  usedAt = 0;
  /** Requests sent in the current resolution or probe. */
  tries = 0;
  /** When the next request is due (INCOMPLETE, PROBE), or probing starts (DELAY). */
  nextAt = 0;
  /** Whole frames waiting for the MAC (the destination MAC is filled in on resolution). */
  readonly pending: Uint8Array[] = [];

  /** A new entry for `ip`. */
  constructor(ip: number) {
    this.ip = ip >>> 0;
  }
}

/** What the cache asks its owner to do. */
export interface ArpActions {
  /** Send an ARP request for `entry.ip`: broadcast when INCOMPLETE, unicast when PROBE. */
  request(entry: ArpEntry, now: number): void;
  /** The MAC of an INCOMPLETE entry became known: send `entry.pending` (then empty it). */
  resolved(entry: ArpEntry, now: number): void;
  /** Resolution failed after arpRetries requests: drop `entry.pending`, report unreachable. */
  failed(entry: ArpEntry, now: number): void;
}

/** What observe() did with an address seen on the wire. */
export type ArpObserve =
  | "resolved"
  | "refreshed"
  | "updated"
  | "conflict"
  | "created"
  | "full"
  | "ignored";

/** The bounded ARP cache. */
export class ArpCache {
  #entries = new Map<number, ArpEntry>();
  #limits: IfaceLimits;
  #actions: ArpActions;
  #due = Infinity;
  /** Entries removed because their re-validation probes went unanswered. */
  probeFailures = 0;
  /** INCOMPLETE entries given up early to make room for another resolution. */
  incompleteEvicted = 0;
  /** Frames dropped with the INCOMPLETE entries evicted. */
  evictedFrames = 0;
  /** Upper-layer confirmations that refreshed an entry (confirm()). */
  confirmations = 0;
  readonly #pending = new PendingFrames();

  /** A cache bounded by `limits`, calling `actions` for I/O. */
  constructor(limits: IfaceLimits, actions: ArpActions) {
    this.#limits = limits;
    this.#actions = actions;
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Bytes of the frames waiting in every entry's queue (at most arpPendingBytes). */
  get pendingBytes(): number {
    return this.#pending.bytes;
  }

  /** The entry of `ip`, if any (no side effects). */
  get(ip: number): ArpEntry | undefined {
    return this.#entries.get(ip >>> 0);
  }

  /**
   * The entry to send to `ip`. When absent, an INCOMPLETE entry is created and a request
   * sent; a STALE entry moves to DELAY (the old MAC still used). Returns null when the cache is
   * full of entries being resolved.
   */
  lookup(ip: number, now: number): ArpEntry | null {
    const key = ip >>> 0;
    let e = this.#entries.get(key);
    if (e !== undefined) return this.use(e, now);
    if (this.#entries.size >= this.#limits.arpCacheSize && !this.#evict(now)) return null;
    e = new ArpEntry(key);
    e.usedAt = now;
    this.#entries.set(key, e);
    this.#startRequests(e, ARP_INCOMPLETE, now);
    return e;
  }

  /**
   * Mark `e` (an entry of this cache) used at `now`: an entry past arpEntryTtlMs is stale, and
   * a stale entry in use waits in DELAY for a confirmation, then probes (poll). Returns `e`.
   */
  use(e: ArpEntry, now: number): ArpEntry {
    e.usedAt = now;
    if (e.state === ARP_REACHABLE && now - e.updatedAt >= this.#limits.arpEntryTtlMs) {
      e.state = ARP_STALE;
    }
    if (e.state === ARP_STALE) {
      e.state = ARP_DELAY;
      e.nextAt = now + this.#limits.arpDelayFirstProbeMs;
      if (e.nextAt < this.#due) this.#due = e.nextAt;
    }
    return e;
  }

  /**
   * Queue a frame on an INCOMPLETE entry (RFC 1122 2.3.2.2: the latest is kept). A full queue
   * (arpPendingPerAddress frames, or arpPendingBytes for all entries together) drops its oldest
   * frames until the new one fits; when it still does not fit (the bytes are held by other
   * entries' queues) the new frame is dropped. Returns the number of frames dropped, the new
   * one included; the new one was queued when it is the last of `entry.pending`.
   */
  enqueue(entry: ArpEntry, frame: Uint8Array): number {
    return this.#pending.enqueue(
      entry.pending,
      frame,
      this.#limits.arpPendingPerAddress,
      this.#limits.arpPendingBytes,
    );
  }

  /**
   * An upper-layer confirmation that `ip` (a next hop) is reachable (RFC 1122 2.3.2.1 link-layer
   * advice, RFC 4861 7.3.1 forward progress; Linux neigh_confirm): an entry with a MAC (not
   * INCOMPLETE) becomes REACHABLE from `now`, and probes in progress stop. The MAC is not
   * changed. False when there is no such entry.
   */
  confirm(ip: number, now: number): boolean {
    const e = this.#entries.get(ip >>> 0);
    if (e === undefined || e.state === ARP_INCOMPLETE) return false;
    e.state = ARP_REACHABLE;
    e.updatedAt = now;
    e.tries = 0;
    this.confirmations++;
    return true;
  }

  /**
   * An ARP packet from the wire says `ip` is at hi/lo. `mayCreate`: the packet was a request
   * addressed to our IP, so the sender may be added when there is room (see the module
   * policy).
   */
  observe(ip: number, hi: number, lo: number, mayCreate: boolean, now: number): ArpObserve {
    const key = ip >>> 0;
    const e = this.#entries.get(key);
    if (e === undefined) {
      if (!mayCreate) return "ignored";
      if (this.#entries.size >= this.#limits.arpCacheSize) return "full";
      const n = new ArpEntry(key);
      n.state = ARP_REACHABLE;
      n.macHi = hi;
      n.macLo = lo >>> 0;
      n.updatedAt = n.usedAt = now;
      this.#entries.set(key, n);
      this.#due = Math.min(this.#due, now + this.#limits.arpEntryTtlMs);
      return "created";
    }
    const same = e.macHi === hi && e.macLo === lo >>> 0;
    if (e.state === ARP_REACHABLE && !same && now - e.updatedAt < this.#limits.arpEntryTtlMs) {
      return "conflict";
    }
    const was = e.state;
    e.state = ARP_REACHABLE;
    e.macHi = hi;
    e.macLo = lo >>> 0;
    e.updatedAt = now;
    e.tries = 0;
    this.#due = Math.min(this.#due, now + this.#limits.arpEntryTtlMs);
    if (was === ARP_INCOMPLETE) {
      this.#release(e);
      this.#actions.resolved(e, now);
      return "resolved";
    }
    return same ? "refreshed" : "updated";
  }

  /** Remove the entry of `ip` (its pending frames are dropped). */
  delete(ip: number): void {
    const e = this.#entries.get(ip >>> 0);
    if (e === undefined) return;
    this.#release(e);
    e.pending.length = 0;
    this.#entries.delete(e.ip);
  }

  /** Retries, failures, aging and removal of old stale entries. */
  poll(now: number): void {
    const ttl = this.#limits.arpEntryTtlMs;
    let due = Infinity;
    for (const e of this.#entries.values()) {
      if (e.state === ARP_INCOMPLETE || e.state === ARP_PROBE) {
        if (now >= e.nextAt) {
          if (e.tries >= this.#limits.arpRetries) {
            this.#entries.delete(e.ip);
            if (e.state === ARP_INCOMPLETE) {
              this.#release(e);
              this.#actions.failed(e, now);
            } else this.probeFailures++;
            continue;
          }
          e.tries++;
          e.nextAt = now + this.#limits.arpRetryMs;
          this.#actions.request(e, now);
        }
        due = Math.min(due, e.nextAt);
      } else if (e.state === ARP_DELAY) {
        // No confirmation came within arpDelayFirstProbeMs: unicast probes (RFC 1122 2.3.2.1).
        if (now >= e.nextAt) this.#startRequests(e, ARP_PROBE, now);
        due = Math.min(due, e.nextAt);
      } else if (e.state === ARP_REACHABLE) {
        if (now - e.updatedAt >= ttl) e.state = ARP_STALE;
        due = Math.min(due, e.updatedAt + (e.state === ARP_STALE ? 2 * ttl : ttl));
      } else {
        // RFC 1122 2.3.2.1: entries must time out; unused stale entries go after another TTL.
        if (now - Math.max(e.updatedAt, e.usedAt) >= 2 * ttl) {
          this.#entries.delete(e.ip);
          continue;
        }
        due = Math.min(due, Math.max(e.updatedAt, e.usedAt) + 2 * ttl);
      }
    }
    this.#due = due;
  }

  /** The earliest deadline of poll(), or Infinity. */
  pollAt(): number {
    return this.#due;
  }

  /** Every entry (for tests and diagnostics). */
  entries(): IterableIterator<ArpEntry> {
    return this.#entries.values();
  }

  /** The frames of `e` leave the queue (sent, or dropped by the caller): free their bytes. */
  #release(e: ArpEntry): void {
    this.#pending.release(e.pending);
  }

  #startRequests(e: ArpEntry, state: number, now: number): void {
    e.state = state;
    e.tries = 1;
    e.nextAt = now + this.#limits.arpRetryMs;
    this.#due = Math.min(this.#due, e.nextAt);
    this.#actions.request(e, now);
  }

  /**
   * Make room for a resolution of ours: an idle settled entry, else the oldest INCOMPLETE one
   * (its frames dropped, counted in `incompleteEvicted`), else the least recently used settled
   * entry. False when the cache is empty.
   */
  #evict(now: number): boolean {
    let victim: ArpEntry | null = null;
    let oldestIncomplete: ArpEntry | null = null;
    for (const e of this.#entries.values()) {
      if (e.state === ARP_INCOMPLETE) {
        oldestIncomplete ??= e; // Map order is creation order
        continue;
      }
      const t = Math.max(e.usedAt, e.updatedAt);
      if (victim === null || t < Math.max(victim.usedAt, victim.updatedAt)) victim = e;
    }
    const idleMs = this.#limits.arpRetries * this.#limits.arpRetryMs;
    const idle = victim !== null && now - Math.max(victim.usedAt, victim.updatedAt) >= idleMs;
    if (!idle && oldestIncomplete !== null) victim = oldestIncomplete;
    if (victim === null) return false;
    if (victim.state === ARP_INCOMPLETE) {
      this.incompleteEvicted++;
      this.evictedFrames += victim.pending.length;
      this.#release(victim);
      victim.pending.length = 0;
    }
    this.#entries.delete(victim.ip);
    return true;
  }
}
