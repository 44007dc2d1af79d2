/**
 * The TIME-WAIT table: what is left of a connection for its 2 MSL (RFC 9293 3.10.7.4) after it
 * closed actively. As Linux's `inet_timewait_sock`, a compact record replaces the connection:
 * its four-tuple, SND.NXT and RCV.NXT, the window it last offered, the timestamp state that
 * PAWS (RFC 7323 5) and TIME-WAIT reuse (RFC 6191) need, and its expiry. Records live in
 * columns of typed arrays indexed by slot (no object per record, nothing for the garbage
 * collector to trace), found by four-tuple through an open-addressing index (linear probing,
 * backward-shift deletion, keyed hash as demux.ts), and expire in order through a min-heap of
 * (time, slot, generation) entries.
 *
 * At most `max` records are kept (`TcpOptions.maxTimeWait`, as Linux `tcp_max_tw_buckets`).
 * Past it the record nearest its expiry (the oldest) makes room, counted by the layer as
 * `tcp-time-wait-overflow`: the newest records, whose old duplicates are most likely still in
 * flight, keep their protection (Linux refuses the new one instead).
 *
 * The columns grow by doubling as records come, up to `max`, and are kept (about 130 bytes a
 * record with the index and the heap: 17 MB at the default bound of 131072).
 *
 * A record is named by a key, `generation * 2^24 + slot`, that stays false once the record
 * ended (the slot's generation moves on when it is freed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TimeWaitTable } from "./time_wait.ts";
 * const t = new TimeWaitTable(2);
 * const key = t.add({ localIp: 1, localPort: 2, remoteIp: 3, remotePort: 4 }, 61000, 60000);
 * assert.equal(t.find(1, 2, 3, 4), key % 2 ** 24);
 * assert(t.isLive(key));
 * assert.equal(t.popExpired(60999), -1);
 * t.free(t.popExpired(61000));
 * assert(!t.isLive(key) && t.size === 0);
 * ```
 *
 * @module
 */

import { ipNum } from "../wire/ip_handle.ts";
import { tupleHash } from "./demux.ts";

/** Slots of an empty table. */
const MIN_SLOTS = 64;
/** The most slots a table may have (a key keeps the slot in its low 24 bits). */
export const TIME_WAIT_MAX = 1 << 24;
const SLOT_BITS = 2 ** 24;
/** Generations wrap here, so that a key stays an exact integer. */
const GEN_MASK = 0x0fffffff;
/** Stale heap entries allowed beyond twice the live records before the heap is rebuilt. */
const STALE_SLACK = 64;

/** Flag bits of a record. */
export const TW_TS = 1, TW_SACK = 2;
const TW_USED = 4;

/** The four-tuple of a record. */
export interface TimeWaitTuple {
  readonly localIp: number;
  readonly localPort: number;
  readonly remoteIp: number;
  readonly remotePort: number;
}

/** The compact TIME-WAIT records of one layer. */
export class TimeWaitTable {
  /** The most records kept. */
  readonly max: number;
  #n = 0;
  #cap = 0;
  // ---- columns, by slot (public for time_wait_input.ts; replaced when the table grows)
  /** @internal */ lip = new Float64Array(0);
  /** @internal */ rip = new Float64Array(0);
  /** @internal */ lport = new Uint16Array(0);
  /** @internal */ rport = new Uint16Array(0);
  /** @internal SND.NXT (the highest sequence sent, our FIN included) */ sndNxt = new Uint32Array(
    0,
  );
  /** @internal the largest window the peer offered (RFC 5961 5.2) */ maxWnd = new Float64Array(0);
  /** @internal RCV.NXT (the peer's FIN included) */ rcvNxt = new Uint32Array(0);
  /** @internal the window offered in bytes (RCV.WND) */ rcvWnd = new Float64Array(0);
  /** @internal our window-scale shift */ wscale = new Uint8Array(0);
  /** @internal TW_TS, TW_SACK */ flags = new Uint8Array(0);
  /** @internal TS.Recent (RFC 7323 4.3) */ tsRecent = new Uint32Array(0);
  /** @internal when TS.Recent was taken */ tsRecentAt = new Float64Array(0);
  /** @internal the last ACK to an invalid segment (invalidAck rate limit) */ oowAckAt =
    new Float64Array(0);
  /** @internal when the record ends */ expiry = new Float64Array(0);
  /** @internal its 2 MSL */ twMs = new Float64Array(0);
  #gen = new Uint32Array(0);
  #free = new Int32Array(0);
  #freeN = 0;
  // ---- the index: slot + 1 by hash (0 = empty), at most half full
  #index = new Int32Array(0);
  #hashes = new Int32Array(0);
  #mask = 0;
  readonly #seed: number;
  // ---- the expiry heap
  #hAt = new Float64Array(16);
  #hSlot = new Int32Array(16);
  #hGen = new Uint32Array(16);
  #hN = 0;

