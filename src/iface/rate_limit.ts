/**
 * A token bucket for ICMP errors (RFC 1812 4.3.2.8, RFC 1122 3.2.2: error messages should be
 * rate limited; Linux icmp_msgs_per_sec / icmp_msgs_burst).
 *
 * @module
 */

/**
 * Allows `burst` events at once and `perSecond` on average, with time passed in (ms).
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./rate_limit.ts";
 * const b = new TokenBucket(10, 2);
 * const sent = [b.take(0), b.take(0), b.take(0), b.take(100)];
 * if (sent.join() !== "true,true,false,true") throw new Error(sent.join());
 * ```
 */
export class TokenBucket {
  #perSecond: number;
  #burst: number;
  #tokens: number;
  #last = -Infinity;

  /** A full bucket. */
  constructor(perSecond: number, burst: number) {
    this.#perSecond = perSecond;
    this.#burst = burst;
    this.#tokens = burst;
  }

  /** Take one token at time `now`; false when the bucket is empty (the event is suppressed). */
  take(now: number): boolean {
    if (this.#last !== -Infinity && now > this.#last) {
      this.#tokens = Math.min(
        this.#burst,
        this.#tokens + (now - this.#last) * this.#perSecond / 1000,
      );
    }
    if (now > this.#last || this.#last === -Infinity) this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
