/**
 * Named counters: frames in and out, and every drop by its reason name.
 *
 * @module
 */

/** A set of named monotonically increasing counters. */
export class Counters {
  #values = new Map<string, number>();

  /**
   * Add `n` (default 1) to counter `name`.
   *
   * @example
   * ```ts
   * import { Counters } from "./counters.ts";
   * const c = new Counters();
   * c.inc("eth-not-for-us");
   * if (c.get("eth-not-for-us") !== 1) throw new Error("not counted");
   * ```
   */
  inc(name: string, n = 1): void {
    this.#values.set(name, (this.#values.get(name) ?? 0) + n);
  }

  /** The value of counter `name` (0 when never counted). */
  get(name: string): number {
    return this.#values.get(name) ?? 0;
  }

  /** A snapshot of every counter, copied into `into` (a new object by default). */
  snapshot(into: Record<string, number> = {}): Record<string, number> {
    for (const [k, v] of this.#values) into[k] = v;
    return into;
  }
}
