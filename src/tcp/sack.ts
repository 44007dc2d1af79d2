/**
 * The sender's SACK scoreboard (RFC 2018, in the spirit of RFC 6675): the ranges above
 * SND.UNA the receiver reported holding, so that loss recovery resends holes, not data the
 * peer already has. Bounded: at most `MAX_RANGES` ranges are kept (the lowest, which matter
 * first for recovery).
 *
 * @module
 */

import { seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin } from "../wire/seq.ts";

/** Ranges kept: the lowest ones, which recovery needs first (Linux keeps every SACKed skb). */
const MAX_RANGES = 16;

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
  readonly #l = new Float64Array(MAX_RANGES + 1);
  readonly #r = new Float64Array(MAX_RANGES + 1);
  #n = 0;
  /** Highest sequence retransmitted in the current recovery (RFC 6675 HighRxt). */
  highRxt = 0;

  /** Number of ranges held. */
  get count(): number {
    return this.#n;
  }

  /** Forget everything. */
  clear(): void {
    this.#n = 0;
  }

  /** The right edge of the highest range (valid when count > 0). */
  get highest(): number {
    return this.#r[this.#n - 1]!;
  }

  /** Bytes SACKed in all ranges held. */
  get sacked(): number {
    let n = 0;
    for (let i = 0; i < this.#n; i++) n += seqDiff(this.#r[i]!, this.#l[i]!);
    return n;
  }

  /**
   * Record a SACK block [left, right) if it lies within (una, sndMax]. Returns the bytes it
   * SACKed that were not SACKed before (an ACK with such bytes is a DupAck, RFC 6675 s2).
   */
  add(left: number, right: number, una: number, sndMax: number): number {
    if (!seqLt(left, right) || seqLe(right, una) || seqGt(right, sndMax)) return 0;
    const before = this.sacked;
    this.#add(left, right, una);
    const gained = this.sacked - before;
    return gained > 0 ? gained : 0;
  }

  #add(left: number, right: number, una: number): void {
    left = seqMax(left, una);
    const L = this.#l, R = this.#r;
    // Find the insertion point, then merge with neighbours that touch or overlap.
    let i = 0;
    while (i < this.#n && seqLt(R[i]!, left)) i++;
    let j = i;
    let nl = left, nr = right;
    while (j < this.#n && seqLe(L[j]!, nr)) {
      nl = seqMin(nl, L[j]!);
      nr = seqMax(nr, R[j]!);
      j++;
    }
    const removed = j - i;
    if (removed === 0) {
      if (this.#n === MAX_RANGES && i === this.#n) return; // keep the lowest ranges
      for (let k = Math.min(this.#n, MAX_RANGES - 1); k > i; k--) {
        L[k] = L[k - 1]!;
        R[k] = R[k - 1]!;
      }
      if (this.#n < MAX_RANGES) this.#n++;
    } else if (removed > 1) {
      for (let k = i + 1; k + removed - 1 < this.#n; k++) {
        L[k] = L[k + removed - 1]!;
        R[k] = R[k + removed - 1]!;
      }
      this.#n -= removed - 1;
    }
    L[i] = nl;
    R[i] = nr;
  }

  /** Drop what SND.UNA now covers. */
  prune(una: number): void {
    let drop = 0;
    while (drop < this.#n && seqLe(this.#r[drop]!, una)) drop++;
    if (drop > 0) {
      for (let k = 0; k + drop < this.#n; k++) {
        this.#l[k] = this.#l[k + drop]!;
        this.#r[k] = this.#r[k + drop]!;
      }
      this.#n -= drop;
    }
    if (this.#n > 0 && seqLt(this.#l[0]!, una)) this.#l[0] = una;
  }

  /** If `seq` lies in a SACKed range, the end of that range; else `seq`. */
  skip(seq: number): number {
    for (let i = 0; i < this.#n; i++) {
      if (seqGe(seq, this.#l[i]!) && seqLt(seq, this.#r[i]!)) return this.#r[i]!;
    }
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
    for (let i = 0; i < this.#n; i++) if (seqGt(this.#l[i]!, seq)) return this.#l[i]!;
    return seq;
  }
}
