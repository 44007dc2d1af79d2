/**
 * `WriteBatcher`: the write side of `StackSocket`. Node code writes a response in pieces
 * (status line and headers, a chunk size, the chunk, the trailer...) within one tick; sent one
 * by one they become one TCP segment each. The batcher gathers what is written in the same
 * tick and hands it to the connection as one write, so it leaves as few segments as the MSS
 * allows. Backpressure stays real: a write's callback runs at once only while less than
 * `limit` bytes wait or are in flight; beyond that it waits for the connection to take them.
 *
 * @module
 */

import { Buffer } from "node:buffer";

/** What the batcher writes to (a `Conn`'s `write`). */
export type WriteFn = (bytes: Uint8Array) => Promise<number>;

/**
 * Gathers writes of one tick into one connection write.
 *
 * @example Two writes, one connection write
 * ```ts
 * import { WriteBatcher } from "./node_net_writer.ts";
 * const seen: number[] = [];
 * const b = new WriteBatcher((p) => (seen.push(p.length), Promise.resolve(p.length)), () => {});
 * b.push(new Uint8Array(3), () => {});
 * b.push(new Uint8Array(4), () => {});
 * await b.drained();
 * if (seen.join() !== "7") throw new Error(seen.join());
 * ```
 */
export class WriteBatcher {
  #write: WriteFn;
  #onError: (err: Error) => void;
  #limit: number;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #inFlight = 0;
  #scheduled = false;
  #blocked: Array<() => void> = [];
  #idle: Array<() => void> = [];
  #failed: Error | undefined;
  /** Bytes the connection has taken. */
  written = 0;

  /** Write through `write`; a failed write is reported once to `onError`. */
  constructor(write: WriteFn, onError: (err: Error) => void, limit = 65536) {
    this.#write = write;
    this.#onError = onError;
    this.#limit = limit;
  }

  /** Queue `chunk`; `callback` runs when the writer may send more (backpressure). */
  push(chunk: Uint8Array, callback: (error?: Error | null) => void): void {
    if (this.#failed) {
      callback(this.#failed);
      return;
    }
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#flush());
    }
    if (this.#pendingBytes + this.#inFlight < this.#limit) callback();
    else this.#blocked.push(() => callback(this.#failed));
  }

  /** Resolves once everything queued has been taken by the connection (or failed). */
  drained(): Promise<void> {
    if (this.#pendingBytes === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Hand what waits to the connection now (before a close): a real socket's `write()` reaches
   * the kernel at once, so `destroy()` after `write()` still sends it (TLS close_notify and a
   * last response written just before the TLS layer destroys its transport).
   */
  flushNow(): void {
    if (this.#scheduled) this.#flush();
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#pendingBytes === 0 || this.#failed) return;
    const parts = this.#pending;
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    this.#pending = [];
    this.#inFlight += bytes.length;
    this.#pendingBytes = 0;
    this.#write(bytes).then(() => {
      this.#inFlight -= bytes.length;
      this.written += bytes.length;
      this.#settle();
    }, (err: Error) => {
      this.#inFlight -= bytes.length;
      this.#failed ??= err;
      this.#onError(err);
      this.#settle();
    });
  }

  #settle(): void {
    if (this.#pendingBytes > 0 && !this.#scheduled && !this.#failed) {
      this.#scheduled = true;
      queueMicrotask(() => this.#flush());
    }
    if (this.#failed || this.#pendingBytes + this.#inFlight < this.#limit) {
      const blocked = this.#blocked;
      this.#blocked = [];
      for (const go of blocked) go();
    }
    if (this.#failed || (this.#pendingBytes === 0 && this.#inFlight === 0)) {
      const idle = this.#idle;
      this.#idle = [];
      for (const go of idle) go();
    }
  }
}
