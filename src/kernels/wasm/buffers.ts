/**
 * Stream buffers of the WASM engine: TypeScript glue over the exports of asm/buffers/. The
 * bytes and the range bookkeeping live in WASM memory; only integers cross the boundary. Reads
 * and writes ask WASM for the address and length of a contiguous region and copy with one
 * `set` per region (at most two per call, as a ring wraps once).
 *
 * Memory: a buffer costs a 56-byte (receive) or 20-byte (send) heap block plus a 4-byte table
 * slot until its first byte arrives; its ring is allocated then and freed whenever it becomes
 * empty: about 100 bytes of WASM heap per idle connection, so 10,000 idle connections fit in
 * 4 MiB of memory growth (tests/kernels/buffers_memory.test.ts checks it). Rings of 256 MiB and more
 * take pages straight from memory.grow (TLSF blocks stop short of 1 GiB) and are reused, not
 * returned. Memory may grow during rcvInsert, sndWrite and the create calls, so views of it are
 * re-read after those calls, never cached across them.
 *
 * @module
 */
import type { BufferOps } from "../engine.ts";
import { PKT_SIZE, SCRATCH } from "../../wire/layout.ts";
import {
  checkCapacity,
  checkGrow,
  checkSackMax,
  checkSeq,
  checkSndRange,
  checkSpan,
  tooManyHandles,
  unknownHandle,
} from "../buffer_limits.ts";

/** Open handles of one kind, tracked on the TypeScript side so that misuse never reaches WASM. */
class OpenSet {
  #open = new Uint8Array(64);

