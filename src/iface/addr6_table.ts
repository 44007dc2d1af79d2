/**
 * The interface's IPv6 address table: interns 16-byte addresses into numeric handles
 * (2^32 + slot, src/wire/ip_handle.ts) so that the TCP layer stays numeric. Bounded and
 * reference counted:
 *
 * - our own addresses are pinned (never reclaimed);
 * - a peer's address is held by each connection toward it (`hold`, `release`) and its slot is
 *   reclaimed when the last one goes; freed slots are reused oldest first;
 * - the receive path only looks addresses up (`probe`): an unknown source gets the slot that
 *   would be taken next, written but not entered, valid until the next probe; it becomes an
 *   entry only when a connection holds it. So random sources cannot fill the table; when it
 *   is full, unknown sources get a scratch handle that cannot be held (no new connection from
 *   them, counted by the interface), while replies to them (RST, ICMPv6) still go out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Addr6Table } from "./addr6_table.ts";
 * import { parseIpv6 } from "../wire/ipv6_address.ts";
 * const t = new Addr6Table(2, 7);
 * const a = parseIpv6("fd00::1")!;
 * const h = t.probe(a, 0);
 * assert.equal(t.lookup(a, 0), -1); // not entered until held
 * assert(t.hold(h));
 * assert.equal(t.lookup(a, 0), h);
 * assert.equal(t.format(h), "fd00::1");
 * t.release(h);
 * assert.equal(t.size, 0);
 * ```
 *
 * @module
 */

import { IPV6_HANDLE_BASE, IPV6_HANDLE_SLOTS } from "../wire/ip_handle.ts";
import { formatIpv6 } from "../wire/ipv6_address.ts";

const FREE = 0;
const HELD = 1;
const PINNED = 2;

/** A bounded table of IPv6 addresses by numeric handle. */
export class Addr6Table {
  readonly #limit: number;
  readonly #bytes: Uint8Array;
  readonly #state: Uint8Array;
  readonly #refs: Uint32Array;
  /** Hash chains: fold -> first slot; #chain links slots of one fold (-1 ends). */
  readonly #heads = new Map<number, number>();
  readonly #chain: Int32Array;
  /** Free slots, a FIFO ring (reused oldest first). */
  readonly #free: Int32Array;
  #freeHead = 0;
  #freeCount: number;
  readonly #seed: number;
  readonly #views: (Uint8Array | undefined)[] = [];
  /** Holds refused because the table was full. */
  fullCount = 0;

  /** A table of `limit` entries (1 to 2^20 - 1); `seed` keys the hash of the chains. */
  constructor(limit: number, seed: number) {
    if (!Number.isInteger(limit) || limit < 1 || limit >= IPV6_HANDLE_SLOTS) {
      throw new RangeError(`IPv6 address table size must be 1..${IPV6_HANDLE_SLOTS - 1}`);
    }
    this.#limit = limit;
    this.#bytes = new Uint8Array((limit + 1) * 16);
    this.#state = new Uint8Array(limit + 1);
    this.#refs = new Uint32Array(limit + 1);
    this.#chain = new Int32Array(limit + 1).fill(-1);
    this.#free = new Int32Array(limit);
    for (let i = 0; i < limit; i++) this.#free[i] = i;
    this.#freeCount = limit;
    this.#seed = (seed * 0x9e3779b1) >>> 0 || 1;
  }

  /** Entries in use (held or pinned). */
  get size(): number {
    return this.#limit - this.#freeCount;
  }

  /** The bound. */
  get limit(): number {
    return this.#limit;
  }

