/**
 * The hot-path contract. Two implementations with one shape: the readable TypeScript engine
 * (`createJsEngine`) and the WebAssembly engine compiled from `asm/` (`createWasmEngine`).
 * Same inputs, same outputs, byte for byte.
 *
 * Memory model: every engine owns one *packet memory* (`mem`) laid out as in `layout.ts`:
 * two fixed descriptors (`rxDesc`, `txDesc`), a transmit area and a receive area. Frames are
 * decoded and built in place there. Only integers cross the JS/WASM boundary.
 *
 * `mem`, `rxDesc` and `txDesc` may be replaced when the WASM memory grows (buffer creation and
 * writes may allocate). Read them from the engine each time; never cache the views across calls.
 *
 * @module
 */

/** Wire hot paths: checksum, decode and encode of whole frames. */
export interface WireOps {
  /**
   * Internet checksum (RFC 1071) of `mem[off, off+len)` (any offset, odd lengths padded with a
   * zero byte) added to `initial` (a 32-bit partial ones'-complement sum such as a
   * pseudo-header sum). Returns the final 16-bit checksum: the complement of the folded sum.
   */
  checksum(off: number, len: number, initial: number): number;
  /**
   * Decode the Ethernet frame at `mem[off, off+len)` into `rxDesc`, verifying every checksum
   * but, with `flags` `DECODE_L4_VALID` (src/wire/layout.ts), the TCP or UDP one, which the
   * link vouched for (`Link.rxChecksumValid`). Returns the verdict: 0 (`DROP_NONE`) or a
   * `DROP_*` reason; never throws on any bytes.
   */
  decode(off: number, len: number, flags?: number): number;
  /** Decode an IPv4 datagram (no Ethernet header) at `mem[off, off+len)` into `rxDesc`. */
  decodeIpv4(off: number, len: number): number;
  /** Decode an IPv6 datagram (no Ethernet header) at `mem[off, off+len)` into `rxDesc`. */
  decodeIpv6(off: number, len: number): number;
  /**
   * Build the headers described by `txDesc` (kind `K_ARP`, `K_ICMP`, `K_UDP`, `K_TCP`, or
   * `K_IPV4_FRAGMENT` for a raw IPv4 payload with the given `D_IP_FRAG` and `D_IP_PROTO`; or
   * an IPv6 kind, `K_ICMP6`, `K_UDP6`, `K_TCP6`, `K_IPV6_FRAGMENT`, `K_IPV6_OTHER`, with the
   * addresses at `TX_IP6_SRC` and `TX_IP6_DST`) in front of the payload at `mem[payloadOff, payloadOff+payloadLen)`, checksums filled in.
   * Returns the offset where the frame starts (the frame ends at payloadOff + payloadLen), or
   * `-ENC_*` on error.
   */
  encode(payloadOff: number, payloadLen: number): number;
}

/**
 * Stream buffers. Handles are small non-negative integers. Sequence numbers are u32 values
 * (pass them as numbers in [0, 2^32)).
 */
export interface BufferOps {
  /** Create a reassembly buffer of `capacity` bytes whose first expected byte is `seq`. */
  rcvCreate(capacity: number, seq: number): number;
  /** Free a reassembly buffer and its storage; the handle may be reused. */
  rcvDestroy(h: number): void;
  /**
   * Accept a segment's payload lying at `mem[off, off+len)` with first sequence number `seq`.
   * Bytes before rcv.nxt or beyond the window are trimmed (RFC 9293 3.10.7.4); overlaps keep
   * the first data received. Returns how many bytes became readable in order by this call.
   */
  rcvInsert(h: number, seq: number, off: number, len: number): number;
  /** What the last rcvInsert did: a bit set of `RI_*` flags. */
  rcvLastInsert(h: number): number;
  /** rcv.nxt: the next expected sequence number (u32). */
  rcvNext(h: number): number;
  /** In-order bytes waiting for the reader. */
  rcvReadable(h: number): number;
  /** Free window from rcv.nxt: capacity - readable. */
  rcvWindow(h: number): number;
  /**
   * Grow a reassembly buffer to `capacity` bytes (receive buffer auto-tuning); every byte held,
   * in order or not, keeps its sequence number. RangeError below the current capacity.
   */
  rcvGrow(h: number, capacity: number): void;
  /** Copy up to dst.length readable bytes into dst and consume them. Returns the count. */
  rcvRead(h: number, dst: Uint8Array): number;
  /**
   * Write the held out-of-order ranges as SACK blocks (RFC 2018: the block holding the most
   * recently received segment first) into `out` as [left, right) u32 pairs, at most `max`
   * blocks (max <= 4). Returns the number of blocks.
   */
  rcvSack(h: number, out: Uint32Array, max: number): number;
  /** Out-of-order bytes held. */
  rcvHeld(h: number): number;
  /** Create a send ring of `capacity` bytes whose first byte will carry sequence number `seq`. */
  sndCreate(capacity: number, seq: number): number;
  /** Free a send ring and its storage; the handle may be reused. */
  sndDestroy(h: number): void;
  /** Append user bytes; returns how many were accepted (backpressure when < src.length). */
  sndWrite(h: number, src: Uint8Array): number;
  /** Copy `len` bytes starting at sequence `seq` into packet memory at `dstOff`. */
  sndCopy(h: number, seq: number, len: number, dstOff: number): void;
  /** Release every byte before `ackSeq` (snd.una moved). Returns the number released. */
  sndRelease(h: number, ackSeq: number): number;
  /** Bytes held (unacknowledged plus unsent). */
  sndLength(h: number): number;
  /** Free space. */
  sndFree(h: number): number;
  /** Grow a send ring to `capacity` bytes, keeping what it holds. RangeError below the current one. */
  sndGrow(h: number, capacity: number): void;
  /** Sequence number of the first byte held (snd.una as far as the ring knows). */
  sndHead(h: number): number;
}

/** One hot-path engine. */
export interface Engine extends WireOps, BufferOps {
  /** Which implementation this is. */
  readonly kind: "js" | "wasm";
  /** Packet memory (see layout.ts). Re-read after any call; it may be replaced on growth. */
  readonly mem: Uint8Array;
  /** Decode output descriptor (layout.ts `D_*` indices). */
  readonly rxDesc: Int32Array;
  /** Encode input descriptor (same indices). */
  readonly txDesc: Int32Array;
}

/** rcvLastInsert flags. */
export const RI_DUPLICATE = 1; // some bytes were already held or already delivered (D-SACK)
export const RI_OUT_OF_ORDER = 2; // data was held beyond a hole
export const RI_TRIMMED = 4; // data beyond the window was cut off
export const RI_RANGE_LIMIT = 8; // dropped: the cap on held ranges was reached
export const RI_CONFLICT = 16; // overlapping bytes differed from those held; the first were kept

/** Which engine a stack uses. */
export type EngineKind = "js" | "wasm";
