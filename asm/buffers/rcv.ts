// The TCP receive (reassembly) buffer of the WASM engine. It follows the JS reference
// (src/kernels/js/rcv_buffer.ts) step for step; read that file for the design. In short: one ring
// of `cap` bytes; the readable bytes at ring index rdPos; the byte with sequence number s in
// [rcv.nxt, rcv.nxt + window) at (rdPos + readable + (s - rcv.nxt)) mod cap; held out-of-order
// ranges sorted, disjoint and non-touching, as absolute [start, end) u32 sequence numbers with
// the stamp of the insert that last touched them (SACK order, RFC 2018 section 4).
//
// Bound (same as RCV_MAX_RANGES in the JS engine): at most 64 held ranges; a segment that would
// start a 65th is dropped whole with RI_RANGE_LIMIT and counted. Out-of-order data lives inside
// the ring, so it never exceeds the capacity.

import { SCRATCH } from "../../src/wire/layout";
import { Table, tableAdd, tableGet, tableRemove, ringAlloc, ringFree } from "./table";

// rcvLastInsert flags: the same values as RI_* in src/kernels/engine.ts.
const RI_DUPLICATE: u32 = 1;
const RI_OUT_OF_ORDER: u32 = 2;
const RI_TRIMMED: u32 = 4;
const RI_RANGE_LIMIT: u32 = 8;
const RI_CONFLICT: u32 = 16;

const MAX_RANGES: u32 = 64;
// The range block: starts[64] u32, ends[64] u32, stamps[64] u64.
const R_ENDS: usize = 256;
const R_STAMPS: usize = 512;
const R_SIZE: usize = 1024;

@unmanaged class Rcv {
  cap: u32;
  nxt: u32;
  rdPos: u32;
  readable: u32;
  ring: usize;
  ranges: usize;
  count: u32;
  held: u32;
  last: u32;
  limitDrops: u32;
  conflicts: u32;
  tick: u64;
}

const table = changetype<Table>(memory.data(16));

// @ts-ignore: decorator
@inline function rcvOf(h: i32): Rcv {
  return changetype<Rcv>(tableGet(table, h));
}
// @ts-ignore: decorator
@inline function startAt(r: usize, k: u32): u32 { return load<u32>(r + (<usize>k << 2)); }
// @ts-ignore: decorator
@inline function endAt(r: usize, k: u32): u32 { return load<u32>(r + R_ENDS + (<usize>k << 2)); }
// @ts-ignore: decorator
@inline function stampAt(r: usize, k: u32): u64 { return load<u64>(r + R_STAMPS + (<usize>k << 3)); }

/** Create a receive buffer; returns its handle, or -1 when the table is full. */
export function rcvCreate(cap: u32, seq: u32): i32 {
  const b = changetype<Rcv>(heap.alloc(offsetof<Rcv>()));
  b.cap = cap;
  b.nxt = seq;
  b.rdPos = 0;
  b.readable = 0;
  b.ring = 0;
  b.ranges = 0;
  b.count = 0;
  b.held = 0;
  b.last = 0;
  b.limitDrops = 0;
  b.conflicts = 0;
  b.tick = 0;
  const h = tableAdd(table, changetype<usize>(b));
  if (h < 0) heap.free(changetype<usize>(b));
  return h;
}

function release(b: Rcv): void {
  if (b.ring != 0) ringFree(b.ring, b.cap);
  if (b.ranges != 0) heap.free(b.ranges);
  b.ring = 0;
  b.ranges = 0;
  b.rdPos = 0;
}

/** Destroy a receive buffer and free its storage. */
export function rcvDestroy(h: i32): void {
  const b = changetype<Rcv>(tableRemove(table, h));
  release(b);
  heap.free(changetype<usize>(b));
}

// @ts-ignore: decorator
@inline function ringIndex(b: Rcv, rel: u32): u32 {
  const p = b.rdPos + b.readable + rel;
  return p >= b.cap ? p - b.cap : p;
}

function copyIn(b: Rcv, src: usize, rel: u32, len: u32): void {
  const p = ringIndex(b, rel);
  const first = min(len, b.cap - p);
  memory.copy(b.ring + p, src, first);
  if (first < len) memory.copy(b.ring, src + first, len - first);
}

function sameBytes(a: usize, c: usize, len: u32): bool {
  let k: u32 = 0;
  while (k + 8 <= len) {
    if (load<u64>(a + k) != load<u64>(c + k)) return false;
    k += 8;
  }
  while (k < len) {
    if (load<u8>(a + k) != load<u8>(c + k)) return false;
    k++;
  }
  return true;
}

