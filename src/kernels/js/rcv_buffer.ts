/**
 * The TCP receive (reassembly) buffer of the JS engine: the readable reference that the WASM
 * engine (asm/buffers/rcv.ts) follows step for step.
 *
 * Storage is one ring of `capacity` bytes. The in-order bytes waiting for the reader sit at
 * ring index `rdPos` (length `readable`); rcv.nxt is the sequence number just after them. A byte
 * with sequence number s in [rcv.nxt, rcv.nxt + window) lives at ring index
 * `(rdPos + readable + (s - rcv.nxt)) mod capacity`, so out-of-order data is written straight
 * into its final place and delivery is only bookkeeping. The right edge of the window
 * (`rcv.nxt + capacity - readable`) never moves left (RFC 9293 section 3.8.6: do not shrink the
 * window).
 *
 * Held out-of-order ranges are kept sorted, disjoint and non-touching as absolute [start, end)
 * sequence numbers, each with the insert stamp of the segment that last touched it (for the
 * SACK order of RFC 2018 section 4).
 *
 * @module
 */

import {
  RI_CONFLICT,
  RI_DUPLICATE,
  RI_OUT_OF_ORDER,
  RI_RANGE_LIMIT,
  RI_TRIMMED,
} from "../engine.ts";
import type { RingPool } from "./ring_pool.ts";

/**
 * Bound on held out-of-order ranges per receive buffer (both engines).
 *
 * Out-of-order data is stored in the buffer's own ring inside the advertised window, so it can
 * never exceed the buffer capacity. The number of separate held ranges (islands after a hole) is
 * capped at 64: a segment that would start a 65th island (it neither overlaps nor touches a held
 * range and does not start at rcv.nxt) is dropped whole, `rcvLastInsert` reports
 * `RI_RANGE_LIMIT` and the buffer's range-limit counter grows by one. Segments that extend,
 * join or fill held ranges are always accepted, and in-order data always is. Each insert
 * therefore costs at most one pass over 64 ranges plus the copy of its bytes, whatever the peer
 * sends (a peer writing one byte in every other position gets 64 islands and no more). The
 * dropped data is retransmitted by the peer once the holes before it are filled, as after any
 * loss. smoltcp caps its assembler the same way (a fixed number of contigs); Linux instead
 * prunes its out-of-order queue under memory pressure.
 */
export const RCV_MAX_RANGES = 64;

/** One reassembly buffer. Fields are public to the engine module; callers use BufferOps. */
export class RcvBuffer {
  /** Ring storage; null while the buffer is empty (allocated on first insert). */
  ring: Uint8Array | null = null;
  /** Ring index of the first readable byte. */
  rdPos = 0;
  /** In-order bytes waiting for the reader. */
  readable = 0;
  /** rcv.nxt (u32). */
  nxt: number;
  /** Out-of-order bytes held. */
  held = 0;
  /** Held ranges: starts, ends (u32 sequence numbers), stamps; null until first needed. */
  starts: Uint32Array | null = null;
  ends: Uint32Array | null = null;
  stamps: Float64Array | null = null;
  /** Number of held ranges. */
  count = 0;
  /** Insert stamp counter (exact up to 2^53 inserts). */
  tick = 0;
  /** RI_* flags of the last insert. */
  last = 0;
  /** Segments dropped at the range cap. */
  rangeLimitDrops = 0;
  /** Inserts whose overlapping bytes differed from those held. */
  conflicts = 0;

  constructor(public capacity: number, seq: number, private readonly pool: RingPool) {
    this.nxt = seq >>> 0;
  }

  /**
   * Grow to `capacity` bytes (at least the current capacity). Held bytes keep their sequence
   * numbers: the old ring is copied from `rdPos` on to the start of the new one, so every ring
   * index relative to rdPos is unchanged. The window only grows (RFC 9293 3.8.6).
   */
  grow(capacity: number): void {
    const old = this.ring, cap = this.capacity;
    this.capacity = capacity;
    if (old === null) return;
    const ring = this.pool.take(capacity);
    ring.set(old.subarray(this.rdPos, cap), 0);
    ring.set(old.subarray(0, this.rdPos), cap - this.rdPos);
    this.pool.give(old);
    this.ring = ring;
    this.rdPos = 0;
  }

