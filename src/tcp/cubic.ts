/**
 * CUBIC congestion control (RFC 9438) behind the `CongestionControl` interface: slow start as
 * RFC 5681, then the window follows W(t) = C (t - K)^3 + W_max after a reduction by beta,
 * never below the Reno-friendly estimate (RFC 9438 4.3). Recovery mechanics (dupACK counting,
 * partial ACKs) stay in the send side as for NewReno.
 *
 * @module
 */

import { type CongestionControl, initialWindow } from "./congestion.ts";

const C = 0.4; // RFC 9438 4.1
const BETA = 0.7; // RFC 9438 4.6
const ALPHA = (3 * (1 - BETA)) / (1 + BETA); // RFC 9438 4.3

/**
 * CUBIC (RFC 9438), in bytes, with fast convergence (4.7).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Cubic } from "./cubic.ts";
 * const cc = new Cubic(1000); // initial window 10 segments (RFC 6928)
 * cc.enterRecovery(20000, 1000, 0);
 * assert(cc.ssthresh === 7000); // RFC 9438 4.6: cwnd x 0.7
 * assert(cc.cwnd === 7000 + 3 * 1000); // RFC 5681 3.2 (3): inflated by three segments
 * ```
 */
export class Cubic implements CongestionControl {
  /** Always "cubic". */
  readonly name = "cubic";
  /** Congestion window in bytes. */
  cwnd: number;
  /** Slow start threshold in bytes. */
  ssthresh = 0x7fffffff;
  #wMax = 0; // bytes, window before the last reduction
  #k = 0; // seconds
  #epoch = -1; // ms, start of the current congestion avoidance epoch
  #wEst = 0; // bytes, Reno-friendly estimate
  #acc = 0;

  /** A controller starting at the initial window for `mss`. */
  constructor(mss: number) {
    this.cwnd = initialWindow(mss);
  }

  /** RFC 9438 4.2-4.4: slow start below ssthresh, else grow toward W_cubic(t). */
  onAck(acked: number, mss: number, now: number): void {
    if (this.cwnd < this.ssthresh) {
      // Byte counting up to ssthresh, as NewReno (RFC 3465, Linux tcp_slow_start).
      const room = this.ssthresh - this.cwnd;
      if (acked <= room) {
        this.cwnd += acked;
        return;
      }
      this.cwnd = this.ssthresh;
      acked -= room;
    }
    if (this.#epoch < 0) {
      this.#epoch = now;
      if (this.#wMax < this.cwnd) {
        this.#wMax = this.cwnd;
        this.#k = 0;
      } else this.#k = Math.cbrt(((this.#wMax - this.cwnd) / mss) / C);
      this.#wEst = this.cwnd;
    }
    const t = (now - this.#epoch) / 1000;
    const target = (C * (t - this.#k) ** 3) * mss + this.#wMax;
    // Reno-friendly region (4.3): W_est grows by ALPHA segments per window acknowledged.
    this.#wEst += (ALPHA * acked * mss) / this.cwnd;
    let goal = Math.max(target, this.#wEst);
    if (goal > 1.5 * this.cwnd) goal = 1.5 * this.cwnd; // RFC 9438 4.4: at most 1.5x per RTT
    if (goal > this.cwnd) {
      this.#acc += ((goal - this.cwnd) * acked) / this.cwnd;
      if (this.#acc >= 1) {
        const add = Math.floor(this.#acc);
        this.cwnd += add;
        this.#acc -= add;
      }
    }
  }

  #reduce(mss: number): void {
    // Fast convergence (4.7): release bandwidth faster when the window keeps shrinking.
    this.#wMax = this.cwnd < this.#wMax ? (this.cwnd * (1 + BETA)) / 2 : this.cwnd;
    this.ssthresh = Math.max(Math.floor(this.cwnd * BETA), 2 * mss);
    this.#epoch = -1;
    this.#acc = 0;
  }

  /** RFC 9438 4.6: ssthresh = cwnd * beta; recovery inflation as RFC 5681 3.2. */
  enterRecovery(_flight: number, mss: number, _now: number): void {
    this.#reduce(mss);
    this.cwnd = this.ssthresh + 3 * mss;
  }

  /** RFC 5681 3.2 (4). */
  onDupAckInRecovery(mss: number): void {
    this.cwnd += mss;
  }

  /** RFC 6582 partial ACK deflation. */
  onPartialAck(acked: number, mss: number): void {
    this.cwnd = Math.max(this.cwnd - acked, mss);
    if (acked >= mss) this.cwnd += mss;
  }

  /** End of recovery: continue from ssthresh. */
  exitRecovery(_flight: number, _mss: number): void {
    this.cwnd = this.ssthresh;
  }

  /** Restart after idle: a new epoch starts with the next ACK (as Linux CA_EVENT_TX_START). */
  onRestart(): void {
    this.#epoch = -1;
    this.#acc = 0;
  }

  /** RFC 9438 4.8: on timeout ssthresh from beta, cwnd one segment, a new epoch. */
  onTimeout(_flight: number, mss: number, _now: number): void {
    this.#reduce(mss);
    this.cwnd = mss;
  }
}