function same(b: Rcv, src: usize, rel: u32, len: u32): bool {
  const p = ringIndex(b, rel);
  const first = min(len, b.cap - p);
  if (!sameBytes(b.ring + p, src, first)) return false;
  return first == len || sameBytes(b.ring, src + first, len - first);
}

function removeRanges(b: Rcv, at: u32, howMany: u32): void {
  if (howMany == 0) return;
  const r = b.ranges;
  const tail = b.count - at - howMany;
  memory.copy(r + (<usize>at << 2), r + (<usize>(at + howMany) << 2), <usize>tail << 2);
  memory.copy(r + R_ENDS + (<usize>at << 2), r + R_ENDS + (<usize>(at + howMany) << 2), <usize>tail << 2);
  memory.copy(r + R_STAMPS + (<usize>at << 3), r + R_STAMPS + (<usize>(at + howMany) << 3), <usize>tail << 3);
  b.count -= howMany;
}

function insertSlow(b: Rcv, src: usize, a: u32, e: u32, flags: u32): u32 {
  if (b.ranges == 0) b.ranges = heap.alloc(R_SIZE);
  const r = b.ranges;
  const nxt = b.nxt, n = b.count;
  // i: first range ending at or after a; j: first range starting after e.
  let i: u32 = 0;
  while (i < n && endAt(r, i) - nxt < a) i++;
  let j = i;
  while (j < n && startAt(r, j) - nxt <= e) j++;
  let newStart = a, newEnd = e, copied: u32 = 0;
  if (i == j) {
    if (a > 0 && n == MAX_RANGES) {
      b.limitDrops++;
      b.last = flags | RI_RANGE_LIMIT;
      return 0;
    }
    copyIn(b, src, a, e - a);
    copied = e - a;
  } else {
    // Fill the gaps between held ranges; compare the overlaps (the first data wins).
    let pos = a;
    for (let k = i; k < j; k++) {
      const s = startAt(r, k) - nxt, t = endAt(r, k) - nxt;
      if (s > pos) {
        const gapEnd = min(s, e);
        copyIn(b, src + (pos - a), pos, gapEnd - pos);
        copied += gapEnd - pos;
      }
      const ovStart = max(s, pos), ovEnd = min(t, e);
      if (ovEnd > ovStart) {
        flags |= RI_DUPLICATE;
        if (!same(b, src + (ovStart - a), ovStart, ovEnd - ovStart)) flags |= RI_CONFLICT;
      }
      if (t > pos) pos = t;
    }
    if (pos < e) {
      copyIn(b, src + (pos - a), pos, e - pos);
      copied += e - pos;
    }
    newStart = min(newStart, startAt(r, i) - nxt);
    newEnd = max(newEnd, endAt(r, j - 1) - nxt);
  }
  if (flags & RI_CONFLICT) b.conflicts++;
  b.held += copied;
  b.last = flags;
  const removed = j - i;
  if (newStart == 0) {
    // Only possible with i = 0: the merged range is the new in-order prefix.
    removeRanges(b, 0, removed);
    b.held -= newEnd;
    b.readable += newEnd;
    b.nxt = nxt + newEnd;
    return newEnd;
  }
  if (removed == 0) {
    const tail = n - i;
    memory.copy(r + (<usize>(i + 1) << 2), r + (<usize>i << 2), <usize>tail << 2);
    memory.copy(r + R_ENDS + (<usize>(i + 1) << 2), r + R_ENDS + (<usize>i << 2), <usize>tail << 2);
    memory.copy(r + R_STAMPS + (<usize>(i + 1) << 3), r + R_STAMPS + (<usize>i << 3), <usize>tail << 3);
    b.count = n + 1;
  } else if (removed > 1) {
    removeRanges(b, i + 1, removed - 1);
  }
  store<u32>(r + (<usize>i << 2), nxt + newStart);
  store<u32>(r + R_ENDS + (<usize>i << 2), nxt + newEnd);
  b.tick++;
  store<u64>(r + R_STAMPS + (<usize>i << 3), b.tick);
  return 0;
}

/**
 * Accept the payload at packet memory [off, off+len) with first sequence number seq. Bytes
 * before rcv.nxt or beyond the window are trimmed (RFC 9293 section 3.10.7.4). Returns the
 * bytes that became readable in order.
 */
