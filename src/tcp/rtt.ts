/**
 * The retransmission timer estimator of RFC 6298: SRTT, RTTVAR, RTO with bounds and
 * exponential backoff.
 *
 * @module
 */

/**
 * RTT estimator and RTO (RFC 6298 section 2).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RttEstimator } from "./rtt.ts";
 * const r = new RttEstimator(1000, 200, 120000);
 * r.sample(100);
 * assert(r.srtt === 100 && r.rto === 300);
 * ```
 */
export class RttEstimator {
  /** Smoothed RTT in ms (0 before the first sample). */
  srtt = 0;
  /** RTT variation in ms. */
  rttvar = 0;
  /** Current retransmission timeout in ms (backed off). */
  rto: number;
  /** Whether a sample has been taken. */
  hasSample = false;
  readonly #min: number;
  readonly #max: number;

  /** An estimator with the initial RTO and its bounds. */
  constructor(initial: number, min: number, max: number) {
    this.#min = min;
    this.#max = max;
    this.rto = Math.min(Math.max(initial, min), max);
  }

  /** Take one RTT measurement `r` ms (RFC 6298 2.2 and 2.3, alpha 1/8, beta 1/4, G 1 ms). */
  sample(r: number): void {
    if (r < 0) return;
    if (!this.hasSample) {
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasSample = true;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    const rto = this.srtt + Math.max(1, 4 * this.rttvar);
    // RFC 6298 2.4 and 2.5: round up to the floor, cap at the maximum.
    this.rto = Math.min(Math.max(Math.ceil(rto), this.#min), this.#max);
  }

  /**
   * Drop the backoff once new data is acknowledged: the RTO returns to SRTT + 4 RTTVAR
   * (Linux clears icsk_backoff on forward progress; RFC 6298 5.7 keeps it until a sample).
   */
  undoBackoff(): void {
    if (!this.hasSample) return;
    const rto = this.srtt + Math.max(1, 4 * this.rttvar);
    this.rto = Math.min(Math.max(Math.ceil(rto), this.#min), this.#max);
  }

  /** Double the RTO after a timeout (RFC 6298 5.5), bounded by the maximum. */
  backoff(): void {
    this.rto = Math.min(this.rto * 2, this.#max);
  }
}
