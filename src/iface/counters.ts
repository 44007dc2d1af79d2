/**
 * Named counters: frames in and out, and every drop by its reason name.
 *
 * @module
 */

/** A set of named monotonically increasing counters. */
export class Counters {
  #values = new Map<string, number>();
  /** Frames received (a plain field: counted on every frame). */
  framesIn = 0;
  /** Bytes received. */
  bytesIn = 0;
  /** Frames sent. */
  framesOut = 0;
  /** Bytes sent. */
  bytesOut = 0;
  /** TCP segments handed to the TCP layer. */
  tcpIn = 0;
  /** TCP segments sent. */
  tcpOut = 0;

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
    const hot: [string, number][] = [
      ["frames-in", this.framesIn],
      ["bytes-in", this.bytesIn],
      ["frames-out", this.framesOut],
      ["bytes-out", this.bytesOut],
      ["tcp-in", this.tcpIn],
      ["tcp-out", this.tcpOut],
    ];
    for (const [k, v] of hot) if (v !== 0) into[k] = v;
    for (const [k, v] of this.#values) into[k] = v;
    return into;
  }
}
