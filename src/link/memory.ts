/**
 * Two linked in-memory endpoints: a frame sent on one is received on the other, in order,
 * through a bounded queue (frames beyond the limit are dropped and counted, as a full NIC
 * ring would). For tests, simulations and the unprivileged demo.
 *
 * No buffer allocation per frame once warm: each queue is a ring of frame slots created on first
 * use and then reused (a copy makes only a transient subarray view). `wait()` resolves as soon as the peer sends (no polling timer); a timer
 * runs only for a finite timeout and is cleared when the wait ends.
 *
 * @module
 */

import type { Link } from "./link.ts";
export type { Link };

/** Options of {@link createMemoryLinkPair}. */
export interface MemoryLinkOptions {
  /** IP MTU of both ends (default 1500); frames may be up to mtu + 18 bytes. */
  mtu?: number;
  /** Frames each direction holds before it drops (default 1024). */
  queueLimit?: number;
}

/** Counters of one memory endpoint. */
export interface MemoryLinkStats {
  /** Frames this end sent that reached the peer's queue. */
  sent: number;
  /** Frames this end received. */
  received: number;
  /** Frames this end sent that the peer's full queue (or closed peer) dropped. */
  dropped: number;
}

/** One end of a memory pair. */
export interface MemoryLink extends Link {
  /** Counters of this end. */
  readonly stats: MemoryLinkStats;
  /** Frames waiting to be received by this end. */
  readonly pending: number;
}

const FRAME_OVERHEAD = 18;

/** A bounded ring of frames from one end to the other. */
class FrameQueue {
  readonly slots: (Uint8Array | undefined)[];
  readonly lens: Int32Array;
  head = 0;
  count = 0;
  waiters: (() => void)[] = [];

  constructor(readonly limit: number, readonly slotSize: number) {
    this.slots = new Array(limit);
    this.lens = new Int32Array(limit);
  }

  push(src: Uint8Array, off: number, len: number): boolean {
    if (this.count === this.limit) return false;
    const i = (this.head + this.count) % this.limit;
    let slot = this.slots[i];
    if (slot === undefined) slot = this.slots[i] = new Uint8Array(this.slotSize);
    slot.set(src.subarray(off, off + len));
    this.lens[i] = len;
    this.count++;
    return true;
  }

  wake(): void {
    if (this.waiters.length === 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}

class MemoryEnd implements MemoryLink {
  readonly stats: MemoryLinkStats = { sent: 0, received: 0, dropped: 0 };
  peer!: MemoryEnd;
  closed = false;

  constructor(
    readonly name: string,
    readonly mtu: number,
    readonly inbox: FrameQueue,
  ) {}

  get pending(): number {
    return this.inbox.count;
  }

  counters(): Record<string, number> {
    const s = this.stats;
    return { "memory-sent": s.sent, "memory-received": s.received, "memory-dropped": s.dropped };
  }

  receive(buf: Uint8Array, meta: Int32Array, max: number): number {
    const q = this.inbox;
    const room = this.mtu + FRAME_OVERHEAD;
    if (meta.length < 2 * max) max = meta.length >> 1;
    let off = 0;
    let n = 0;
    while (n < max && q.count > 0 && buf.length - off >= room) {
      const len = q.lens[q.head]!;
      buf.set((q.slots[q.head] as Uint8Array).subarray(0, len), off);
      meta[2 * n] = off;
      meta[2 * n + 1] = len;
      off += len;
      n++;
      q.head = (q.head + 1) % q.limit;
      q.count--;
    }
    this.stats.received += n;
    return n;
  }

  send(buf: Uint8Array, off: number, len: number): void {
    if (this.closed) throw new Deno.errors.BadResource(`Cannot send on ${this.name}: it is closed`);
    if (!(off >= 0 && len >= 0 && off + len <= buf.length)) {
      throw new RangeError(
        `Frame range [${off}, ${off + len}) is outside the ${buf.length}-byte buffer`,
      );
    }
    if (len < 14 || len > this.mtu + FRAME_OVERHEAD) {
      throw new RangeError(
        `Frame of ${len} bytes does not fit ${this.name} (14 to ${
          this.mtu + FRAME_OVERHEAD
        } bytes)`,
      );
    }
    const peer = this.peer;
    if (peer.closed || !peer.inbox.push(buf, off, len)) {
      this.stats.dropped++;
      return;
    }
    this.stats.sent++;
    peer.inbox.wake();
  }

  wait(timeoutMs: number): Promise<void> {
    if (this.closed || this.inbox.count > 0 || !(timeoutMs > 0)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      if (timeoutMs === Infinity) {
        this.inbox.waiters.push(resolve);
        return;
      }
      const timer = setTimeout(() => {
        const i = this.inbox.waiters.indexOf(done);
        if (i >= 0) this.inbox.waiters.splice(i, 1);
        resolve();
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.inbox.waiters.push(done);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inbox.count = 0;
    this.inbox.wake();
  }
}

/**
 * Create two linked endpoints ("memory-a", "memory-b").
 *
 * @example
 * ```ts
 * import { createMemoryLinkPair } from "./memory.ts";
 * const [a, b] = createMemoryLinkPair({ mtu: 1500 });
 * const frame = new Uint8Array(60);
 * a.send(frame, 0, frame.length);
 * const meta = new Int32Array(2);
 * const n = b.receive(new Uint8Array(2048), meta, 1);
 * console.assert(n === 1 && meta[1] === 60);
 * a.close();
 * b.close();
 * ```
 */
export function createMemoryLinkPair(options: MemoryLinkOptions = {}): [MemoryLink, MemoryLink] {
  const mtu = options.mtu ?? 1500;
  const limit = options.queueLimit ?? 1024;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new RangeError(`Memory link MTU must be an integer from 68 to 65535, got ${mtu}`);
  }
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`Memory link queue limit must be a positive integer, got ${limit}`);
  }
  const size = mtu + FRAME_OVERHEAD;
  const a = new MemoryEnd("memory-a", mtu, new FrameQueue(limit, size));
  const b = new MemoryEnd("memory-b", mtu, new FrameQueue(limit, size));
  a.peer = b;
  b.peer = a;
  return [a, b];
}
