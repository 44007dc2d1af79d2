// The TCP send ring of the WASM engine: unacknowledged plus unsent bytes from snd.una (head)
// on. Follows the JS reference src/kernels/js/snd_ring.ts step for step. Storage is taken on
// the first write and given back whenever the ring empties.

import { Table, tableAdd, tableGet, tableRemove, ringAlloc, ringFree } from "./table";

@unmanaged class Snd {
  cap: u32;
  head: u32;
  rdPos: u32;
  length: u32;
  ring: usize;
}

const table = changetype<Table>(memory.data(16));

// @ts-ignore: decorator
@inline function sndOf(h: i32): Snd {
  return changetype<Snd>(tableGet(table, h));
}

/** Create a send ring; returns its handle, or -1 when the table is full. */
export function sndCreate(cap: u32, seq: u32): i32 {
  const s = changetype<Snd>(heap.alloc(offsetof<Snd>()));
  s.cap = cap;
  s.head = seq;
  s.rdPos = 0;
  s.length = 0;
  s.ring = 0;
  const h = tableAdd(table, changetype<usize>(s));
  if (h < 0) heap.free(changetype<usize>(s));
  return h;
}

function release(s: Snd): void {
  if (s.ring != 0) ringFree(s.ring, s.cap);
  s.ring = 0;
  s.rdPos = 0;
}

/** Destroy a send ring and free its storage. */
export function sndDestroy(h: i32): void {
  const s = changetype<Snd>(tableRemove(table, h));
  release(s);
  heap.free(changetype<usize>(s));
}

// @ts-ignore: decorator
@inline function writePos(s: Snd): u32 {
  const p = s.rdPos + s.length;
  return p >= s.cap ? p - s.cap : p;
}

/** Where the next appended byte goes (allocates the storage on first use). */
export function sndWritePtr(h: i32): usize {
  const s = sndOf(h);
  if (s.ring == 0) s.ring = ringAlloc(s.cap);
  return s.ring + writePos(s);
}

/** Free bytes contiguous from sndWritePtr. */
export function sndWriteSpan(h: i32): u32 {
  const s = sndOf(h);
  return min(s.cap - s.length, s.cap - writePos(s));
}

/** Account for n bytes written at sndWritePtr (n <= sndWriteSpan). */
export function sndCommit(h: i32, n: u32): void {
  sndOf(h).length += n;
}

/**
 * Copy len bytes from sequence number seq on into packet memory at dst. Returns 0, or -1
 * (nothing copied) when [seq, seq+len) is not held.
 */
export function sndCopy(h: i32, seq: u32, len: u32, dst: usize): i32 {
  const s = sndOf(h);
  const rel = seq - s.head;
  if (rel > s.length || len > s.length - rel) return -1;
  if (len == 0) return 0;
  let p = s.rdPos + rel;
  if (p >= s.cap) p -= s.cap;
  const first = min(len, s.cap - p);
  memory.copy(dst, s.ring + p, first);
  if (first < len) memory.copy(dst + first, s.ring, len - first);
  return 0;
}

/**
 * Release the bytes before ackSeq; an ackSeq at or before head releases nothing, one past the
 * end (an ACK that also covers a FIN) releases everything held. Returns the count released.
 */
export function sndRelease(h: i32, ackSeq: u32): u32 {
  const s = sndOf(h);
  const d = <i32>(ackSeq - s.head); // seqDiff(ackSeq, head)
  if (d <= 0) return 0;
  const n = min(<u32>d, s.length);
  s.head += n;
  s.length -= n;
  if (s.length == 0) {
    release(s);
  } else {
    let p = s.rdPos + n;
    if (p >= s.cap) p -= s.cap;
    s.rdPos = p;
  }
  return n;
}

/** Bytes held. */
export function sndLength(h: i32): u32 { return sndOf(h).length; }
/** Free space. */
export function sndFree(h: i32): u32 {
  const s = sndOf(h);
  return s.cap - s.length;
}
/** Grow to `cap` bytes (the glue checked cap >= the current one); held bytes move to index 0. */
export function sndGrow(h: i32, cap: u32): void {
  const s = sndOf(h);
  const old = s.ring, oldCap = s.cap;
  if (old != 0) {
    const ring = ringAlloc(cap);
    const first = min(s.length, oldCap - s.rdPos);
    memory.copy(ring, old + s.rdPos, first);
    if (first < s.length) memory.copy(ring + first, old, s.length - first);
    ringFree(old, oldCap);
    s.ring = ring;
    s.rdPos = 0;
  }
  s.cap = cap;
}

/** Sequence number of the first byte held. */
export function sndHead(h: i32): u32 { return sndOf(h).head; }
