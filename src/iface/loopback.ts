/**
 * The loopback path (every OS has one: Linux `lo`): frames to our own address and to
 * 127.0.0.0/8 (RFC 1122 3.2.1.3 (g)) never reach the link. The transmitter hands them here
 * whole (Ethernet header included, addressed to our own MAC); the interface takes them back
 * out at its next poll and receives them like frames from the wire, marked as looped so that
 * loopback addresses are accepted only from here. The queue is bounded like Linux's
 * netdev_max_backlog: a frame beyond `loopbackQueueFrames` is dropped and counted
 * (`loopback-queue-full`), and TCP retransmits it.
 *
 * @example
 * ```ts
 * import { LoopbackQueue } from "./loopback.ts";
 * const q = new LoopbackQueue(2);
 * q.push(new Uint8Array([1, 2, 3]), 0, 3);
 * if (q.pending !== 1 || q.shift()?.length !== 3) throw new Error("not queued");
 * ```
 *
 * @module
 */

/** Counters of the loopback queue. */
export interface LoopbackStats {
  /** Frames looped back. */
  frames: number;
  /** Bytes looped back. */
  bytes: number;
  /** Frames dropped because the queue was full. */
  dropped: number;
}

/** A bounded FIFO of frames looped back to our own interface. */
export class LoopbackQueue {
  /** Counters of the queue. */
  readonly stats: LoopbackStats = { frames: 0, bytes: 0, dropped: 0 };
  #frames: Uint8Array[] = [];
  #head = 0;
  #limit: number;

  /** A queue holding at most `limit` frames. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Frames waiting. */
  get pending(): number {
    return this.#frames.length - this.#head;
  }

  /** Queue a copy of `buf[off, off+len)`; false (counted) when the queue is full. */
  push(buf: Uint8Array, off: number, len: number): boolean {
    if (this.pending >= this.#limit) {
      this.stats.dropped++;
      return false;
    }
    this.#frames.push(buf.slice(off, off + len));
    this.stats.frames++;
    this.stats.bytes += len;
    return true;
  }

  /** The oldest frame, or undefined when empty. */
  shift(): Uint8Array | undefined {
    if (this.#head >= this.#frames.length) return undefined;
    const f = this.#frames[this.#head++];
    if (this.#head === this.#frames.length) {
      this.#frames.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024) {
      this.#frames = this.#frames.slice(this.#head);
      this.#head = 0;
    }
    return f;
  }

  /** Forget every waiting frame. */
  clear(): void {
    this.#frames.length = 0;
    this.#head = 0;
  }
}
