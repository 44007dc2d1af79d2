/**
 * Two linked in-memory endpoints: a frame sent on one is received on the other, in order,
 * through a bounded queue (frames beyond the limit are dropped and counted, as a full NIC
 * ring would). For tests, simulations and the unprivileged demo.
 *
 * No buffer allocation per frame once warm: each queue is a ring of frame slots whose buffers
 * are created on first use and reused once their frame is received (a copy makes only a
 * transient subarray view). By default the ends take large TCP segments (`tso`): TCP builds
 * segments of up to 64 KiB and the peer takes each whole, as Linux GRO hands up a merged
 * segment. With `offload`, MTU-sized segments sent in one pass merge into large frames too.
 * `wait()` resolves as soon as the peer sends (no polling timer); a timer runs only for a
 * finite timeout and is cleared when the wait ends.
 *
 * @module
 */

import type { ChecksumFn, Link } from "./link.ts";
import { jsChecksum } from "../kernels/js/checksum.ts";
import { SegmentMerger } from "./tap/gso.ts";
import { completeChecksum } from "./tap/vnet.ts";
export type { Link };

/** Largest frame of a memory link with `tso` or `offload`: an Ethernet header and a 65535-byte datagram. */
const MAX_LARGE_FRAME = 14 + 65535;

/** Options of {@link createMemoryLinkPair}. */
export interface MemoryLinkOptions {
  /** IP MTU of both ends (default 1500); frames may be up to mtu + 18 bytes. */
  mtu?: number;
  /**
   * Frames each direction holds before it drops (default 4096: 6 MB at MTU 1500, more than the
   * 4 MiB a connection's send ring may grow to, so auto-tuned windows do not overrun it).
   */
  queueLimit?: number;
  /**
   * TCP segmentation offload (default true): both ends declare `maxSendFrame` and `maxFrame`
   * (14 + 65535 bytes), so TCP sends segments of up to 64 KiB as single frames and the peer
   * takes them whole (as GRO). Other frames stay within mtu + 18. False: every frame is at
   * most mtu + 18 bytes, as on a wire.
   */
  tso?: boolean;
  /**
   * Segmentation offload between the two ends (default false): within one driver pass
   * (`cork()`/`uncork()`), consecutive TCP segments of a flow travel as one frame of up to
   * 64 KiB (merged by the TAP link's rules, src/link/tap/gso.ts, with a complete checksum), so
   * each end handles one frame where it would handle up to 45. The ends declare `maxFrame`;
   * each queue slot then holds 64 KiB (allocated when first used: up to `queueLimit` x 64 KiB).
   */
  offload?: boolean;
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
  /** 1 where the frame is a merged segment whose TCP checksum the receiver completes. */
  readonly partial: Uint8Array;
  /** Slot buffers of `slotSize` bytes not holding a frame. */
  readonly free: Uint8Array[] = [];
  /** Slot buffers of `largeSize` bytes (frames above `slotSize`) not holding a frame. */
  readonly freeLarge: Uint8Array[] = [];
  head = 0;
  count = 0;
  waiters: (() => void)[] = [];

  constructor(readonly limit: number, readonly slotSize: number, readonly largeSize: number) {
    this.slots = new Array(limit);
    this.lens = new Int32Array(limit);
    this.partial = new Uint8Array(limit);
  }

