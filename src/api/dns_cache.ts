/**
 * The resolver's answer cache: a bounded map with expiry times, least recently used entries
 * evicted first when it is full (a Map keeps insertion order; a hit moves its entry to the end).
 *
 * @example
 * ```ts
 * import { DnsCache } from "./dns_cache.ts";
 * const c = new DnsCache<string>(1);
 * c.set("a", "1", 100);
 * c.set("b", "2", 100);
 * if (c.get("a", 0) !== undefined || c.get("b", 0) !== "2" || c.get("b", 100) !== undefined) {
 *   throw new Error("wrong cache");
 * }
 * ```
 *
 * @module
 */

/** A bounded cache of values that expire. */
export class DnsCache<T> {
  #map = new Map<string, { value: T; expires: number }>();
  #limit: number;

  /** A cache of at most `limit` entries. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Entries held (expired ones included until they are looked up or evicted). */
  get size(): number {
    return this.#map.size;
  }

  /** The value of `key` if it has not expired at `now` (same unit as `set`'s `expires`). */
  get(key: string, now: number): T | undefined {
    const e = this.#map.get(key);
    if (!e) return undefined;
    this.#map.delete(key);
    if (e.expires <= now) return undefined;
    this.#map.set(key, e);
    return e.value;
  }

  /** Store `value` until `expires`, evicting the least recently used entry when full. */
  set(key: string, value: T, expires: number): void {
    this.#map.delete(key);
    while (this.#map.size >= this.#limit) {
      const oldest = this.#map.keys().next().value;
      if (oldest === undefined) break;
      this.#map.delete(oldest);
    }
    this.#map.set(key, { value, expires });
  }

  /** Forget everything. */
  clear(): void {
    this.#map.clear();
  }
}