  /** Free window from rcv.nxt. */
  window(): number {
    return this.capacity - this.readable;
  }

  /**
   * Accept `len` bytes of `src` at `off` with first sequence number `seq`; returns the bytes
   * that became readable in order. Trims per RFC 9293 section 3.10.7.4.
   */
  insert(src: Uint8Array, seq: number, off: number, len: number): number {
    let flags = 0;
    if (len === 0) {
      this.last = 0;
      return 0;
    }
    let d = (seq - this.nxt) | 0; // seqDiff(seq, rcv.nxt)
    if (d < 0) {
      // Bytes before rcv.nxt were already delivered: trim the front (RFC 9293 3.10.7.4).
      if (-d >= len) {
        this.last = RI_DUPLICATE;
        return 0;
      }
      off -= d;
      len += d;
      d = 0;
      flags |= RI_DUPLICATE;
    }
    const wnd = this.capacity - this.readable;
    if (d >= wnd) {
      // Wholly beyond the window: nothing is kept (RFC 9293 3.10.7.4).
      this.last = flags | RI_TRIMMED;
      return 0;
    }
    if (len > wnd - d) {
      len = wnd - d;
      flags |= RI_TRIMMED;
    }
    if (d > 0) flags |= RI_OUT_OF_ORDER;
    if (this.ring === null) this.ring = this.pool.take(this.capacity);
    if (this.count === 0 && d === 0) {
      // Fast path: in order with nothing held.
      this.#copyIn(src, off, 0, len);
      this.readable += len;
      this.nxt = (this.nxt + len) >>> 0;
      this.last = flags;
      return len;
    }
    return this.#insertSlow(src, off, d, d + len, flags);
  }

