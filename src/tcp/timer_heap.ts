/**
 * The layer's timer queue: a binary min-heap of (time, connection) so that `poll` visits only
 * the connections with a due timer instead of every connection (10,000 connections with delayed
 * ACKs due every few milliseconds made the full walk a quarter of a connection burst's CPU).
 * Lazy: each connection has at most one live entry, at the earliest time it was scheduled for;
 * an entry whose time no longer matches is stale and skipped; a connection whose timers moved
 * later is visited early and queued again at its real deadline.
 *
 * Stale entries are dropped when their time comes, or sooner: once they outnumber the live
 * ones (plus a small slack) the heap is rebuilt from its live entries. Without that, each
 * closed connection stayed reachable through a stale entry until its latest timer's time
 * (a keepalive two hours away), and so did each entry left by a deadline moved earlier: a
 * short-connection run grew the heap by about 1.5 KB per connection, all of it kept alive.
 *
 * @module
 */

/** Stale entries allowed beyond the number of live ones before the heap is rebuilt. */
const STALE_SLACK = 64;

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
    if (cur !== undefined) this.#compactIfStale(); // the old entry went stale
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
    if (this.#live.delete(item)) this.#compactIfStale();
  }

  /** Rebuild from the live entries when stale ones outnumber them (amortised O(1)). */
  #compactIfStale(): void {
    const live = this.#live;
    const n = this.#at.length;
    if (n <= 2 * live.size + STALE_SLACK) return;
    const a: number[] = [], it: T[] = [];
    const kept = new Set<T>();
    for (let i = 0; i < n; i++) {
      const item = this.#item[i]!, at = this.#at[i]!;
      if (live.get(item) === at && !kept.has(item)) {
        kept.add(item);
        a.push(at);
        it.push(item);
      }
    }
    this.#at = a;
    this.#item = it;
    for (let i = (a.length >> 1) - 1; i >= 0; i--) this.#siftDown(i, a[i]!, it[i]!);
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
    if (a.length > 0) this.#siftDown(0, lastAt, lastItem);
  }

  /** Place (at, item) at position `i` or below, moving smaller children up. */
  #siftDown(i: number, lastAt: number, lastItem: T): void {
    const a = this.#at, it = this.#item;
    const n = a.length;
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
