/**
 * A small bounded pool of byte rings for the JS engine's stream buffers. Buffers give their
 * storage back when they become empty (so an idle connection costs almost nothing) and take it
 * again on the next write; the pool makes that cycle cheap by skipping the zero-filling of a
 * fresh ArrayBuffer. At most {@link RING_POOL_BYTES} bytes are kept.
 *
 * @module
 */

/** Upper bound on the bytes a pool keeps for reuse. */
export const RING_POOL_BYTES = 8 * 1024 * 1024;

/** Rings of equal size kept for reuse, bounded by {@link RING_POOL_BYTES}. */
export class RingPool {
  #free = new Map<number, Uint8Array[]>();
  #bytes = 0;

  /** A ring of exactly `size` bytes (contents unspecified). */
  take(size: number): Uint8Array {
    const list = this.#free.get(size);
    const ring = list?.pop();
    if (ring !== undefined) {
      this.#bytes -= size;
      return ring;
    }
    return new Uint8Array(size);
  }

  /** Return a ring; it is kept when the pool has room, otherwise left to the collector. */
  give(ring: Uint8Array): void {
    const size = ring.length;
    if (this.#bytes + size > RING_POOL_BYTES) return;
    let list = this.#free.get(size);
    if (list === undefined) {
      list = [];
      this.#free.set(size, list);
    }
    list.push(ring);
    this.#bytes += size;
  }

  /** Bytes currently kept. */
  get bytes(): number {
    return this.#bytes;
  }
}
