/**
 * The link interface: whole Ethernet frames in and out. Implementations: TAP and TUN (FFI),
 * the in-memory pair, and decorators (pcap writer, fault injector) that wrap any link.
 *
 * Beyond the five required members, a link declares what else it can do with optional
 * members (its capabilities); a driver or a decorator tests for them with `?.` and never
 * guesses from the shape of an object:
 *
 * | capability      | members                 | who has it                              |
 * | --------------- | ----------------------- | --------------------------------------- |
 * | large frames    | `maxFrame`              | TAP/TUN with offload (up to 65553 bytes) |
 * | large sends     | `maxSendFrame`          | TAP with offload, the memory link (TSO) |
 * | corking         | `cork()`, `uncork()`    | TAP/TUN with offload (merges segments)  |
 * | checksum help   | `useChecksum(fn)`       | TAP/TUN with offload                    |
 * | checksum vouched| `rxChecksumValid(i)`    | TAP/TUN with offload; pcap forwards it  |
 * | partial kept    | `keepPartialChecksums()`| TAP/TUN with offload; no decorator      |
 * | counters        | `counters()`            | every link here (prefixed names)        |
 * | next deadline   | `nextDueAt()`           | a fault injector holding frames         |
 * | same-thread peer| `sameThreadPeer`        | true: the memory link; false: TAP/TUN   |
 *
 * Decorators forward every capability of the link they wrap, or adapt it (the fault injector
 * cuts large frames into MTU-sized segments, so it declares no `maxFrame` of its own).
 *
 * @module
 */

/**
 * An Internet checksum function over a view (RFC 1071): the complement of the folded sum of
 * `mem[off, off+len)` plus `initial`, as `jsChecksum` of src/kernels/js/checksum.ts computes.
 */
export type ChecksumFn = (mem: Uint8Array, off: number, len: number, initial: number) => number;

/** A network link carrying Ethernet II frames. */
export interface Link {
  /** A name for messages ("tap0", "memory-a"). */
  readonly name: string;
  /** IP MTU: the largest Ethernet payload (1500 by default). */
  readonly mtu: number;
  /**
   * Drain up to `max` waiting frames into `buf`, back to back from offset 0, without blocking.
   * For frame i, writes its offset in `buf` to `meta[2*i]` and its length to `meta[2*i+1]`.
   * Stops early when `buf` has no room for a frame of {@link frameRoom} bytes. Returns the
   * count.
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

  /**
   * Large frames: the largest frame `receive()` may return, when above mtu + 18 (a TAP link
   * with segmentation offload hands in TCP segments of up to 64 KiB as single, valid frames).
   * Absent: mtu + 18. Frames sent are never larger than mtu + 18, unless `maxSendFrame`.
   */
  readonly maxFrame?: number;
  /**
   * Large sends (TCP segmentation offload): the largest frame `send()` takes when it is a TCP
   * segment, above mtu + 18. TCP then builds segments of up to 64 KiB (several MSS of payload,
   * src/tcp/tso.ts) and the link carries them whole, its receiver taking them as one segment
   * (as Linux GRO hands a merged segment up). Every other frame stays within mtu + 18.
   * Absent: no frame sent is larger than mtu + 18.
   */
  readonly maxSendFrame?: number;
  /**
   * Corking: from now on, the link may hold consecutive TCP segments of a flow to send them
   * as one large frame (segmentation offload). The driver brackets each pass with
   * `cork()`/`uncork()`.
   */
  cork?(): void;
  /** Send what `cork()` held and stop holding. */
  uncork?(): void;
  /**
   * Checksum help: use `fn` (for example the WASM engine's checksum) where the link completes
   * partial checksums of the frames it receives.
   */
  useChecksum?(fn: ChecksumFn): void;
  /**
   * Checksum vouched: true when the link vouches for the TCP or UDP checksum of frame `i` of
   * the last `receive()`, which the stack then does not verify again (engine `decode` with
   * `DECODE_L4_VALID`). A TAP/TUN device with offloads vouches for the segments the kernel
   * made on this host (virtio-net `NEEDS_CSUM`: the checksum was left partial, and the link
   * completed it) or verified (`DATA_VALID`), as a Linux virtio-net driver marks them
   * CHECKSUM_PARTIAL / CHECKSUM_UNNECESSARY and its TCP does not sum them again. A decorator
   * that may alter or reorder frames (the fault injector) vouches for none.
   */
  rxChecksumValid?(i: number): boolean;
  /**
   * Partial checksums kept: with `keep` true the link may leave the TCP/UDP checksum of a frame
   * it vouches for (`rxChecksumValid`) partial, as the kernel handed it (virtio-net
   * `NEEDS_CSUM`: the field holds the pseudo-header sum), instead of completing it: one pass over
   * up to 64 KiB per frame fewer. The driver asks for it while nothing but the stack reads the
   * frames (no trace observer); decorators that record or alter frames (pcap, the fault
   * injector) do not forward it, so the frames they see are completed as before.
   */
  keepPartialChecksums?(keep: boolean): void;
  /**
   * Counters of the link and of everything it wraps, by name, each prefixed by its kind
   * ("tap-rx-frames", "fault-dropped", "pcap-records").
   */
  counters?(): Record<string, number>;
  /**
   * Next deadline: the time (on the clock the link was given) at which held frames fall due
   * and `receive()` (or `wait()`) should be called again; Infinity when none.
   */
  nextDueAt?(): number;
  /**
   * Same-thread peer: true when the other end of the link runs on this thread (two stacks
   * joined by the memory link). A round trip measured over it is the peer's turn of the event
   * loop, which lengthens with whatever we queue, not a network's; `createStack` passes it to
   * TCP (`TcpOptions.sameThreadPeer`) so that receive-buffer auto-tuning takes its strict rule
   * (src/tcp/buf_tune.ts). False: the peer runs elsewhere (the kernel behind a TAP or TUN
   * device) and only `wait()` signals its frames, so the driver may skip a read that cannot
   * find anything (src/stack.ts). Absent: a network, but frames may arrive without a wait.
   */
  readonly sameThreadPeer?: boolean;
}

/** Largest Ethernet header plus an 802.1Q tag: the frame room needed beyond the MTU. */
export const FRAME_OVERHEAD = 18;

/**
 * The room `receive()` needs for one frame of `link`: its `maxFrame`, or mtu + 18.
 *
 * @example
 * ```ts
 * import { createMemoryLinkPair } from "./memory.ts";
 * import { frameRoom } from "./link.ts";
 * const [a, b] = createMemoryLinkPair({ mtu: 1500, tso: false });
 * if (frameRoom(a) !== 1518) throw new Error("wrong room");
 * const [c, d] = createMemoryLinkPair({ mtu: 1500 }); // large TCP segments (TSO)
 * if (frameRoom(c) !== 65549) throw new Error("wrong room");
 * for (const l of [a, b, c, d]) l.close();
 * ```
 */
export function frameRoom(link: Link): number {
  return Math.max(link.maxFrame ?? 0, link.mtu + FRAME_OVERHEAD);
}