  /** A table of at most `max` records; `seed` fixes the hash key (random by default). */
  constructor(max: number, seed?: number) {
    if (!Number.isInteger(max) || max < 0 || max > TIME_WAIT_MAX) {
      throw new RangeError(`Invalid TIME-WAIT limit: ${max}`);
    }
    this.max = max;
    this.#seed = seed ?? crypto.getRandomValues(new Int32Array(1))[0]!;
    this.#grow(Math.min(MIN_SLOTS, Math.max(max, 1)));
  }

  /** Records held. */
  get size(): number {
    return this.#n;
  }

  /** True while the record named by `key` (from `add`) has not ended. */
  isLive(key: number): boolean {
    const slot = key % SLOT_BITS;
    return slot < this.#cap && (this.flags[slot]! & TW_USED) !== 0 &&
      this.#gen[slot] === (key - slot) / SLOT_BITS;
  }

  /** The slot of a four-tuple's record, or -1. */
  find(lip: number, lport: number, rip: number, rport: number): number {
    if (this.#n === 0) return -1;
    lip = ipNum(lip);
    rip = ipNum(rip);
    const index = this.#index, mask = this.#mask;
    for (let i = tupleHash(this.#seed, lip, lport, rip, rport) & mask;; i = (i + 1) & mask) {
      const s = index[i]! - 1;
      if (s < 0) return -1;
      if (
        this.rport[s] === rport && this.lport[s] === lport && this.rip[s] === rip &&
        this.lip[s] === lip
      ) return s;
    }
  }

  /**
   * A new record for `t` (its tuple must have none), ending at `expiry`, with 2 MSL `twMs`.
   * Returns its key, or -1 when `max` is 0. When the table is full, make room first with
   * `popOldest`. The caller fills the other columns at `key % 2 ** 24`.
   */
  add(t: TimeWaitTuple, expiry: number, twMs: number): number {
    if (this.max === 0 || this.#n >= this.max) return -1;
    if (this.#freeN === 0) this.#grow(Math.min(2 * this.#cap, this.max));
    const slot = this.#free[--this.#freeN]!;
    this.#n++;
    const lip = ipNum(t.localIp), rip = ipNum(t.remoteIp);
    this.lip[slot] = lip;
    this.rip[slot] = rip;
    this.lport[slot] = t.localPort;
    this.rport[slot] = t.remotePort;
    this.flags[slot] = TW_USED;
    this.expiry[slot] = expiry;
    this.twMs[slot] = twMs;
    this.#place(slot, tupleHash(this.#seed, lip, t.localPort, rip, t.remotePort));
    this.#push(expiry, slot, this.#gen[slot]!);
    return this.#gen[slot]! * SLOT_BITS + slot;
  }

  /** End the record in `slot` (its key is no longer live). */
  free(slot: number): void {
    if (!(this.flags[slot]! & TW_USED)) return;
    this.#unplace(slot);
    this.flags[slot] = 0;
    this.#gen[slot] = (this.#gen[slot]! + 1) & GEN_MASK;
    this.#free[this.#freeN++] = slot;
    this.#n--;
    // Heap entries of freed slots go stale; rebuild once they outnumber the live ones.
    if (this.#hN > 2 * this.#n + STALE_SLACK) this.#rebuildHeap();
  }

  /** The earliest expiry still queued (maybe of a record that ended), Infinity when none. */
  nextAt(): number {
    return this.#hN > 0 ? this.#hAt[0]! : Infinity;
  }

  /** The slot of a record whose expiry is at or before `now` (not freed), or -1. */
  popExpired(now: number): number {
    return this.#popUntil(now);
  }

  /** The slot of the record nearest its expiry (not freed), or -1 when empty. */
  popOldest(): number {
    return this.#popUntil(Infinity);
  }

  /** Every slot in use (for shutdown; free them after the loop). */
  slots(): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.#cap; s++) if (this.flags[s]! & TW_USED) out.push(s);
    return out;
  }

  #popUntil(limit: number): number {
    while (this.#hN > 0 && this.#hAt[0]! <= limit) {
      const at = this.#hAt[0]!, slot = this.#hSlot[0]!, gen = this.#hGen[0]!;
      this.#popTop();
      if (!(this.flags[slot]! & TW_USED) || this.#gen[slot] !== gen) continue; // stale
      const exp = this.expiry[slot]!;
      if (exp > at) {
        this.#push(exp, slot, gen); // 2 MSL restarted since: queued again at its real time
        continue;
      }
      return slot;
    }
    return -1;
  }

  // ---- storage

  #grow(n: number): void {
    const old = this.#cap;
    if (n <= old) return;
    const g = <T extends Float64Array | Uint32Array | Uint16Array | Uint8Array>(
      a: T,
      make: (n: number) => T,
    ): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.lip = g(this.lip, (k) => new Float64Array(k));
    this.rip = g(this.rip, (k) => new Float64Array(k));
    this.lport = g(this.lport, (k) => new Uint16Array(k));
    this.rport = g(this.rport, (k) => new Uint16Array(k));
    this.sndNxt = g(this.sndNxt, (k) => new Uint32Array(k));
    this.maxWnd = g(this.maxWnd, (k) => new Float64Array(k));
    this.rcvNxt = g(this.rcvNxt, (k) => new Uint32Array(k));
    this.rcvWnd = g(this.rcvWnd, (k) => new Float64Array(k));
    this.wscale = g(this.wscale, (k) => new Uint8Array(k));
    this.flags = g(this.flags, (k) => new Uint8Array(k));
    this.tsRecent = g(this.tsRecent, (k) => new Uint32Array(k));
    this.tsRecentAt = g(this.tsRecentAt, (k) => new Float64Array(k));
    this.oowAckAt = g(this.oowAckAt, (k) => new Float64Array(k));
    this.expiry = g(this.expiry, (k) => new Float64Array(k));
    this.twMs = g(this.twMs, (k) => new Float64Array(k));
    this.#gen = g(this.#gen, (k) => new Uint32Array(k));
    const free = new Int32Array(n);
    free.set(this.#free.subarray(0, this.#freeN));
    // New slots are taken lowest first.
    for (let s = n - 1; s >= old; s--) free[this.#freeN++] = s;
    this.#free = free;
    this.#cap = n;
    // The index: at least twice the slots, a power of two.
    let size = MIN_SLOTS;
    while (size < 2 * n) size *= 2;
    if (size !== this.#index.length) {
      this.#index = new Int32Array(size);
      this.#hashes = new Int32Array(size);
      this.#mask = size - 1;
      for (let s = 0; s < old; s++) {
        if (this.flags[s]! & TW_USED) {
          this.#place(
            s,
            tupleHash(this.#seed, this.lip[s]!, this.lport[s]!, this.rip[s]!, this.rport[s]!),
          );
        }
      }
    }
  }

  #place(slot: number, h: number): void {
    const index = this.#index, mask = this.#mask;
    let i = h & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = slot + 1;
    this.#hashes[i] = h;
  }

  #unplace(slot: number): void {
    const index = this.#index, hashes = this.#hashes, mask = this.#mask;
    let i = tupleHash(
      this.#seed,
      this.lip[slot]!,
      this.lport[slot]!,
      this.rip[slot]!,
      this.rport[slot]!,
    ) &
      mask;
    while (index[i] !== slot + 1) {
      if (index[i] === 0) return;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion (as demux.ts).
    index[i] = 0;
    for (let j = (i + 1) & mask; index[j] !== 0; j = (j + 1) & mask) {
      const home = hashes[j]! & mask;
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (stays) continue;
      index[i] = index[j]!;
      hashes[i] = hashes[j]!;
      index[j] = 0;
      i = j;
    }
  }

  // ---- the expiry heap

  #push(at: number, slot: number, gen: number): void {
    if (this.#hN === this.#hAt.length) {
      const n = 2 * this.#hN;
      const a = new Float64Array(n), s = new Int32Array(n), g = new Uint32Array(n);
      a.set(this.#hAt);
      s.set(this.#hSlot);
      g.set(this.#hGen);
      this.#hAt = a;
      this.#hSlot = s;
      this.#hGen = g;
    }
    const a = this.#hAt, s = this.#hSlot, g = this.#hGen;
    let i = this.#hN++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= at) break;
      a[i] = a[p]!;
      s[i] = s[p]!;
      g[i] = g[p]!;
      i = p;
    }
    a[i] = at;
    s[i] = slot;
    g[i] = gen;
  }

  #popTop(): void {
    const n = --this.#hN;
    if (n > 0) this.#siftDown(0, this.#hAt[n]!, this.#hSlot[n]!, this.#hGen[n]!);
  }

  #siftDown(i: number, at: number, slot: number, gen: number): void {
    const a = this.#hAt, s = this.#hSlot, g = this.#hGen, n = this.#hN;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && a[r]! < a[l]! ? r : l;
      if (a[c]! >= at) break;
      a[i] = a[c]!;
      s[i] = s[c]!;
      g[i] = g[c]!;
      i = c;
    }
    a[i] = at;
    s[i] = slot;
    g[i] = gen;
  }

  /** Keep only the entries of live records (one each, at its expiry). */
  #rebuildHeap(): void {
    this.#hN = 0;
    for (let s = 0; s < this.#cap; s++) {
      if (this.flags[s]! & TW_USED) this.#push(this.expiry[s]!, s, this.#gen[s]!);
    }
  }
}
