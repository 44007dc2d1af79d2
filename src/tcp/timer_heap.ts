/**
 * The layer's timer queue: a binary min-heap of (time, connection) so that `poll` visits only
 * the connections with a due timer instead of every connection (10,000 connections with delayed
 * ACKs due every few milliseconds made the full walk a quarter of a connection burst's CPU).
 * Lazy: each connection has at most one live entry, at the earliest time it was scheduled for;
 * an entry whose time no longer matches is stale and skipped; a connection whose timers moved
 * later is visited early and queued again at its real deadline.
 *
 * @module
 */

/** A min-heap of (at, item) with one live entry per item. */
export class TimerHeap<T> {
  #at: number[] = [];
  #item: T[] = [];
  readonly #live = new Map<T, number>();

  /** Entries held (live and stale). */
  get size(): number {
    return this.#at.length;
  }

  /** The earliest entry's time, Infinity when empty. */
  peek(): number {
    return this.#at.length > 0 ? this.#at[0]! : Infinity;
  }

  /** Queue `item` at `at` unless it is already queued at or before `at`. */
  schedule(item: T, at: number): void {
    const cur = this.#live.get(item);
    if (cur !== undefined && cur <= at) return;
    this.#live.set(item, at);
    const a = this.#at, it = this.#item;
    let i = a.length;
    a.push(at);
    it.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= at) break;
      a[i] = a[p]!;
      it[i] = it[p]!;
      i = p;
    }
    a[i] = at;
    it[i] = item;
  }

  /** Forget `item` (its entries become stale). */
  remove(item: T): void {
    this.#live.delete(item);
  }

  /** Take the earliest live item due at or before `now`, or undefined. */
  popDue(now: number): T | undefined {
    while (this.#at.length > 0 && this.#at[0]! <= now) {
      const at = this.#at[0]!, item = this.#item[0]!;
      this.#popTop();
      if (this.#live.get(item) === at) {
        this.#live.delete(item);
        return item;
      }
    }
    return undefined;
  }

  #popTop(): void {
    const a = this.#at, it = this.#item;
    const lastAt = a.pop()!, lastItem = it.pop()!;
    const n = a.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && a[r]! < a[l]! ? r : l;
      if (a[c]! >= lastAt) break;
      a[i] = a[c]!;
      it[i] = it[c]!;
      i = c;
    }
    a[i] = lastAt;
    it[i] = lastItem;
  }
}
