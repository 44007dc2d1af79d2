/**
 * The TCP send ring of the JS engine: unacknowledged plus unsent bytes, in sequence order, from
 * snd.una (`head`) on. The readable reference that asm/buffers/snd.ts follows.
 *
 * @module
 */

import type { RingPool } from "./ring_pool.ts";

/** One send ring. Fields are public to the engine module; callers use BufferOps. */
export class SndRing {
  /** Ring storage; null while empty (allocated on first write, given back when emptied). */
  ring: Uint8Array | null = null;
  /** Ring index of the byte carrying sequence number `head`. */
  rdPos = 0;
  /** Bytes held. */
  length = 0;
  /** Sequence number of the first byte held (u32). */
  head: number;

  constructor(public capacity: number, seq: number, private readonly pool: RingPool) {
    this.head = seq >>> 0;
  }

  /** Grow to `capacity` bytes (at least the current one); the held bytes move to index 0. */
  grow(capacity: number): void {
    const old = this.ring, cap = this.capacity;
    this.capacity = capacity;
    if (old === null) return;
    const ring = this.pool.take(capacity);
    const first = Math.min(this.length, cap - this.rdPos);
    ring.set(old.subarray(this.rdPos, this.rdPos + first), 0);
    if (first < this.length) ring.set(old.subarray(0, this.length - first), first);
    this.pool.give(old);
    this.ring = ring;
    this.rdPos = 0;
  }

  /** Append as much of src as fits; returns the count accepted. */
  write(src: Uint8Array): number {
    const n = Math.min(src.length, this.capacity - this.length);
    if (n === 0) return 0;
    if (this.ring === null) this.ring = this.pool.take(this.capacity);
    const ring = this.ring;
    let p = this.rdPos + this.length;
    if (p >= this.capacity) p -= this.capacity;
    const first = Math.min(n, this.capacity - p);
    ring.set(first === src.length ? src : src.subarray(0, first), p);
    if (first < n) ring.set(src.subarray(first, n), 0);
    this.length += n;
    return n;
  }

  /** Copy `len` bytes from sequence number `seq` on into dst at dstOff. */
  copy(seq: number, len: number, dst: Uint8Array, dstOff: number): void {
    const rel = (seq - this.head) >>> 0; // seqDiff(seq, head), known to be within the ring
    if (len === 0) return;
    const ring = this.ring!;
    let p = this.rdPos + rel;
    if (p >= this.capacity) p -= this.capacity;
    const first = Math.min(len, this.capacity - p);
    dst.set(ring.subarray(p, p + first), dstOff);
    if (first < len) dst.set(ring.subarray(0, len - first), dstOff + first);
  }

  /**
   * Release the bytes before `ackSeq`. An ackSeq at or before head releases nothing; one past
   * the end (an ACK that also covers a FIN) releases everything held.
   */
  release(ackSeq: number): number {
    const d = (ackSeq - this.head) | 0; // seqDiff(ackSeq, head)
    if (d <= 0) return 0;
    const n = Math.min(d, this.length);
    this.head = (this.head + n) >>> 0;
    this.length -= n;
    if (this.length === 0) {
      this.free();
    } else {
      this.rdPos += n;
      if (this.rdPos >= this.capacity) this.rdPos -= this.capacity;
    }
    return n;
  }

  /** Give the storage back. */
  free(): void {
    if (this.ring !== null) this.pool.give(this.ring);
    this.ring = null;
    this.rdPos = 0;
  }
}
