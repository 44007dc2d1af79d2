/**
 * The parts of the fault injector (fault.ts) that hold no policy: its seeded random generator
 * and the bounded pool of frames held until they fall due.
 *
 * @module
 */

/** Small fast seeded generator (sfc32, seeded through splitmix32); floats in [0, 1). */
export class Random {
  #a: number;
  #b: number;
  #c: number;
  #d = 1;

  constructor(seed: number) {
    let s = seed >>> 0;
    const mix = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = mix();
    this.#b = mix();
    this.#c = mix();
    for (let i = 0; i < 12; i++) this.next();
  }

  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return (t >>> 0) / 4294967296;
  }
}

/** Frames held until a due time, released in (due, arrival) order. Preallocated, bounded. */
export class HoldQueue {
  readonly slots: (Uint8Array | undefined)[];
  readonly lens: Int32Array;
  readonly free: Int32Array;
  nFree: number;
  // Binary min-heap of slot indices keyed by (due, seq).
  readonly heap: Int32Array;
  readonly due: Float64Array;
  readonly seq: Float64Array;
  size = 0;
  nextSeq = 0;
  busyUntil = -Infinity;

  constructor(readonly limit: number, readonly slotSize: number) {
    this.slots = new Array(limit);
    this.lens = new Int32Array(limit);
    this.free = new Int32Array(limit);
    for (let i = 0; i < limit; i++) this.free[i] = limit - 1 - i;
    this.nFree = limit;
    this.heap = new Int32Array(limit);
    this.due = new Float64Array(limit);
    this.seq = new Float64Array(limit);
  }

  /** Copy a frame in, due at `due`; returns its slot, or -1 when the pool is full. */
  push(src: Uint8Array, off: number, len: number, due: number): number {
    if (this.nFree === 0) return -1;
    const s = this.free[--this.nFree]!;
    let slot = this.slots[s];
    if (slot === undefined) slot = this.slots[s] = new Uint8Array(this.slotSize);
    slot.set(src.subarray(off, off + len));
    this.lens[s] = len;
    this.due[s] = due;
    this.seq[s] = this.nextSeq++;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(s, this.heap[p]!)) break;
      this.heap[i] = this.heap[p]!;
      i = p;
    }
    this.heap[i] = s;
    return s;
  }

  /** Due time of the first frame, or Infinity. */
  peekDue(): number {
    return this.size === 0 ? Infinity : this.due[this.heap[0]!]!;
  }

  /** Remove the first frame and return its slot (valid until the next push). */
  pop(): number {
    const top = this.heap[0]!;
    const last = this.heap[--this.size]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.size) break;
      const r = l + 1;
      const c = r < this.size && this.#less(this.heap[r]!, this.heap[l]!) ? r : l;
      if (!this.#less(this.heap[c]!, last)) break;
      this.heap[i] = this.heap[c]!;
      i = c;
    }
    if (this.size > 0) this.heap[i] = last;
    this.free[this.nFree++] = top;
    return top;
  }

  clear(): void {
    while (this.size > 0) this.pop();
  }

  #less(x: number, y: number): boolean {
    const dx = this.due[x]!;
    const dy = this.due[y]!;
    return dx < dy || (dx === dy && this.seq[x]! < this.seq[y]!);
  }
}