  push(src: Uint8Array, off: number, len: number, partial = 0): boolean {
    if (this.count === this.limit) return false;
    const i = (this.head + this.count) % this.limit;
    // Slot storage comes back to `free` when the frame is received: as many buffers exist as
    // frames were ever queued at once, whatever the queue limit.
    const slot = this.slots[i] = len <= this.slotSize
      ? this.free.pop() ?? new Uint8Array(this.slotSize)
      : this.freeLarge.pop() ?? new Uint8Array(this.largeSize);
    slot.set(src.subarray(off, off + len));
    this.lens[i] = len;
    this.partial[i] = partial;
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

/** Whether `f[off, off+len)` is an untagged IPv4 or IPv6 frame carrying TCP (no extension headers). */
function isTcp(f: Uint8Array, off: number, len: number): boolean {
  if (len < 54 || f[off + 12] !== 0x08 && f[off + 12] !== 0x86) return false;
  if (f[off + 12] === 0x08) return f[off + 13] === 0x00 && f[off + 23] === 6;
  return f[off + 13] === 0xdd && f[off + 20] === 6;
}

class MemoryEnd implements MemoryLink {
  readonly stats: MemoryLinkStats = { sent: 0, received: 0, dropped: 0 };
  peer!: MemoryEnd;
  closed = false;
  /** Large frames this end receives (with `tso` or `offload`), else undefined: mtu + 18. */
  readonly maxFrame?: number;
  /** Large TCP segments this end sends whole (with `tso`), else undefined: mtu + 18. */
  readonly maxSendFrame?: number;
  /** Both ends run on one thread (link.ts): auto-tuning takes its strict rule. */
  readonly sameThreadPeer = true;
  readonly #merger: SegmentMerger | null;
  #corked = false;
  #checksum: ChecksumFn = jsChecksum;

  constructor(
    readonly name: string,
    readonly mtu: number,
    readonly inbox: FrameQueue,
    offload: boolean,
    tso: boolean,
  ) {
    this.#merger = offload ? new SegmentMerger() : null;
    if (offload || tso) this.maxFrame = MAX_LARGE_FRAME;
    if (tso) this.maxSendFrame = MAX_LARGE_FRAME;
  }

  cork(): void {
    if (this.#merger !== null && !this.closed) this.#corked = true;
  }

  uncork(): void {
    this.#corked = false;
    if (this.#merger !== null && this.#merger.count > 0) this.#flush();
  }

  useChecksum(fn: ChecksumFn): void {
    this.#checksum = fn;
  }

  /** Send what the merger holds: one segment as it came, or a merged frame, checksum complete. */
  #flush(): void {
    const m = this.#merger!;
    const count = m.count;
    const len = m.finish();
    // A merged frame's TCP checksum field holds the pseudo-header sum (gso.ts): the receiving
    // end completes it over the whole segment (RFC 9293 3.1) in its own packet memory, with
    // its engine's checksum, as a TAP link does for the kernel's partial checksums.
    this.#deliver(m.buf, 0, len, count > 1 ? 1 : 0);
    m.reset();
  }

  #deliver(buf: Uint8Array, off: number, len: number, partial = 0): void {
    const peer = this.peer;
    if (peer.closed || !peer.inbox.push(buf, off, len, partial)) {
      this.stats.dropped++;
      return;
    }
    this.stats.sent++;
    peer.inbox.wake();
  }

  get pending(): number {
    return this.inbox.count;
  }

  counters(): Record<string, number> {
    const s = this.stats;
    return { "memory-sent": s.sent, "memory-received": s.received, "memory-dropped": s.dropped };
  }

  receive(buf: Uint8Array, meta: Int32Array, max: number): number {
    const q = this.inbox;
    // Room for an MTU-sized frame, or for the next frame when it is larger (a large segment):
    // frameRoom() bytes always suffice, and a small buffer still takes small frames.
    const room = this.mtu + FRAME_OVERHEAD;
    if (meta.length < 2 * max) max = meta.length >> 1;
    let off = 0;
    let n = 0;
    while (n < max && q.count > 0) {
      const len = q.lens[q.head]!;
      if (buf.length - off < (len > room ? len : room)) break;
      const slot = q.slots[q.head] as Uint8Array;
      buf.set(slot.subarray(0, len), off);
      (slot.length === q.slotSize ? q.free : q.freeLarge).push(slot);
      q.slots[q.head] = undefined;
      if (q.partial[q.head] === 1) completeChecksum(buf, off, len, 34, 16, this.#checksum);
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
    const most = this.mtu + FRAME_OVERHEAD;
    if (len < 14 || (len > most && !(len <= (this.maxSendFrame ?? 0) && isTcp(buf, off, len)))) {
      throw new RangeError(
        `Frame of ${len} bytes does not fit ${this.name} (14 to ${most} bytes${
          this.maxSendFrame ? `, TCP segments to ${this.maxSendFrame}` : ""
        })`,
      );
    }
    if (this.#corked && len > most) {
      if (this.#merger!.count > 0) this.#flush(); // a large segment (TSO) goes whole, in order
    } else if (this.#corked) {
      const m = this.#merger!;
      let held = m.offer(buf, off, len);
      if (!held && m.count > 0) {
        this.#flush(); // what is held goes first, in order
        held = m.offer(buf, off, len);
      }
      if (held) return;
    }
    this.#deliver(buf, off, len);
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
  const limit = options.queueLimit ?? 4096;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new RangeError(`Memory link MTU must be an integer from 68 to 65535, got ${mtu}`);
  }
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`Memory link queue limit must be a positive integer, got ${limit}`);
  }
  const offload = options.offload ?? false;
  const tso = options.tso ?? true;
  const size = offload ? MAX_LARGE_FRAME : mtu + FRAME_OVERHEAD;
  const a = new MemoryEnd(
    "memory-a",
    mtu,
    new FrameQueue(limit, size, MAX_LARGE_FRAME),
    offload,
    tso,
  );
  const b = new MemoryEnd(
    "memory-b",
    mtu,
    new FrameQueue(limit, size, MAX_LARGE_FRAME),
    offload,
    tso,
  );
  a.peer = b;
  b.peer = a;
  return [a, b];
}
