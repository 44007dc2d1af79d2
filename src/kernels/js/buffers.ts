/**
 * Stream buffers of the JS engine (reassembly and send ring) over ArrayBuffers: the handle
 * tables and argument checks in front of {@link RcvBuffer} and {@link SndRing}.
 *
 * Memory: a buffer costs one small object until its first byte arrives; its ring of `capacity`
 * bytes is allocated then and given back (to a pool bounded at 8 MiB per engine) whenever it
 * becomes empty, so an idle connection holds no ring at all: about 250 bytes of JS heap per
 * connection (receive buffer plus send ring), 2.5 MB for 10,000 idle connections (measured with
 * `Deno.memoryUsage().heapUsed`).
 *
 * @module
 */
import type { BufferOps } from "../engine.ts";
import {
  checkCapacity,
  checkGrow,
  checkSackMax,
  checkSeq,
  checkSndRange,
  checkSpan,
  MAX_BUFFER_HANDLES,
  tooManyHandles,
  unknownHandle,
} from "../buffer_limits.ts";
import { RcvBuffer } from "./rcv_buffer.ts";
import { RingPool } from "./ring_pool.ts";
import { SndRing } from "./snd_ring.ts";

/** Handles: indices into `slots`, freed ones reused (most recently freed first). */
class HandleTable<T> {
  readonly slots: (T | undefined)[] = [];
  readonly #free: number[] = [];

  add(item: T, kind: "receive buffers" | "send rings"): number {
    const h = this.#free.pop();
    if (h !== undefined) {
      this.slots[h] = item;
      return h;
    }
    if (this.slots.length >= MAX_BUFFER_HANDLES) throw tooManyHandles(kind);
    this.slots.push(item);
    return this.slots.length - 1;
  }

  remove(h: number): T | undefined {
    const item = this.slots[h];
    if (item === undefined) return undefined;
    this.slots[h] = undefined;
    this.#free.push(h);
    return item;
  }
}

/** BufferOps over plain ArrayBuffers; `memView()` returns the engine's packet memory. */
export class JsBuffers implements BufferOps {
  readonly #rcv = new HandleTable<RcvBuffer>();
  readonly #snd = new HandleTable<SndRing>();
  readonly #pool = new RingPool();

  /** `memView()` returns the packet memory that rcvInsert reads and sndCopy writes. */
  constructor(protected readonly memView: () => Uint8Array) {}

  #r(h: number): RcvBuffer {
    const b = this.#rcv.slots[h];
    if (b === undefined) throw unknownHandle("receive buffer", h);
    return b;
  }

  #s(h: number): SndRing {
    const s = this.#snd.slots[h];
    if (s === undefined) throw unknownHandle("send ring", h);
    return s;
  }

  rcvCreate(capacity: number, seq: number): number {
    checkCapacity(capacity);
    checkSeq(seq);
    return this.#rcv.add(new RcvBuffer(capacity, seq, this.#pool), "receive buffers");
  }
  rcvDestroy(h: number): void {
    const b = this.#rcv.remove(h);
    if (b === undefined) throw unknownHandle("receive buffer", h);
    b.release();
  }
  rcvInsert(h: number, seq: number, off: number, len: number): number {
    const b = this.#r(h);
    const mem = this.memView();
    checkSpan(off, len, mem.length);
    return b.insert(mem, seq >>> 0, off, len);
  }
  rcvLastInsert(h: number): number {
    return this.#r(h).last;
  }
  rcvNext(h: number): number {
    return this.#r(h).nxt;
  }
  rcvReadable(h: number): number {
    return this.#r(h).readable;
  }
  rcvWindow(h: number): number {
    return this.#r(h).window();
  }
  rcvGrow(h: number, capacity: number): void {
    const b = this.#r(h);
    checkGrow(capacity, b.capacity);
    b.grow(capacity);
  }
  rcvRead(h: number, dst: Uint8Array): number {
    return this.#r(h).read(dst);
  }
  rcvSack(h: number, out: Uint32Array, max: number): number {
    const b = this.#r(h);
    checkSackMax(max);
    return b.sack(out, max);
  }
  rcvHeld(h: number): number {
    return this.#r(h).held;
  }
  /** Segments dropped because the held-range cap was reached (RI_RANGE_LIMIT), since creation. */
  rcvRangeLimitDrops(h: number): number {
    return this.#r(h).rangeLimitDrops;
  }
  /** Inserts whose overlapping bytes differed from those held (RI_CONFLICT), since creation. */
  rcvConflicts(h: number): number {
    return this.#r(h).conflicts;
  }

  sndCreate(capacity: number, seq: number): number {
    checkCapacity(capacity);
    checkSeq(seq);
    return this.#snd.add(new SndRing(capacity, seq, this.#pool), "send rings");
  }
  sndDestroy(h: number): void {
    const s = this.#snd.remove(h);
    if (s === undefined) throw unknownHandle("send ring", h);
    s.free();
  }
  sndWrite(h: number, src: Uint8Array): number {
    return this.#s(h).write(src);
  }
  sndCopy(h: number, seq: number, len: number, dstOff: number): void {
    const s = this.#s(h);
    const mem = this.memView();
    checkSpan(dstOff, len, mem.length);
    checkSndRange(seq, len, s.head, s.length);
    s.copy(seq >>> 0, len, mem, dstOff);
  }
  sndRelease(h: number, ackSeq: number): number {
    return this.#s(h).release(ackSeq >>> 0);
  }
  sndLength(h: number): number {
    return this.#s(h).length;
  }
  sndFree(h: number): number {
    const s = this.#s(h);
    return s.capacity - s.length;
  }
  sndGrow(h: number, capacity: number): void {
    const s = this.#s(h);
    checkGrow(capacity, s.capacity);
    s.grow(capacity);
  }
  sndHead(h: number): number {
    return this.#s(h).head;
  }
}
