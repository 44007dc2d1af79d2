/**
 * The sender's SACK scoreboard (RFC 2018, in the spirit of RFC 6675): the ranges above
 * SND.UNA the receiver reported holding, so that loss recovery resends holes, not data the
 * peer already has. It is kept across a retransmission timeout, as Linux does, so that the
 * go-back after the timeout resends only the holes (RFC 6675 section 5.1 allows this when
 * reneging is tested for; `headSacked` is that test, RFC 2018 section 8). Bounded: at most
 * `MAX_RANGES` ranges are kept (the lowest, which matter first for recovery); the arrays
 * grow from a few ranges as the receiver reports more.
 *
 * @module
 */

import { seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin } from "../wire/seq.ts";

/**
 * Ranges kept: the lowest ones, which recovery needs first (Linux keeps every SACKed skb).
 * 256 ranges are a window of 512 segments with every other one lost.
 */
export const MAX_RANGES = 256;

/** Ranges the arrays hold at first (they double up to MAX_RANGES). */
const INITIAL_RANGES = 8;

/**
 * SACKed ranges as sorted, disjoint [left, right) pairs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SackScoreboard } from "./sack.ts";
 * const sb = new SackScoreboard();
 * sb.add(200, 300, 100, 400);
 * assert(sb.nextHole(100) === 100 && sb.holeEnd(100) === 200);
 * ```
 */
export class SackScoreboard {
  #l = new Float64Array(INITIAL_RANGES);
  #r = new Float64Array(INITIAL_RANGES);
  #n = 0;
  /** Bytes in all ranges. */
  #bytes = 0;
  /** Highest sequence retransmitted in the current recovery (RFC 6675 HighRxt). */
  highRxt = 0;

  /** Number of ranges held. */
  get count(): number {
    return this.#n;
  }

  /** Forget everything. */
  clear(): void {
    this.#n = 0;
    this.#bytes = 0;
  }

  /** The right edge of the highest range (valid when count > 0). */
  get highest(): number {
    return this.#r[this.#n - 1]!;
  }

  /** Bytes SACKed in all ranges held. */
  get sacked(): number {
    return this.#bytes;
  }

  /**
   * Whether the byte at `una` (SND.UNA) is SACKed: the cumulative ACK stopped at, or inside,
   * data the receiver reported holding. A receiver holding it would have acknowledged it: it
   * reneged, discarding SACKed data (RFC 2018 section 8; Linux FLAG_SACK_RENEGING).
   */
  headSacked(una: number): boolean {
    return this.#n > 0 && seqLe(this.#l[0]!, una) && seqGt(this.#r[0]!, una);
  }

  /**
   * Record a SACK block [left, right) if it lies within (una, sndMax]. Returns the bytes it
   * SACKed that were not SACKed before (an ACK with such bytes is a DupAck, RFC 6675 s2).
   */
  add(left: number, right: number, una: number, sndMax: number): number {
    if (!seqLt(left, right) || seqLe(right, una) || seqGt(right, sndMax)) return 0;
    return this.#add(left, right, una);
  }

