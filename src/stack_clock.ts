/**
 * Clocks for the driver: the real clock (milliseconds from `performance.now()`, fractional) and a
 * virtual clock that tests and simulations advance by hand, so that the same driver code runs
 * with no real waiting.
 *
 * @module
 */

/**
 * A millisecond clock. `virtual` clocks never cause real waiting in the driver. Readings may
 * carry fractions of a millisecond: the TCP engine measures sub-millisecond round trips with
 * them (receive buffer auto-tuning); its RFC 7323 timestamps stay in whole milliseconds, an RTO
 * is rounded up to a whole millisecond (rtt.ts), and the driver waits at least 1 ms per timer.
 */
export interface Clock {
  /** The current time in milliseconds (fractional on the real clock). */
  now(): number;
  /** True when time only moves when someone advances it. */
  readonly virtual: boolean;
}

/**
 * The real clock: `performance.now()`, in milliseconds with microsecond resolution.
 *
 * @example Read the real clock
 * ```ts
 * import { realClock } from "./stack_clock.ts";
 * const t = realClock.now();
 * if (!(t >= 0) || realClock.now() < t) throw new Error("clock went backward");
 * ```
 */
export const realClock: Clock = {
  now: (): number => performance.now(),
  virtual: false,
};

/**
 * A clock that only moves when advanced: for tests and simulations.
 *
 * @example Advance a virtual clock
 * ```ts
 * import { VirtualClock } from "./stack_clock.ts";
 * const clock = new VirtualClock(1000);
 * clock.advance(250);
 * if (clock.now() !== 1250) throw new Error("clock did not move");
 * ```
 */
export class VirtualClock implements Clock {
  /** Always true. */
  readonly virtual = true;
  #now: number;

  /** Start at `start` milliseconds (default 0). */
  constructor(start = 0) {
    this.#now = Math.floor(start);
  }

  /** The current virtual time. */
  now(): number {
    return this.#now;
  }

  /** Move forward by `ms` (a non-negative integer). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`Cannot advance the clock by ${ms} ms`);
    this.#now += Math.ceil(ms);
  }

  /** Jump to `t` when it lies in the future; never moves backward. */
  advanceTo(t: number): void {
    if (t > this.#now) this.#now = Math.ceil(t);
  }
}
