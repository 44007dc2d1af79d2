/**
 * The reassembly core shared by IPv4 (fragments.ts) and IPv6 (fragments6.ts), sans-I/O: the
 * datagrams in progress of one interface and one family, each a buffer of the data received so
 * far and its held ranges (RFC 815 holes: the datagram is complete when the held bytes reach the
 * length fixed by the last fragment), bounded in memory (`fragMemory` bytes), in datagrams
 * (`fragDatagrams`) and in fragments per datagram (`fragPerDatagram`), and abandoned after a
 * timeout.
 *
 * - A fragment overlapping a held one discards the whole datagram, and every later fragment of
 *   it is dropped until its timeout (RFC 5722 section 4; Linux does the same for IPv4 since
 *   4.19); an exact duplicate of a held fragment is dropped alone (RFC 8200 4.5 allows it).
 * - The last fragment fixes the total length; a fragment past it, or another last fragment with
 *   another length, is inconsistent and discards the datagram as an overlap does.
 * - New fragments are refused, not older datagrams evicted, when memory or the datagram count
 *   is exhausted (Linux inet_frag_find above high_thresh).
 *
 * Buffers are allocated per datagram (not on the per-packet hot path) and grow by doubling;
 * the memory bound counts their capacity and the headers each family chooses to count.
 * The protocol rules (what identifies a datagram, the length rules, which headers are kept and
 * how the datagram is rebuilt) stay with each family; a fragment goes through `open`, `fit`,
 * `store` and `finish` in that order.
 *
 * @module
 */

import type { IfaceLimits } from "./limits.ts";

/** One datagram being reassembled; a family extends it with what its errors quote. */
export class PendingDatagram {
  /** The data received so far, at its offsets; its length is the capacity counted. */
  buf: Uint8Array = new Uint8Array(0);
  /** Held fragments as [start, end) pairs in arrival order. */
  ranges: number[] = [];
  /** Bytes of data held. */
  held = 0;
  /** The data length fixed by the last fragment, or -1 before it came. */
  total = -1;
  /** The first fragment's headers, once fragment zero came. */
  head: Uint8Array | null = null;
  /** The bytes of `head` counted in the memory bound. */
  headBytes = 0;
  /** Discarded (an overlap): its later fragments are dropped until the timeout. */
  dead = false;
  /** A datagram identified by `key`, opened at `createdAt`. */
  constructor(readonly key: string, readonly createdAt: number) {}
}

/** Where a fragment fits: "ok", or why it is dropped ("overlap" discarded the datagram). */
export type Fit = "ok" | "dead" | "duplicate" | "overlap";

/** Whether a fragment could be stored: "ok", or why it is refused. */
export type Stored = "ok" | "too-many-fragments" | "memory-full";

/** The largest buffer of one datagram (the IPv4 total length and IPv6 payload length bound). */
const MAX_BUFFER = 65535;

/** The datagrams in progress of one family, bounded by the interface's limits. */
export class ReassemblyTable<D extends PendingDatagram> {
  #limits: IfaceLimits;
  #timeoutMs: (limits: IfaceLimits) => number;
  #make: (key: string, now: number) => D;
  #datagrams = new Map<string, D>();
  #memory = 0;
  #done: D | null = null;

  /**
   * A table bounded by `limits`, abandoning datagrams `timeoutMs(limits)` after their first
   * fragment, whose datagrams `make` creates.
   */
  constructor(
    limits: IfaceLimits,
    timeoutMs: (limits: IfaceLimits) => number,
    make: (key: string, now: number) => D,
  ) {
    this.#limits = limits;
    this.#timeoutMs = timeoutMs;
    this.#make = make;
  }

  /** Bytes held: data buffers and the counted headers. */
  get memory(): number {
    return this.#memory;
  }

  /** Datagrams in progress (including dead ones waiting for their timeout). */
  get datagrams(): number {
    return this.#datagrams.size;
  }

