/**
 * A tiny wake-up list: async API calls wait here and re-check their condition when woken
 * (by a TCP event, a UDP arrival or the stack closing).
 *
 * @module
 */

/**
 * Waiters woken all at once.
 *
 * @example Wait and wake
 * ```ts
 * import { WakeList } from "./wake.ts";
 * const w = new WakeList();
 * const p = w.wait();
 * w.wakeAll();
 * await p;
 * ```
 */
export class WakeList {
  #waiters: Array<() => void> = [];

  /** A promise resolved at the next `wakeAll()`. */
  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Resolve every pending `wait()`. */
  wakeAll(): void {
    const list = this.#waiters;
    if (list.length === 0) return;
    this.#waiters = [];
    for (const resolve of list) resolve();
  }

  /** How many are waiting. */
  get size(): number {
    return this.#waiters.length;
  }
}
