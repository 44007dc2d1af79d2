// Handle tables and ring storage for the stream buffers of the WASM engine.
//
// A handle is a small non-negative integer naming a heap block (a receive buffer or a send
// ring). Freed handles are chained through their slots and reused most recently freed first,
// exactly like the JS engine's HandleTable, so both engines hand out the same numbers.

/** Most handles per table (same as MAX_BUFFER_HANDLES in src/kernels/js/buffer_limits.ts). */
export const MAX_HANDLES: i32 = 1 << 20;

/** A handle table: slots hold a block pointer (even, non-zero) or a free-chain link (odd). */
@unmanaged export class Table {
  slots: usize;
  cap: i32;
  len: i32;
  /** 1 + the first free handle, or 0 when no slot is free. */
  free: i32;
}

/** Store `item` under a new handle; -1 when the table is full. */
export function tableAdd(t: Table, item: usize): i32 {
  if (t.free != 0) {
    const h = t.free - 1;
    const link = load<u32>(t.slots + (<usize>h << 2));
    t.free = <i32>(link >>> 1);
    store<usize>(t.slots + (<usize>h << 2), item);
    return h;
  }
  if (t.len >= MAX_HANDLES) return -1;
  if (t.len == t.cap) {
    const cap = t.cap == 0 ? 16 : t.cap << 1;
    t.slots = t.slots == 0
      ? heap.alloc(<usize>cap << 2)
      : heap.realloc(t.slots, <usize>cap << 2);
    t.cap = cap;
  }
  const h = t.len++;
  store<usize>(t.slots + (<usize>h << 2), item);
  return h;
}

/** The block under handle `h` (the TypeScript glue has checked that `h` is open). */
// @ts-ignore: decorator
@inline export function tableGet(t: Table, h: i32): usize {
  return load<usize>(t.slots + (<usize>h << 2));
}

/** Free handle `h` and return the block it named. */
export function tableRemove(t: Table, h: i32): usize {
  const item = load<usize>(t.slots + (<usize>h << 2));
  store<u32>(t.slots + (<usize>h << 2), (<u32>t.free << 1) | 1);
  t.free = h + 1;
  return item;
}

// ---- Ring storage. TLSF blocks stop short of 1 GiB (BLOCK_MAXSIZE), so rings larger than
// BIG_RING take whole pages from memory.grow instead; a freed big region is kept on a list and
// reused by the next big ring that fits (WASM memory never shrinks anyway).

const BIG_RING: usize = 1 << 28;
/** Head of the list of free big regions: [next: usize, size: usize] at the region start. */
let bigFree: usize = 0;

/** Storage for a ring of `size` bytes (contents unspecified). Traps when memory is exhausted. */
export function ringAlloc(size: usize): usize {
  if (size < BIG_RING) return heap.alloc(size);
  let prev: usize = 0;
  let r = bigFree;
  while (r != 0) {
    const next = load<usize>(r);
    if (load<usize>(r, sizeof<usize>()) >= size) {
      if (prev == 0) bigFree = next;
      else store<usize>(prev, next);
      return r;
    }
    prev = r;
    r = next;
  }
  const pages = <i32>((size + 0xffff) >>> 16);
  const before = memory.grow(pages);
  if (before < 0) unreachable();
  const region = <usize>before << 16;
  store<usize>(region, <usize>pages << 16, sizeof<usize>());
  return region;
}

/** Give back storage from ringAlloc of `size` bytes. */
export function ringFree(ptr: usize, size: usize): void {
  if (size < BIG_RING) {
    heap.free(ptr);
    return;
  }
  // Ring data overwrote the region's header: record it again with the size this ring used
  // (page-rounded, never more than the region really has).
  store<usize>(ptr, bigFree);
  store<usize>(ptr, ((size + 0xffff) >>> 16) << 16, sizeof<usize>());
  bigFree = ptr;
}