export function rcvInsert(h: i32, seq: u32, off: u32, len: u32): u32 {
  const b = rcvOf(h);
  if (len == 0) {
    b.last = 0;
    return 0;
  }
  let flags: u32 = 0;
  let src = <usize>off;
  let d = <i32>(seq - b.nxt); // seqDiff(seq, rcv.nxt)
  if (d < 0) {
    const skip = <u32>(-d);
    if (skip >= len) {
      b.last = RI_DUPLICATE;
      return 0;
    }
    src += skip;
    len -= skip;
    d = 0;
    flags |= RI_DUPLICATE;
  }
  const a = <u32>d;
  const wnd = b.cap - b.readable;
  if (a >= wnd) {
    b.last = flags | RI_TRIMMED;
    return 0;
  }
  if (len > wnd - a) {
    len = wnd - a;
    flags |= RI_TRIMMED;
  }
  if (a > 0) flags |= RI_OUT_OF_ORDER;
  if (b.ring == 0) b.ring = ringAlloc(b.cap);
  if (b.count == 0 && a == 0) {
    copyIn(b, src, 0, len);
    b.readable += len;
    b.nxt += len;
    b.last = flags;
    return len;
  }
  return insertSlow(b, src, a, a + len, flags);
}

/** RI_* flags of the last insert. */
export function rcvLastInsert(h: i32): u32 { return rcvOf(h).last; }
/** rcv.nxt. */
export function rcvNext(h: i32): u32 { return rcvOf(h).nxt; }
/** In-order bytes waiting for the reader. */
export function rcvReadable(h: i32): u32 { return rcvOf(h).readable; }
/** Free window from rcv.nxt. */
/**
 * Grow to `cap` bytes (the glue checked cap >= the current capacity): the old ring is copied
 * from rdPos on to the start of the new one, so held bytes keep their sequence numbers.
 */
export function rcvGrow(h: i32, cap: u32): void {
  const b = rcvOf(h);
  const old = b.ring, oldCap = b.cap;
  if (old != 0) {
    const ring = ringAlloc(cap);
    memory.copy(ring, old + b.rdPos, oldCap - b.rdPos);
    memory.copy(ring + oldCap - b.rdPos, old, b.rdPos);
    ringFree(old, oldCap);
    b.ring = ring;
    b.rdPos = 0;
  }
  b.cap = cap;
}

export function rcvWindow(h: i32): u32 {
  const b = rcvOf(h);
  return b.cap - b.readable;
}
/** Out-of-order bytes held. */
export function rcvHeld(h: i32): u32 { return rcvOf(h).held; }
/** Segments dropped at the held-range cap since creation. */
export function rcvRangeLimitDrops(h: i32): u32 { return rcvOf(h).limitDrops; }
/** Inserts whose overlapping bytes differed from those held, since creation. */
export function rcvConflicts(h: i32): u32 { return rcvOf(h).conflicts; }

/** Address of the first readable byte (valid when rcvReadSpan > 0). */
export function rcvReadPtr(h: i32): usize {
  const b = rcvOf(h);
  return b.ring + b.rdPos;
}
/** Readable bytes contiguous from rcvReadPtr. */
export function rcvReadSpan(h: i32): u32 {
  const b = rcvOf(h);
  return min(b.readable, b.cap - b.rdPos);
}
/** Consume n readable bytes (n <= rcvReadSpan); storage is freed when the buffer empties. */
export function rcvConsume(h: i32, n: u32): void {
  const b = rcvOf(h);
  let p = b.rdPos + n;
  if (p >= b.cap) p -= b.cap;
  b.rdPos = p;
  b.readable -= n;
  if (b.readable == 0 && b.count == 0) release(b);
}

/**
 * Write up to `max` held ranges as [left, right) u32 pairs at SCRATCH, most recently touched
 * first (RFC 2018 section 4). Returns the number written.
 */
export function rcvSack(h: i32, max: u32): u32 {
  const b = rcvOf(h);
  const n = b.count;
  let want = min(max, n);
  if (want == 0) return 0;
  const r = b.ranges;
  let bound: u64 = u64.MAX_VALUE;
  for (let w: u32 = 0; w < want; w++) {
    let best: i32 = -1;
    let bestStamp: u64 = 0;
    for (let k: u32 = 0; k < n; k++) {
      const s = stampAt(r, k);
      if (s < bound && (best < 0 || s > bestStamp)) {
        bestStamp = s;
        best = <i32>k;
      }
    }
    if (best < 0) return w;
    store<u32>(<usize>SCRATCH + (<usize>w << 3), startAt(r, <u32>best));
    store<u32>(<usize>SCRATCH + (<usize>w << 3) + 4, endAt(r, <u32>best));
    bound = bestStamp;
  }
  return want;
}
