/**
 * Congestion control behind a small interface (RFC 5681), with NewReno (RFC 6582) as the
 * first implementation. The send side calls these hooks; the algorithm owns cwnd and ssthresh.
 *
 * @module
 */

/** What the send side needs from a congestion controller. All sizes in bytes. */
export interface CongestionControl {
  /** The algorithm's name for statistics. */
  readonly name: string;
  /** Congestion window. */
  cwnd: number;
  /** Slow start threshold. */
  ssthresh: number;
  /** New data acknowledged outside fast recovery. */
  onAck(acked: number, mss: number, now: number): void;
  /** Third duplicate ACK: enter fast recovery (RFC 5681 3.2 steps 2 and 3). */
  enterRecovery(flight: number, mss: number, now: number): void;
  /** Another duplicate ACK during fast recovery (RFC 5681 3.2 step 4). */
  onDupAckInRecovery(mss: number): void;
  /** A partial ACK during recovery (RFC 6582 3.2 step 3). */
  onPartialAck(acked: number, mss: number): void;
  /** The ACK that ends recovery (RFC 6582 3.2 step 3, full acknowledgment). */
  exitRecovery(flight: number, mss: number): void;
  /** Retransmission timeout (RFC 5681 3.1 equation 4, loss window of one segment). */
  onTimeout(flight: number, mss: number, now: number): void;
  /** cwnd was lowered after an idle period (RFC 5681 4.1): forget growth state. */
  onRestart(): void;
}

/** Initial window of RFC 6928 (ten segments, bounded by 14600 bytes) as Linux uses. */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/**
 * NewReno: slow start, congestion avoidance, fast retransmit and fast recovery with partial
 * acknowledgments (RFC 5681, RFC 6582).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NewReno } from "./congestion.ts";
 * const cc = new NewReno(1460);
 * cc.onAck(1460, 1460, 0);
 * assert(cc.cwnd === 14600 + 1460);
 * cc.onAck(4 * 1460, 1460, 0); // a stretch ACK counts every byte (RFC 3465)
 * assert(cc.cwnd === 14600 + 5 * 1460);
 * ```
 */
export class NewReno implements CongestionControl {
  /** Always "newreno". */
  readonly name = "newreno";
  /** Congestion window in bytes. */
  cwnd: number;
  /** Slow start threshold; "arbitrarily high" at first (RFC 5681 3.1). */
  ssthresh = 0x7fffffff;
  #caAcc = 0;

  /** A controller starting at the initial window for `mss`. */
  constructor(mss: number) {
    this.cwnd = initialWindow(mss);
  }

  /**
   * Slow start counts the bytes acknowledged (RFC 3465 appropriate byte counting, without its
   * L = 2 SMSS cap, as Linux tcp_slow_start: a stretch ACK from a receiver that coalesces
   * segments must not slow the growth), up to ssthresh; congestion avoidance adds SMSS per cwnd
   * acknowledged (RFC 5681 3.1).
   */
  onAck(acked: number, mss: number, _now: number): void {
    if (this.cwnd < this.ssthresh) {
      const room = this.ssthresh - this.cwnd;
      if (acked <= room) {
        this.cwnd += acked;
        return;
      }
      this.cwnd = this.ssthresh;
      acked -= room; // the rest counts toward congestion avoidance
    }
    this.#caAcc += acked;
    if (this.#caAcc >= this.cwnd) {
      this.#caAcc -= this.cwnd;
      this.cwnd += mss;
    }
  }

  /** RFC 5681 3.2 (2)-(3): ssthresh = max(FlightSize / 2, 2 SMSS); cwnd = ssthresh + 3 SMSS. */
  enterRecovery(flight: number, mss: number, _now: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
    this.cwnd = this.ssthresh + 3 * mss;
  }

  /** RFC 5681 3.2 (4): inflate by one SMSS. */
  onDupAckInRecovery(mss: number): void {
    this.cwnd += mss;
  }

  /** RFC 6582 3.2 (3): deflate by the amount acked, add back one SMSS if it was at least one. */
  onPartialAck(acked: number, mss: number): void {
    this.cwnd = Math.max(this.cwnd - acked, mss);
    if (acked >= mss) this.cwnd += mss;
  }

  /** RFC 6582 3.2 (3) full ACK: cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS). */
  exitRecovery(flight: number, mss: number): void {
    this.cwnd = Math.min(this.ssthresh, Math.max(flight, mss) + mss);
    this.#caAcc = 0;
  }

  /** Restart after idle: the congestion-avoidance count starts over. */
  onRestart(): void {
    this.#caAcc = 0;
  }

  /** RFC 5681 3.1 (4): ssthresh = max(FlightSize / 2, 2 SMSS), cwnd = 1 SMSS. */
  onTimeout(flight: number, mss: number, _now: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
    this.cwnd = mss;
    this.#caAcc = 0;
  }
}

/** The send state {@link noteCwndUse} and {@link cwndLimited} keep (fields of SendSpace). */
export interface CwndUse {
  /** SND.UNA. */
  una: number;
  /** The highest sequence sent. */
  max: number;
  /** Largest flight of the current window. */
  maxFlight: number;
  /** cwnd limited sending in the current window. */
  cwndLimited: boolean;
  /** Where the current window ends. */
  usageSeq: number;
}

/**
 * After a send pass: remember how much of cwnd the flow used, per window of data (as Linux
 * tcp_cwnd_validate; RFC 7661 section 4.1 validated phase). `limited` is whether cwnd (and not
 * the peer's window or the application) stopped the pass.
 */
export function noteCwndUse(u: CwndUse, flight: number, limited: boolean): void {
  if ((u.una - u.usageSeq | 0) >= 0 || flight > u.maxFlight) {
    // A new window: start over from this pass (Linux resets when cwnd_usage_seq is acked).
    u.usageSeq = u.max;
    u.maxFlight = flight;
    u.cwndLimited = false;
  }
  if (limited) u.cwndLimited = true;
}

/**
 * Whether an ACK may grow cwnd: in slow start while cwnd is below twice the largest flight of
 * the window, after slow start only if cwnd limited what was sent (Linux tcp_is_cwnd_limited,
 * RFC 7661 section 4.3: cwnd does not grow when the flow is rate- or receiver-limited, so it
 * cannot drift to gigabytes when the peer's window is what limits).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cwndLimited } from "./congestion.ts";
 * const u = { una: 0, max: 0, maxFlight: 20000, cwndLimited: false, usageSeq: 0 };
 * assert.equal(cwndLimited(u, 30000, 0x7fffffff), true); // slow start, below 2 x flight
 * assert.equal(cwndLimited(u, 50000, 0x7fffffff), false);
 * assert.equal(cwndLimited(u, 50000, 10000), false); // avoidance: only when cwnd limited
 * ```
 */
export function cwndLimited(u: CwndUse, cwnd: number, ssthresh: number): boolean {
  if (cwnd < ssthresh) return cwnd < 2 * u.maxFlight;
  return u.cwndLimited;
}