  /** Merge [left, right) in; returns the bytes newly SACKed (0 when it was not kept). */
  #add(left: number, right: number, una: number): number {
    left = seqMax(left, una);
    // Find the insertion point, then merge with neighbours that touch or overlap.
    const i = this.#firstEndingAtOrAfter(left);
    let j = i;
    let nl = left, nr = right, merged = 0;
    const L = this.#l, R = this.#r;
    while (j < this.#n && seqLe(L[j]!, nr)) {
      nl = seqMin(nl, L[j]!);
      nr = seqMax(nr, R[j]!);
      merged += seqDiff(R[j]!, L[j]!);
      j++;
    }
    const removed = j - i;
    if (removed === 0) {
      if (this.#n === MAX_RANGES) {
        if (i === this.#n) return 0; // keep the lowest ranges
        this.#bytes -= seqDiff(R[this.#n - 1]!, L[this.#n - 1]!); // the highest makes room
        this.#n--;
      } else if (this.#n === L.length) this.#grow();
      const l2 = this.#l, r2 = this.#r;
      l2.copyWithin(i + 1, i, this.#n);
      r2.copyWithin(i + 1, i, this.#n);
      this.#n++;
    } else if (removed > 1) {
      L.copyWithin(i + 1, j, this.#n);
      R.copyWithin(i + 1, j, this.#n);
      this.#n -= removed - 1;
    }
    this.#l[i] = nl;
    this.#r[i] = nr;
    const gained = seqDiff(nr, nl) - merged;
    this.#bytes += gained;
    return gained;
  }

  #grow(): void {
    const cap = Math.min(this.#l.length * 2, MAX_RANGES);
    const l = new Float64Array(cap), r = new Float64Array(cap);
    l.set(this.#l);
    r.set(this.#r);
    this.#l = l;
    this.#r = r;
  }

  /** Index of the first range whose right edge is at or after `seq` (ranges are sorted). */
  #firstEndingAtOrAfter(seq: number): number {
    let lo = 0, hi = this.#n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqLt(this.#r[mid]!, seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Drop what SND.UNA now covers. */
  prune(una: number): void {
    let drop = 0;
    while (drop < this.#n && seqLe(this.#r[drop]!, una)) {
      this.#bytes -= seqDiff(this.#r[drop]!, this.#l[drop]!);
      drop++;
    }
    if (drop > 0) {
      this.#l.copyWithin(0, drop, this.#n);
      this.#r.copyWithin(0, drop, this.#n);
      this.#n -= drop;
    }
    if (this.#n > 0 && seqLt(this.#l[0]!, una)) {
      this.#bytes -= seqDiff(una, this.#l[0]!);
      this.#l[0] = una;
    }
  }

  /** If `seq` lies in a SACKed range, the end of that range; else `seq`. */
  skip(seq: number): number {
    const i = this.#firstEndingAtOrAfter(seq);
    if (i < this.#n && seqGe(seq, this.#l[i]!) && seqLt(seq, this.#r[i]!)) return this.#r[i]!;
    return seq;
  }

  /**
   * The first un-SACKed sequence at or after `from` that lies below the highest SACKed byte
   * (a hole the receiver reported around), or -1 when there is none.
   */
  nextHole(from: number): number {
    if (this.#n === 0) return -1;
    const s = this.skip(from);
    return seqLt(s, this.highest) ? s : -1;
  }

  /**
   * RFC 6675 IsLost as an edge: an un-SACKed byte is lost when more than (DupThresh - 1) *
   * SMSS bytes above it are SACKed. Every un-SACKed byte below the returned sequence is lost;
   * returns `una` when none is.
   */
  lostEdge(una: number, dupThresh: number, mss: number): number {
    const need = (dupThresh - 1) * mss;
    let above = 0;
    for (let i = this.#n - 1; i >= 0; i--) {
      above += seqDiff(this.#r[i]!, this.#l[i]!);
      if (above > need) return this.#l[i]!;
    }
    return una;
  }

  /** Un-SACKed bytes in [una, x). */
  unsackedBelow(una: number, x: number): number {
    let n = seqDiff(x, una);
    if (n <= 0) return 0;
    for (let i = 0; i < this.#n && seqLt(this.#l[i]!, x); i++) {
      n -= seqDiff(seqMin(this.#r[i]!, x), this.#l[i]!);
    }
    return n;
  }

  /**
   * RFC 6675 SetPipe: the bytes presumed in the network. Each un-SACKed byte in [una, sndMax)
   * counts once unless it is lost (below `lost`), and once more if it was retransmitted in
   * this recovery (below `highRxt`).
   */
  pipe(una: number, sndMax: number, highRxt: number, lost: number): number {
    const unsacked = this.unsackedBelow(una, sndMax);
    return unsacked - this.unsackedBelow(una, lost) + this.unsackedBelow(una, highRxt);
  }

  /** Where the hole starting at `seq` ends: the next SACKed range's left edge. */
  holeEnd(seq: number): number {
    const i = this.#firstEndingAtOrAfter(seq);
    for (let k = i; k < this.#n && k <= i + 1; k++) if (seqGt(this.#l[k]!, seq)) return this.#l[k]!;
    return seq;
  }
}
