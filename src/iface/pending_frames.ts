/**
 * Frames waiting for a neighbor's link-layer address, bounded per address and in bytes for all
 * addresses together: the queue policy that the ARP cache (arp_cache.ts) and the IPv6 neighbor
 * cache (neighbor6.ts) share. RFC 1122 2.3.2.2 and RFC 4861 7.2.2 keep the latest frame, so a
 * full queue gives up its oldest ones, as Linux does.
 *
 * @module
 */

/** Bytes queued behind address resolution, all addresses of one cache together. */
export class PendingFrames {
  /** Bytes of the frames waiting in every queue this budget covers. */
  bytes = 0;

  /**
   * Queue `frame` on `queue`. While the queue holds `perAddress` frames, or the new frame would
   * take the budget past `maxBytes`, its oldest frames are dropped; when the new one still does
   * not fit (other queues hold the bytes), it is dropped. Returns the number of frames dropped,
   * the new one included; the new one was queued when it is the last of `queue`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PendingFrames } from "./pending_frames.ts";
   * const budget = new PendingFrames();
   * const q: Uint8Array[] = [];
   * assert.equal(budget.enqueue(q, new Uint8Array(600), 2, 1000), 0);
   * assert.equal(budget.enqueue(q, new Uint8Array(600), 2, 1000), 1); // the oldest gives way
   * assert.equal(q.length, 1);
   * assert.equal(budget.bytes, 600);
   * budget.release(q);
   * assert.equal(budget.bytes, 0);
   * ```
   */
  enqueue(queue: Uint8Array[], frame: Uint8Array, perAddress: number, maxBytes: number): number {
    let dropped = 0;
    while (
      queue.length > 0 &&
      (queue.length >= perAddress || this.bytes + frame.length > maxBytes)
    ) {
      this.bytes -= queue.shift()!.length;
      dropped++;
    }
    if (this.bytes + frame.length > maxBytes) return dropped + 1;
    queue.push(frame);
    this.bytes += frame.length;
    return dropped;
  }

  /** The frames of `queue` leave it (sent, or dropped by the caller): free their bytes. */
  release(queue: readonly Uint8Array[]): void {
    for (const f of queue) this.bytes -= f.length;
  }
}