  /** The datagram `key`, opened at `now` when new; null when `fragDatagrams` are open. */
  open(key: string, now: number): D | null {
    let g = this.#datagrams.get(key);
    if (g === undefined) {
      if (this.#datagrams.size >= this.#limits.fragDatagrams) return null;
      g = this.#make(key, now);
      this.#datagrams.set(key, g);
    }
    return g;
  }

  /**
   * Check the fragment [start, end) of `g` (`more`: not the last one) against the held ones
   * (RFC 5722: an overlap or an inconsistent length discards the datagram); the last fragment
   * fixes the total length.
   */
  fit(g: D, start: number, end: number, more: boolean): Fit {
    if (g.dead) return "dead";
    const r = g.ranges;
    for (let i = 0; i < r.length; i += 2) {
      const a = r[i]!, b = r[i + 1]!;
      if (a === start && b === end) return "duplicate";
      if (start < b && a < end) return this.kill(g);
    }
    if (!more) {
      if (g.total >= 0 && g.total !== end) return this.kill(g);
      for (let i = 1; i < r.length; i += 2) if (r[i]! > end) return this.kill(g);
      g.total = end;
    } else if (g.total >= 0 && end > g.total) {
      return this.kill(g);
    }
    return "ok";
  }

  /**
   * Copy the fragment's data `mem[dataOff, +end-start)` into `g` at `start`, counting
   * `headLen` more bytes of headers (kept by the caller in `g.head`) in the memory bound;
   * refused beyond `fragPerDatagram` fragments or `fragMemory` bytes (a datagram left empty
   * is forgotten).
   */
  store(
    g: D,
    mem: Uint8Array,
    dataOff: number,
    start: number,
    end: number,
    headLen: number,
  ): Stored {
    const r = g.ranges;
    if (r.length >= 2 * this.#limits.fragPerDatagram) return "too-many-fragments";
    const limit = this.#limits.fragMemory;
    if (headLen > 0 && this.#memory + headLen > limit) return this.#refuse(g);
    if (end > g.buf.length) {
      const cap = Math.min(MAX_BUFFER, Math.max(end, 2 * g.buf.length, 2048));
      if (this.#memory + headLen - g.buf.length + cap > limit) return this.#refuse(g);
      const grown = new Uint8Array(cap);
      grown.set(g.buf);
      this.#memory += cap - g.buf.length;
      g.buf = grown;
    }
    g.buf.set(mem.subarray(dataOff, dataOff + end - start), start);
    r.push(start, end);
    g.held += end - start;
    this.#memory += headLen;
    g.headBytes += headLen;
    return "ok";
  }

  /** Whether `g` is complete (every byte and fragment zero); then take() returns it. */
  finish(g: D): boolean {
    if (g.total < 0 || g.held !== g.total || g.head === null) return false;
    this.#done = g;
    this.#remove(g);
    return true;
  }

  /** The datagram completed by the last finish(), once; null when none. */
  take(): D | null {
    const g = this.#done;
    this.#done = null;
    return g;
  }

  /**
   * Abandon the datagrams older than the timeout; `onLive` sees each one that was not dead.
   * Returns how many live datagrams expired.
   */
  expire(now: number, onLive?: (g: D) => void): number {
    const timeout = this.#timeoutMs(this.#limits);
    let expired = 0;
    for (const g of this.#datagrams.values()) {
      if (now - g.createdAt < timeout) continue;
      this.#remove(g);
      if (g.dead) continue;
      expired++;
      onLive?.(g);
    }
    return expired;
  }

  /** The earliest timeout, or Infinity. */
  pollAt(): number {
    if (this.#datagrams.size === 0) return Infinity; // the common case: no iterator
    const timeout = this.#timeoutMs(this.#limits);
    let due = Infinity;
    for (const g of this.#datagrams.values()) due = Math.min(due, g.createdAt + timeout);
    return due;
  }

  /** Free a datagram's memory and mark it dead; it stays until its timeout (RFC 5722). */
  kill(g: D): "overlap" {
    this.#memory -= g.buf.length + g.headBytes;
    g.buf = new Uint8Array(0);
    g.ranges.length = 0;
    g.head = null;
    g.headBytes = 0;
    g.dead = true;
    return "overlap";
  }

  #refuse(g: D): "memory-full" {
    if (g.ranges.length === 0) this.#datagrams.delete(g.key);
    return "memory-full";
  }

  #remove(g: D): void {
    this.#memory -= g.buf.length + g.headBytes;
    this.#datagrams.delete(g.key);
  }
}

/** What the reassemblers of both families share: their table, its gauges and its deadline. */
export class ReassemblerBase<D extends PendingDatagram> {
  /** The datagrams in progress. */
  protected readonly table: ReassemblyTable<D>;

  /** A reassembler over `table`. */
  constructor(table: ReassemblyTable<D>) {
    this.table = table;
  }

  /** Bytes held: data buffers (and, for IPv6, the first fragments' headers). */
  get memory(): number {
    return this.table.memory;
  }

  /** Datagrams in progress (including dead ones waiting for their timeout). */
  get datagrams(): number {
    return this.table.datagrams;
  }

  /** The earliest timeout, or Infinity. */
  pollAt(): number {
    return this.table.pollAt();
  }
}