  #fold(m: Uint8Array, off: number): number {
    let h = this.#seed;
    for (let i = 0; i < 16; i += 4) {
      const w = (m[off + i]! << 24) | (m[off + i + 1]! << 16) | (m[off + i + 2]! << 8) |
        m[off + i + 3]!;
      h = Math.imul(h ^ w, 0x85ebca6b);
      h ^= h >>> 13;
    }
    return h >>> 0;
  }

  #equal(slot: number, m: Uint8Array, off: number): boolean {
    const b = this.#bytes, s = slot * 16;
    for (let i = 0; i < 16; i++) if (b[s + i] !== m[off + i]) return false;
    return true;
  }

  /** The handle of the address at `m[off, off+16)` when it is an entry, else -1. */
  lookup(m: Uint8Array, off: number): number {
    let s = this.#heads.get(this.#fold(m, off));
    while (s !== undefined && s >= 0) {
      if (this.#equal(s, m, off)) return IPV6_HANDLE_BASE + s;
      s = this.#chain[s]!;
    }
    return -1;
  }

  /**
   * The handle of the address at `m[off, off+16)`: its entry, or else a tentative handle (the
   * next free slot, written, not entered) that `hold` can make an entry; when the table is
   * full, a scratch handle `hold` refuses. Valid until the next probe.
   */
  probe(m: Uint8Array, off: number): number {
    const h = this.lookup(m, off);
    if (h >= 0) return h;
    const slot = this.#freeCount > 0 ? this.#free[this.#freeHead]! : this.#limit;
    this.#bytes.set(m.subarray(off, off + 16), slot * 16);
    return IPV6_HANDLE_BASE + slot;
  }

  /** Enter `addr` (16 bytes) for good (one of our own addresses). Throws RangeError when full. */
  pin(addr: Uint8Array): number {
    const h = this.probe(addr, 0);
    const slot = h - IPV6_HANDLE_BASE;
    if (this.#state[slot] === FREE && !this.hold(h)) {
      throw new RangeError("IPv6 address table is full");
    }
    this.#state[slot] = PINNED;
    return h;
  }

  /**
   * Take a reference on handle `h` (an entry, or the tentative handle of the last probe).
   * False when it cannot be held: the table is full (counted) or the handle is stale.
   */
  hold(h: number): boolean {
    const slot = h - IPV6_HANDLE_BASE;
    if (!(slot >= 0 && slot < this.#limit)) {
      if (slot === this.#limit) this.fullCount++;
      return false;
    }
    const st = this.#state[slot]!;
    if (st === PINNED) return true;
    if (st === HELD) {
      this.#refs[slot]!++;
      return true;
    }
    if (this.#freeCount === 0 || this.#free[this.#freeHead] !== slot) return false;
    this.#freeHead = (this.#freeHead + 1) % this.#limit;
    this.#freeCount--;
    this.#state[slot] = HELD;
    this.#refs[slot] = 1;
    const f = this.#fold(this.#bytes, slot * 16);
    this.#chain[slot] = this.#heads.get(f) ?? -1;
    this.#heads.set(f, slot);
    return true;
  }

  /** Whether handle `h` is an entry (held or pinned), not a tentative or scratch handle. */
  isEntry(h: number): boolean {
    const slot = h - IPV6_HANDLE_BASE;
    return slot >= 0 && slot < this.#limit && this.#state[slot] !== FREE;
  }

  /** Whether `hold(h)` would succeed now (an entry, or the tentative handle of the last probe). */
  holdable(h: number): boolean {
    const slot = h - IPV6_HANDLE_BASE;
    if (!(slot >= 0 && slot < this.#limit)) return false;
    if (this.#state[slot] !== FREE) return true;
    return this.#freeCount > 0 && this.#free[this.#freeHead] === slot;
  }

  /** Drop a reference taken by `hold`; the entry goes with the last one (pinned ones stay). */
  release(h: number): void {
    const slot = h - IPV6_HANDLE_BASE;
    if (!(slot >= 0 && slot < this.#limit) || this.#state[slot] !== HELD) return;
    if (--this.#refs[slot]! > 0) return;
    this.#state[slot] = FREE;
    const f = this.#fold(this.#bytes, slot * 16);
    let s = this.#heads.get(f) ?? -1, prev = -1;
    while (s >= 0 && s !== slot) {
      prev = s;
      s = this.#chain[s]!;
    }
    if (s === slot) {
      const next = this.#chain[slot]!;
      if (prev >= 0) this.#chain[prev] = next;
      else if (next >= 0) this.#heads.set(f, next);
      else this.#heads.delete(f);
    }
    this.#chain[slot] = -1;
    this.#free[(this.#freeHead + this.#freeCount) % this.#limit] = slot;
    this.#freeCount++;
  }

  /** The 16 bytes of handle `h` (a view owned by the table: read, do not keep or change). */
  bytes(h: number): Uint8Array {
    const slot = h - IPV6_HANDLE_BASE;
    if (!(slot >= 0 && slot <= this.#limit)) throw new RangeError(`Not an IPv6 handle: ${h}`);
    return this.#views[slot] ??= this.#bytes.subarray(slot * 16, slot * 16 + 16);
  }

  /** Copy the 16 bytes of handle `h` to `m[off, off+16)`. */
  copyTo(h: number, m: Uint8Array, off: number): void {
    const s = (h - IPV6_HANDLE_BASE) * 16, b = this.#bytes;
    for (let i = 0; i < 16; i++) m[off + i] = b[s + i]!;
  }

  /** The text of handle `h` (RFC 5952). */
  format(h: number): string {
    return formatIpv6(this.bytes(h));
  }
}
