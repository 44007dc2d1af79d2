/**
 * RACK time-based loss detection (RFC 8985 section 6) for fresh data: a segment is lost when
 * a segment sent after it has been delivered (cumulatively ACKed or SACKed) and more than one
 * RTT plus a reordering window has passed since it was sent. Retransmissions are watched by
 * rtx_log.ts with the same rule; tail losses are exposed by the probe of tlp.ts.
 *
 * New data leaves in sequence order, so send times rise with the sequence: the log keeps one
 * (end sequence, send time) pair per fresh segment, in a ring pruned by the cumulative ACK,
 * and every question is a binary search. Bounded: at most {@link RACK_LOG_MAX} segments in
 * flight are logged; beyond that (a window of 95 MB at 1448-byte segments) detection pauses
 * until the log drains and DupThresh / IsLost (RFC 6675) carry on alone.
 *
 * @module
 */

import { seqGt, seqLe } from "../wire/seq.ts";

/** Segments in flight the log follows. */
export const RACK_LOG_MAX = 65536;
/**
 * First capacity of the log (a power of two; it doubles as needed). Plain arrays of numbers,
 * not Float64Arrays: a typed array costs about a microsecond to make in V8 (an ArrayBuffer
 * behind each), a literal of eight numbers a few nanoseconds, and a short connection (one
 * request, one answer) makes one log; the earlier 64-entry typed logs also cost 1 KiB
 * off-heap per connection (the GC share of a connections/s profile).
 */
const RACK_LOG_INITIAL = 8;

/** `n` zeros in a packed array (no holes: V8 keeps it as plain doubles once written). */
function zeros(n: number): number[] {
  const a: number[] = [];
  for (let i = 0; i < n; i++) a.push(0);
  return a;
}

/**
 * The RACK state of one connection (RFC 8985 6.1 names in comments).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rack } from "./rack.ts";
 * const r = new Rack();
 * for (let i = 0; i < 4; i++) r.record(1000 * (i + 1), 10 + i); // [0, 1000) sent at 10 ms, ...
 * r.delivered(4000, 13, 33); // the last one SACKed at 33 ms: RACK.rtt = 20 ms
 * // At 40 ms the first two (sent at 10, 11) are past 20 ms + a 5 ms window; the third is not.
 * assert(r.lostBelow(0, 36, 5) === 2000 && r.nextTimeout(0, 36, 5) === 37);
 * ```
 */
export class Rack {
  #end = zeros(RACK_LOG_INITIAL);
  #at = zeros(RACK_LOG_INITIAL);
  #head = 0;
  #n = 0;
  /** The log filled up: detection waits until it drains. */
  #full = false;
  /** RACK.xmit_ts: send time of the most recently sent segment delivered; -1 none. */
  xmitTs = -1;
  /** RACK.end_seq of that segment. */
  endSeq = 0;
  /** RACK.rtt: the RTT of that segment. */
  rtt = 0;
  /** RACK.min_RTT (ms). */
  minRtt = Infinity;
  /** RACK.reordering_seen. */
  reorderingSeen = false;
  /** RACK.reo_wnd_mult (RFC 8985 6.2 step 4, raised by D-SACKs and undone retransmissions). */
  reoWndMult = 1;
  /** Loss recoveries since reo_wnd_mult was raised (it resets after 16). */
  reoWndPersist = 0;

