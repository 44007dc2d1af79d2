/**
 * The retransmissions of one recovery episode, to find retransmissions that were lost too.
 * RFC 6675 cannot see them (a lost retransmission ends in an RTO); RACK (RFC 8985 section 6.2)
 * can, because it knows when each segment was sent. This log keeps that for retransmissions
 * only: a retransmission is taken as lost when data sent after it has been SACKed and more
 * than RACK's RTT + reordering window (SRTT * 5/4) has passed since it was sent. New data is
 * sent in sequence order, so "sent after" is "SACKed at or above SND.MAX as it was then" (as
 * Linux's tcp_mark_lost_retrans did before RACK).
 *
 * Bounded: at most {@link RTX_LOG_SIZE} retransmissions per episode are watched; later ones
 * fall back to the RTO.
 *
 * @module
 */

/** Retransmissions watched per recovery episode. */
export const RTX_LOG_SIZE = 64;

import { seqAdd, seqGt, seqLe, seqMax } from "../wire/seq.ts";
import type { SackScoreboard } from "./sack.ts";

const SEQ = 0, LEN = 1, AT = 2, HIGH = 3, LOST = 4, W = 5;

/**
 * The log: per retransmission its sequence, length, send time, SND.MAX when sent, and
 * whether it is now presumed lost.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RtxLog } from "./rtx_log.ts";
 * import { SackScoreboard } from "./sack.ts";
 * const log = new RtxLog();
 * log.record(1000, 100, 5, 9000); // sent at 5 ms, when SND.MAX was 9000
 * const sb = new SackScoreboard();
 * sb.add(9000, 9500, 1000, 9500); // data sent after it arrived
 * // 20 ms later, with an SRTT of 10 ms, the retransmission is still missing: lost.
 * assert(log.update(20, 10, sb, 1000) === 100 && log.firstLost() === 0);
 * ```
 */
export class RtxLog {
  readonly #r = new Float64Array(RTX_LOG_SIZE * W);
  #n = 0;
  /** Bytes of retransmissions presumed lost and not yet sent again. */
  lostBytes = 0;

  /** Entries held. */
  get count(): number {
    return this.#n;
  }

  /** Forget everything (recovery ended, or an RTO took over). */
  clear(): void {
    this.#n = 0;
    this.lostBytes = 0;
  }

  /** Note a retransmission of [seq, seq + len) at `at`, when SND.MAX was `sndMax`. */
  record(seq: number, len: number, at: number, sndMax: number): void {
    const r = this.#r;
    for (let i = 0; i < this.#n; i++) {
      const o = i * W;
      if (r[o + SEQ] === seq) {
        // Sent again: its clock restarts.
        if (r[o + LOST] === 1) this.lostBytes -= r[o + LEN]!;
        r[o + LEN] = len;
        r[o + AT] = at;
        r[o + HIGH] = sndMax;
        r[o + LOST] = 0;
        return;
      }
    }
    if (this.#n === RTX_LOG_SIZE) return;
    const o = this.#n++ * W;
    r[o + SEQ] = seq;
    r[o + LEN] = len;
    r[o + AT] = at;
    r[o + HIGH] = sndMax;
    r[o + LOST] = 0;
  }

  /**
   * Forget retransmissions now acknowledged or SACKed, then mark lost every one that is still
   * a hole, has SACKed data above the SND.MAX of its time, and is older than `srtt` * 5/4.
   * Returns the bytes newly marked.
   */
  update(now: number, srtt: number, sb: SackScoreboard, una: number): number {
    const r = this.#r;
    for (let i = this.#n - 1; i >= 0; i--) {
      const seq = r[i * W + SEQ]!;
      if (
        seqLe(seqAdd(seq, r[i * W + LEN]!), una) || sb.skip(seqMax(seq, una)) !== seqMax(seq, una)
      ) {
        this.drop(i);
      }
    }
    if (sb.count === 0) return 0;
    const highest = sb.highest;
    const wait = srtt + srtt / 4;
    let marked = 0;
    for (let i = 0; i < this.#n; i++) {
      const o = i * W;
      if (r[o + LOST] === 1 || now - r[o + AT]! < wait || !seqGt(highest, r[o + HIGH]!)) continue;
      r[o + LOST] = 1;
      marked += r[o + LEN]!;
    }
    this.lostBytes += marked;
    return marked;
  }

  /** Index of the first entry presumed lost, or -1. */
  firstLost(): number {
    for (let i = 0; i < this.#n; i++) if (this.#r[i * W + LOST] === 1) return i;
    return -1;
  }

  /** Sequence of entry `i`. */
  seqOf(i: number): number {
    return this.#r[i * W + SEQ]!;
  }

  /** Length of entry `i`. */
  lenOf(i: number): number {
    return this.#r[i * W + LEN]!;
  }

  /** Stop watching entry `i` (acknowledged or SACKed). */
  drop(i: number): void {
    const r = this.#r;
    if (r[i * W + LOST] === 1) this.lostBytes -= r[i * W + LEN]!;
    const last = --this.#n;
    if (i !== last) r.copyWithin(i * W, last * W, last * W + W);
  }
}