  #insertSlow(src: Uint8Array, off: number, a: number, b: number, flags: number): number {
    if (this.starts === null) {
      this.starts = new Uint32Array(RCV_MAX_RANGES);
      this.ends = new Uint32Array(RCV_MAX_RANGES);
      this.stamps = new Float64Array(RCV_MAX_RANGES);
    }
    const starts = this.starts, ends = this.ends!, stamps = this.stamps!;
    const nxt = this.nxt, n = this.count;
    // i: first range ending at or after a; j: first range starting after b.
    let i = 0;
    while (i < n && ((ends[i]! - nxt) >>> 0) < a) i++;
    let j = i;
    while (j < n && ((starts[j]! - nxt) >>> 0) <= b) j++;
    let newStart = a, newEnd = b, copied = 0;
    if (i === j) {
      if (a > 0 && n === RCV_MAX_RANGES) {
        this.rangeLimitDrops++;
        this.last = flags | RI_RANGE_LIMIT;
        return 0;
      }
      this.#copyIn(src, off, a, b - a);
      copied = b - a;
    } else {
      // Fill the gaps between held ranges; compare the overlaps (the first data wins).
      let pos = a;
      for (let k = i; k < j; k++) {
        const s = (starts[k]! - nxt) >>> 0, e = (ends[k]! - nxt) >>> 0;
        if (s > pos) {
          const gapEnd = s < b ? s : b;
          this.#copyIn(src, off + (pos - a), pos, gapEnd - pos);
          copied += gapEnd - pos;
        }
        const ovStart = s > pos ? s : pos, ovEnd = e < b ? e : b;
        if (ovEnd > ovStart) {
          flags |= RI_DUPLICATE;
          if (!this.#same(src, off + (ovStart - a), ovStart, ovEnd - ovStart)) {
            flags |= RI_CONFLICT;
          }
        }
        if (e > pos) pos = e;
      }
      if (pos < b) {
        this.#copyIn(src, off + (pos - a), pos, b - pos);
        copied += b - pos;
      }
      const s0 = (starts[i]! - nxt) >>> 0, e1 = (ends[j - 1]! - nxt) >>> 0;
      if (s0 < newStart) newStart = s0;
      if (e1 > newEnd) newEnd = e1;
    }
    if (flags & RI_CONFLICT) this.conflicts++;
    this.held += copied;
    this.last = flags;
    // Replace ranges i..j-1 by [newStart, newEnd), or deliver it when it starts at rcv.nxt.
    const removed = j - i;
    if (newStart === 0) {
      // Only possible with i = 0: the merged range is the new in-order prefix.
      this.#removeRanges(0, removed);
      this.held -= newEnd;
      this.readable += newEnd;
      this.nxt = (nxt + newEnd) >>> 0;
      return newEnd;
    }
    if (removed === 0) {
      for (let k = n; k > i; k--) {
        starts[k] = starts[k - 1]!;
        ends[k] = ends[k - 1]!;
        stamps[k] = stamps[k - 1]!;
      }
      this.count = n + 1;
    } else if (removed > 1) {
      this.#removeRanges(i + 1, removed - 1);
    }
    starts[i] = (nxt + newStart) >>> 0;
    ends[i] = (nxt + newEnd) >>> 0;
    stamps[i] = ++this.tick;
    return 0;
  }

  #removeRanges(at: number, howMany: number): void {
    if (howMany === 0) return;
    const starts = this.starts!, ends = this.ends!, stamps = this.stamps!;
    for (let k = at + howMany; k < this.count; k++) {
      starts[k - howMany] = starts[k]!;
      ends[k - howMany] = ends[k]!;
      stamps[k - howMany] = stamps[k]!;
    }
    this.count -= howMany;
  }

  /** Ring index of the byte `rel` bytes after rcv.nxt. */
  #index(rel: number): number {
    const p = this.rdPos + this.readable + rel;
    return p >= this.capacity ? p - this.capacity : p;
  }

  #copyIn(src: Uint8Array, off: number, rel: number, len: number): void {
    const ring = this.ring!;
    const p = this.#index(rel);
    const first = Math.min(len, this.capacity - p);
    ring.set(src.subarray(off, off + first), p);
    if (first < len) ring.set(src.subarray(off + first, off + len), 0);
  }

  #same(src: Uint8Array, off: number, rel: number, len: number): boolean {
    const ring = this.ring!, cap = this.capacity;
    let p = this.#index(rel);
    for (let k = 0; k < len; k++) {
      if (ring[p] !== src[off + k]) return false;
      if (++p === cap) p = 0;
    }
    return true;
  }

  /** Copy up to dst.length readable bytes into dst and consume them. */
  read(dst: Uint8Array): number {
    const n = Math.min(dst.length, this.readable);
    if (n === 0) return 0;
    const ring = this.ring!;
    const first = Math.min(n, this.capacity - this.rdPos);
    dst.set(ring.subarray(this.rdPos, this.rdPos + first), 0);
    if (first < n) dst.set(ring.subarray(0, n - first), first);
    this.rdPos += n;
    if (this.rdPos >= this.capacity) this.rdPos -= this.capacity;
    this.readable -= n;
    if (this.readable === 0 && this.count === 0) this.release();
    return n;
  }

  /** Give the storage back (the buffer is empty, or being destroyed). */
  release(): void {
    if (this.ring !== null) this.pool.give(this.ring);
    this.ring = null;
    this.starts = this.ends = this.stamps = null;
    this.rdPos = 0;
  }

  /**
   * Write up to `max` held ranges as [left, right) pairs into out, most recently touched first
   * (RFC 2018 section 4). Returns the number written.
   */
  sack(out: Uint32Array, max: number): number {
    const n = this.count;
    let want = Math.min(max, n, out.length >> 1);
    if (want <= 0) return 0;
    const starts = this.starts!, ends = this.ends!, stamps = this.stamps!;
    // Selection of the `want` largest stamps (stamps are distinct); n <= RCV_MAX_RANGES.
    let bound = Infinity;
    for (let w = 0; w < want; w++) {
      let best = -1, bestStamp = -1;
      for (let k = 0; k < n; k++) {
        const s = stamps[k]!;
        if (s < bound && s > bestStamp) {
          bestStamp = s;
          best = k;
        }
      }
      if (best < 0) {
        want = w;
        break;
      }
      out[2 * w] = starts[best]!;
      out[2 * w + 1] = ends[best]!;
      bound = bestStamp;
    }
    return want;
  }
}
