/**
 * The link interface: whole Ethernet frames in and out. Implementations: TAP (FFI), the
 * in-memory pair, and decorators (pcap writer, fault injector) that wrap any link.
 *
 * @module
 */

/** A network link carrying Ethernet II frames. */
export interface Link {
  /** A name for messages ("tap0", "memory-a"). */
  readonly name: string;
  /** IP MTU: the largest Ethernet payload (1500 by default). */
  readonly mtu: number;
  /**
   * Drain up to `max` waiting frames into `buf`, back to back from offset 0, without blocking.
   * For frame i, writes its offset in `buf` to `meta[2*i]` and its length to `meta[2*i+1]`.
   * Stops early when `buf` has no room for a frame of mtu + 18 bytes. Returns the count.
   */
  receive(buf: Uint8Array, meta: Int32Array, max: number): number;
  /** Send one whole frame `buf[off, off+len)`; the bytes are consumed before this returns. */
  send(buf: Uint8Array, off: number, len: number): void;
  /**
   * Resolve when frames may be waiting or after `timeoutMs` (Infinity: no timeout), whichever
   * comes first. Must not spin a core and must not block the event loop. Resolves at once
   * when the link is closed.
   */
  wait(timeoutMs: number): Promise<void>;
  /** Close the link; pending wait() calls resolve. Idempotent. */
  close(): void;
}