  /** Log a fresh segment ending at `end`, sent at `at`. */
  record(end: number, at: number): void {
    if (this.#n === this.#end.length) {
      if (this.#n >= RACK_LOG_MAX) {
        this.#full = true;
        return;
      }
      this.#grow();
    }
    if (this.#full) return;
    const i = (this.#head + this.#n) & (this.#end.length - 1);
    this.#end[i] = end;
    this.#at[i] = at;
    this.#n++;
  }

  /** Forget segments the cumulative ACK covers. */
  prune(una: number): void {
    const mask = this.#end.length - 1;
    while (this.#n > 0 && seqLe(this.#end[this.#head]!, una)) {
      this.#head = (this.#head + 1) & mask;
      this.#n--;
    }
    if (this.#n === 0) this.#full = false;
  }

  /** Send time of the fresh segment holding `seq`, or -1 when it is not logged. */
  sentAt(seq: number): number {
    const k = this.#firstEndAbove(seq);
    if (k === this.#n) return -1;
    return this.#at[(this.#head + k) & (this.#end.length - 1)]!;
  }

  /**
   * RFC 8985 6.2 steps 1-2: data up to `end` sent at `at` was delivered now; it becomes the
   * RACK segment when sent after the current one. Ambiguous deliveries (a retransmission ACKed
   * sooner than min_RTT) are the caller's to leave out.
   */
  delivered(end: number, at: number, now: number): void {
    if (at < 0) return;
    const rtt = now - at;
    if (rtt < this.minRtt) this.minRtt = rtt;
    if (at > this.xmitTs || (at === this.xmitTs && seqGt(end, this.endSeq))) {
      this.xmitTs = at;
      this.endSeq = end;
      this.rtt = rtt;
    }
  }

  /** A fresh segment delivered out of send order (RFC 8985 6.2 step 3). */
  noteReordering(): void {
    this.reorderingSeen = true;
  }

  #widenedAt = -Infinity;

  /**
   * A D-SACK or an undone fast retransmission: widen the reordering window, at most once per
   * round trip (RFC 8985 6.2 step 4).
   */
  widen(now: number, srtt: number): void {
    if (now - this.#widenedAt < srtt) return;
    this.#widenedAt = now;
    this.reorderingSeen = true;
    if (this.reoWndMult < 64) this.reoWndMult++;
    this.reoWndPersist = 0;
  }

  /** A loss recovery ended; after 16 the window multiplier returns to 1. */
  recoveryDone(): void {
    if (++this.reoWndPersist >= 16) {
      this.reoWndMult = 1;
      this.reoWndPersist = 0;
    }
  }

  /**
   * RACK.reo_wnd (RFC 8985 6.2 step 4): 0 while no reordering was seen and the connection is
   * in recovery or has DupThresh segments SACKed; else min_RTT / 4 times the multiplier,
   * never above SRTT.
   */
  reoWnd(inRecovery: boolean, dupSacked: boolean, srtt: number): number {
    if (!this.reorderingSeen && (inRecovery || dupSacked)) return 0;
    if (this.minRtt === Infinity) return 0;
    return Math.min((this.minRtt / 4) * this.reoWndMult, srtt);
  }

  /**
   * RFC 8985 6.2 step 5 for fresh data: the sequence below which every logged segment was sent
   * before the RACK segment and has waited RACK.rtt + `reoWnd`; `una` when none.
   */
  lostBelow(una: number, now: number, reoWnd: number): number {
    if (this.xmitTs < 0 || this.#full || this.#n === 0) return una;
    const k1 = this.#countSentBefore();
    const k2 = this.#countSentBy(now - this.rtt - reoWnd);
    const k = k1 < k2 ? k1 : k2;
    if (k === 0) return una;
    const edge = this.#end[(this.#head + k - 1) & (this.#end.length - 1)]!;
    return seqGt(edge, una) ? edge : una;
  }

  /**
   * When the next logged segment sent before the RACK segment will have waited long enough
   * (the RACK reordering timer, 6.2 step 5), or -1 when none is waiting.
   */
  nextTimeout(una: number, now: number, reoWnd: number): number {
    if (this.xmitTs < 0 || this.#full || this.#n === 0) return -1;
    const edge = this.lostBelow(una, now, reoWnd);
    const k = this.#firstEndAbove(edge);
    if (k === this.#n) return -1;
    const i = (this.#head + k) & (this.#end.length - 1);
    const at = this.#at[i]!, end = this.#end[i]!;
    if (at > this.xmitTs || (at === this.xmitTs && seqGt(end, this.endSeq))) return -1;
    return Math.max(at + this.rtt + reoWnd, now + 1);
  }

  /** Entries whose `end` is at or below `seq` (they come first: ends rise). */
  #firstEndAbove(seq: number): number {
    let lo = 0, hi = this.#n;
    const mask = this.#end.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqGt(this.#end[(this.#head + mid) & mask]!, seq)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Entries sent before the RACK segment: an earlier time, or its time and sequence order. */
  #countSentBefore(): number {
    let lo = 0, hi = this.#n;
    const mask = this.#end.length - 1, ts = this.xmitTs, endSeq = this.endSeq;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const i = (this.#head + mid) & mask;
      const at = this.#at[i]!;
      if (at < ts || (at === ts && seqLe(this.#end[i]!, endSeq))) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Entries sent at or before `t` (send times rise along the log). */
  #countSentBy(t: number): number {
    let lo = 0, hi = this.#n;
    const mask = this.#end.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#at[(this.#head + mid) & mask]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #grow(): void {
    const cap = this.#end.length * 2;
    const end = zeros(cap), at = zeros(cap);
    const mask = this.#end.length - 1;
    for (let k = 0; k < this.#n; k++) {
      end[k] = this.#end[(this.#head + k) & mask]!;
      at[k] = this.#at[(this.#head + k) & mask]!;
    }
    this.#end = end;
    this.#at = at;
    this.#head = 0;
  }
}