  has(h: number): boolean {
    return (h >>> 0) === h && this.#open[h] === 1;
  }
  add(h: number): void {
    if (h >= this.#open.length) {
      const bigger = new Uint8Array(Math.max(h + 1, this.#open.length * 2));
      bigger.set(this.#open);
      this.#open = bigger;
    }
    this.#open[h] = 1;
  }
  delete(h: number): void {
    this.#open[h] = 0;
  }
}

function allocFailed(what: string, err: unknown): Error {
  return new Error(`Cannot allocate WASM memory for ${what}: ${(err as Error).message}`, {
    cause: err,
  });
}

/** BufferOps over the WASM exports; `memView()` returns a fresh view of WASM memory. */
export class WasmBuffers implements BufferOps {
  readonly #rcv = new OpenSet();
  readonly #snd = new OpenSet();
  #sackView: Uint32Array | null = null;

  /** `wasm` is the instance's exports; `memView()` returns a current view of its memory. */
  constructor(
    // deno-lint-ignore no-explicit-any
    protected readonly wasm: any,
    protected readonly memView: () => Uint8Array,
  ) {}

  #r(h: number): number {
    if (!this.#rcv.has(h)) throw unknownHandle("receive buffer", h);
    return h;
  }

  #s(h: number): number {
    if (!this.#snd.has(h)) throw unknownHandle("send ring", h);
    return h;
  }

  rcvCreate(capacity: number, seq: number): number {
    checkCapacity(capacity);
    checkSeq(seq);
    let h: number;
    try {
      h = this.wasm.rcvCreate(capacity, seq);
    } catch (err) {
      throw allocFailed("a receive buffer", err);
    }
    if (h < 0) throw tooManyHandles("receive buffers");
    this.#rcv.add(h);
    return h;
  }
  rcvDestroy(h: number): void {
    this.wasm.rcvDestroy(this.#r(h));
    this.#rcv.delete(h);
  }
  rcvInsert(h: number, seq: number, off: number, len: number): number {
    this.#r(h);
    checkSpan(off, len, PKT_SIZE);
    try {
      return this.wasm.rcvInsert(h, seq, off, len);
    } catch (err) {
      throw allocFailed(
        `the storage of a ${this.rcvWindow(h) + this.rcvReadable(h)}-byte receive buffer`,
        err,
      );
    }
  }
  rcvLastInsert(h: number): number {
    return this.wasm.rcvLastInsert(this.#r(h));
  }
  rcvNext(h: number): number {
    return this.wasm.rcvNext(this.#r(h)) >>> 0;
  }
  rcvReadable(h: number): number {
    return this.wasm.rcvReadable(this.#r(h));
  }
  rcvWindow(h: number): number {
    return this.wasm.rcvWindow(this.#r(h));
  }
  rcvGrow(h: number, capacity: number): void {
    checkGrow(capacity, this.rcvWindow(h) + this.rcvReadable(h));
    try {
      this.wasm.rcvGrow(h, capacity);
    } catch (err) {
      throw allocFailed(`the storage of a ${capacity}-byte receive buffer`, err);
    }
  }
  rcvRead(h: number, dst: Uint8Array): number {
    const w = this.wasm;
    this.#r(h);
    let total = 0;
    while (total < dst.length) {
      const span = w.rcvReadSpan(h);
      if (span === 0) break;
      const n = Math.min(span, dst.length - total);
      const ptr = w.rcvReadPtr(h) >>> 0;
      dst.set(this.memView().subarray(ptr, ptr + n), total);
      w.rcvConsume(h, n);
      total += n;
    }
    return total;
  }
  rcvSack(h: number, out: Uint32Array, max: number): number {
    this.#r(h);
    checkSackMax(max);
    const n = this.wasm.rcvSack(h, Math.min(max, out.length >> 1));
    const mem = this.memView();
    let view = this.#sackView;
    if (view === null || view.buffer !== mem.buffer) {
      view = this.#sackView = new Uint32Array(mem.buffer, SCRATCH, 8);
    }
    for (let i = 0; i < 2 * n; i++) out[i] = view[i]!;
    return n;
  }
  rcvHeld(h: number): number {
    return this.wasm.rcvHeld(this.#r(h));
  }
  /** Segments dropped because the held-range cap was reached (RI_RANGE_LIMIT), since creation. */
  rcvRangeLimitDrops(h: number): number {
    return this.wasm.rcvRangeLimitDrops(this.#r(h));
  }
  /** Inserts whose overlapping bytes differed from those held (RI_CONFLICT), since creation. */
  rcvConflicts(h: number): number {
    return this.wasm.rcvConflicts(this.#r(h));
  }

  sndCreate(capacity: number, seq: number): number {
    checkCapacity(capacity);
    checkSeq(seq);
    let h: number;
    try {
      h = this.wasm.sndCreate(capacity, seq);
    } catch (err) {
      throw allocFailed("a send ring", err);
    }
    if (h < 0) throw tooManyHandles("send rings");
    this.#snd.add(h);
    return h;
  }
  sndDestroy(h: number): void {
    this.wasm.sndDestroy(this.#s(h));
    this.#snd.delete(h);
  }
  sndWrite(h: number, src: Uint8Array): number {
    const w = this.wasm;
    this.#s(h);
    let total = 0;
    while (total < src.length) {
      const span = w.sndWriteSpan(h);
      if (span === 0) break;
      const n = Math.min(span, src.length - total);
      let ptr: number;
      try {
        ptr = w.sndWritePtr(h) >>> 0; // may grow memory: take the view afterwards
      } catch (err) {
        throw allocFailed(
          `the storage of a ${this.sndFree(h) + this.sndLength(h)}-byte send ring`,
          err,
        );
      }
      this.memView().set(
        total === 0 && n === src.length ? src : src.subarray(total, total + n),
        ptr,
      );
      w.sndCommit(h, n);
      total += n;
    }
    return total;
  }
  sndCopy(h: number, seq: number, len: number, dstOff: number): void {
    this.#s(h);
    checkSpan(dstOff, len, PKT_SIZE);
    if (this.wasm.sndCopy(h, seq, len, dstOff) < 0) {
      checkSndRange(seq, len, this.sndHead(h), this.sndLength(h));
    }
  }
  sndRelease(h: number, ackSeq: number): number {
    return this.wasm.sndRelease(this.#s(h), ackSeq);
  }
  sndLength(h: number): number {
    return this.wasm.sndLength(this.#s(h));
  }
  sndFree(h: number): number {
    return this.wasm.sndFree(this.#s(h));
  }
  sndGrow(h: number, capacity: number): void {
    checkGrow(capacity, this.sndFree(h) + this.sndLength(h));
    try {
      this.wasm.sndGrow(h, capacity);
    } catch (err) {
      throw allocFailed(`the storage of a ${capacity}-byte send ring`, err);
    }
  }
  sndHead(h: number): number {
    return this.wasm.sndHead(this.#s(h)) >>> 0;
  }
}
