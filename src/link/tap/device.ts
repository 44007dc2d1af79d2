/**
 * The link over one open `/dev/net/tun` file descriptor, TAP (Ethernet frames) or TUN (IP
 * packets, given an Ethernet face by l3.ts): frames read and written with `readv`/`writev`
 * straight from and into the caller's view (no copy in JavaScript).
 *
 * Offloads: with `IFF_VNET_HDR` every frame carries a 10-byte virtio-net header (vnet.ts),
 * read into a scratch buffer by a two-entry `readv` while the frame lands in the caller's view,
 * and written from a static all-zero header by a two-entry `writev`. The kernel then hands us
 * TCP segments of up to 64 KiB with a partial checksum, which `receive()` completes (RFC 1071)
 * so that the frames above the link are ordinary valid frames, only larger than the MTU. On
 * send, between `cork()` and `uncork()`, consecutive TCP segments of a flow are merged into
 * one GSO frame (gso.ts): one write per 64 KiB.
 *
 * @module
 */

import type { TapLink, TapStats } from "./types.ts";
import { partialChecksumFrame, SegmentMerger, tsoFrame } from "./gso.ts";
import { TapWaiter } from "./wait.ts";
import { EthernetFace } from "./l3.ts";
import {
  type ChecksumFn,
  completeChecksum,
  VNET_F_DATA_VALID,
  VNET_F_NEEDS_CSUM,
  VNET_GSO_NONE,
  VNET_HDR_LEN,
} from "./vnet.ts";
import {
  addressOf,
  EAGAIN,
  EBADF,
  EBADFD,
  EINTR,
  errnoName,
  errnoNow,
  type Libc,
  setIov,
  setIovAt,
} from "./libc.ts";

/** Largest Ethernet header plus an 802.1Q tag: the frame room needed beyond the MTU. */
const FRAME_OVERHEAD = 18;
/** With offload: the largest frame, a 65535-byte IPv4 datagram behind a tagged header. */
export const MAX_GSO_FRAME = 65535 + FRAME_OVERHEAD;
const MIN_FRAME = 14;
/** Larger frames never merge (two exceed 64 KiB): written as they are, with no copy. */
const UNMERGED_FRAME = 32768;
const ETH = 14;
/** Frames up to this long carry headers alone, or a few bytes (a handshake, FIN, ACK). */
const HEADERS_ONLY = 128;

/** How a device was opened. */
export interface DeviceConfig {
  /** "tap" (Ethernet) or "tun" (IP packets behind an Ethernet face). */
  kind: "tap" | "tun";
  /** Opened with IFF_VNET_HDR and offloads. */
  offload: boolean;
  /** Why offloads were asked for and refused (the device runs without), or null. */
  offloadRefused: string | null;
  /** Checksum used to complete partial checksums. */
  checksum: ChecksumFn;
  /** Busy polling budget in microseconds. */
  busyPollUs: number;
  /** Called once after the descriptor is closed (deletes what openTap created). */
  onClose?: () => void;
}

/** The link over one open TAP or TUN file descriptor. */
export class TapDevice implements TapLink {
  readonly name: string;
  readonly ifname: string;
  readonly mtu: number;
  readonly stats: TapStats = {
    rxFrames: 0,
    rxDryReads: 0,
    rxBytes: 0,
    txFrames: 0,
    txBytes: 0,
    txErrors: 0,
    parkedWaits: 0,
    readyWaits: 0,
    busyPollHits: 0,
    rxGsoFrames: 0,
    rxChecksumsCompleted: 0,
    rxChecksumsKept: 0,
    rxLargestFrame: 0,
    rxBadHeader: 0,
    txGsoFrames: 0,
    txMerged: 0,
    busyPollMisses: 0,
    busyPollSkips: 0,
    arpAnswered: 0,
    ndAnswered: 0,
    txDropped: 0,
  };
  readonly offload: boolean;
  readonly offloadRefused: string | null;
  readonly kind: "tap" | "tun";
  readonly maxFrame: number | undefined;
  readonly maxSendFrame: number | undefined;
  /** The kernel is the peer: its frames arrive from another thread, signalled by wait(). */
  readonly sameThreadPeer = false;
  #c: Libc;
  #onClose: (() => void) | undefined;
  /** TUN: the Ethernet face (l3.ts); null for TAP. */
  #face: EthernetFace | null;
  /** Bytes of Ethernet header the device does not carry: 14 for TUN, 0 for TAP. */
  #shift: number;
  #fd: number;
  #waiter: TapWaiter;
  #closed = false;
  // iovecs ({ void *base; size_t len }) for readv/writev, written as u32 halves: one entry,
  // or two with offload (the virtio-net header first, then the frame).
  #rxIov = new Uint32Array(new ArrayBuffer(32));
  #txIov = new Uint32Array(new ArrayBuffer(32));
  #iovs: number;
  #rxHdr = new Uint8Array(new ArrayBuffer(VNET_HDR_LEN));
  /** Per frame of the last receive(): 1 when its TCP/UDP checksum is vouched for. */
  #rxValid = new Uint8Array(64);
  /** The last receive() that read frames read one with data (see HEADERS_ONLY). */
  #lastData = false;
  /** Leave vouched-for partial checksums as they came (keepPartialChecksums). */
  #keepPartial = false;
  #txHdr = new Uint8Array(new ArrayBuffer(VNET_HDR_LEN)); // all zero: nothing to offload
  #tsoHdr = new Uint8Array(new ArrayBuffer(VNET_HDR_LEN)); // a large segment's GSO header
  #tsoIov = new Uint32Array(new ArrayBuffer(32));
  #checksum: ChecksumFn;
  #merger: SegmentMerger | null;
  #corked = false;
  #gsoIov = new Uint32Array(new ArrayBuffer(32)); // the merger's header and frame
  // Start addresses of the last ArrayBuffers seen. Keyed by the buffer, not the view, so a
  // driver that takes a fresh subarray per burst pays no pointer lookup; a grown WASM memory
  // detaches its old buffer and brings a new one, which misses and is looked up again.
  #rxBuffer: ArrayBufferLike | null = null;
  #rxBase = 0;
  #txBuffer: ArrayBufferLike | null = null;
  #txBase = 0;

  constructor(c: Libc, fd: number, ifname: string, mtu: number, cfg: DeviceConfig) {
    const offload = cfg.offload;
    this.#c = c;
    this.kind = cfg.kind;
    this.offload = offload;
    this.offloadRefused = cfg.offloadRefused;
    this.maxFrame = offload ? MAX_GSO_FRAME : undefined;
    // TSO (gso.ts tsoFrame): TAP only; a TUN device keeps merging what TCP sends per MSS.
    this.maxSendFrame = offload && cfg.kind === "tap" ? MAX_GSO_FRAME : undefined;
    this.#onClose = cfg.onClose;
    this.#face = cfg.kind === "tun" ? new EthernetFace(this.stats) : null;
    this.#shift = cfg.kind === "tun" ? ETH : 0;
    this.#iovs = offload ? 2 : 1;
    this.#checksum = cfg.checksum;
    this.#merger = offload ? new SegmentMerger() : null;
    this.#fd = fd;
    this.ifname = ifname;
    this.name = ifname;
    this.mtu = mtu;
    try {
      this.#waiter = new TapWaiter(c, fd, ifname, cfg.busyPollUs, this.stats);
    } catch (e) {
      c.close(fd);
      throw e;
    }
    if (offload) {
      setIov(this.#rxIov, addressOf(this.#rxHdr), VNET_HDR_LEN);
      setIov(this.#txIov, addressOf(this.#txHdr), VNET_HDR_LEN);
      setIov(this.#tsoIov, addressOf(this.#tsoHdr), VNET_HDR_LEN);
      const m = this.#merger!;
      setIov(this.#gsoIov, addressOf(m.hdr), VNET_HDR_LEN);
      setIovAt(this.#gsoIov, 1, addressOf(m.buf) + this.#shift, 0);
    }
  }

  /** The counters as `<kind>-<name>` ("tap-rx-frames"), plus `<kind>-offload` (1 or 0). */
  counters(): Record<string, number> {
    const out: Record<string, number> = { [`${this.kind}-offload`]: this.offload ? 1 : 0 };
    for (const [k, v] of Object.entries(this.stats)) {
      out[`${this.kind}-${k.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)}`] = v;
    }
    return out;
  }

  cork(): void {
    if (this.#merger !== null && !this.#closed) this.#corked = true;
  }

  uncork(): void {
    this.#corked = false;
    if (this.#merger !== null && this.#merger.count > 0) this.#writeMerged();
  }

  /** Write the frame the merger holds (one segment as it came, or a GSO frame). */
  #writeMerged(): void {
    const m = this.#merger!;
    const count = m.count;
    let len = m.finish();
    const shift = this.#shift;
    if (shift > 0) {
      // TUN: the device sees no Ethernet header; the GSO offsets count from the IP header.
      len -= shift;
      if (count > 1) {
        const h = m.hdr;
        const hdrLen = (h[2]! | (h[3]! << 8)) - shift;
        const start = (h[6]! | (h[7]! << 8)) - shift;
        h[2] = hdrLen & 0xff;
        h[3] = hdrLen >>> 8;
        h[6] = start & 0xff;
        h[7] = start >>> 8;
      }
    }
    this.#gsoIov[6] = len;
    const c = this.#c;
    let r = c.writev(this.#fd, this.#gsoIov, 2);
    while (r < 0 && errnoNow(c) === EINTR) r = c.writev(this.#fd, this.#gsoIov, 2);
    m.reset();
    this.#waiter.drainedAt = -Infinity; // the kernel may have answered inside the write
    if (r < 0) {
      this.stats.txErrors++; // as for a single frame: lost like on a wire
      return;
    }
    if (count > 1) {
      this.stats.txGsoFrames++;
      this.stats.txMerged += count;
    }
  }

  useChecksum(fn: ChecksumFn): void {
    this.#checksum = fn;
  }

  get fd(): number {
    return this.#closed ? -1 : this.#fd;
  }

  receive(buf: Uint8Array, meta: Int32Array, max: number): number {
    if (this.#closed) return 0;
    const offload = this.offload;
    const room = offload ? MAX_GSO_FRAME : this.mtu + FRAME_OVERHEAD;
    const size = buf.length;
    if (max <= 0) return 0;
    if (size < room) {
      // A read into less room would cut a large frame: say so rather than stall silently.
      throw new RangeError(
        `${this.kind.toUpperCase()} device ${this.ifname} needs ${room} bytes of room per frame${
          offload ? " (offload: frames up to 64 KiB)" : ""
        }, got a ${size}-byte buffer`,
      );
    }
    if (meta.length < 2 * max) max = meta.length >> 1;
    if (this.#rxValid.length < max) this.#rxValid = new Uint8Array(max);
    const valid = this.#rxValid;
    if (buf.buffer !== this.#rxBuffer) {
      this.#rxBuffer = buf.buffer;
      this.#rxBase = addressOf(buf) - buf.byteOffset;
    }
    const c = this.#c;
    const iov = this.#rxIov;
    const iovs = this.#iovs;
    const at = iovs - 1; // the frame's iovec entry
    const base = this.#rxBase + buf.byteOffset;
    const shift = this.#shift;
    const face = this.#face;
    let off = 0;
    let n = 0;
    if (face !== null && face.pending > 0) {
      // TUN: ARP replies the link made up for the interface come first.
      n = face.drain(buf, meta, 0, max, 0);
      off = meta[2 * n - 2]! + meta[2 * n - 1]!;
      valid.fill(0, 0, n); // ARP replies
    }
    const waiter = this.#waiter;
    waiter.drainedAt = -Infinity;
    let bytes = 0;
    let largest = this.stats.rxLargestFrame;
    let bad = 0; // frames dropped for their header, bounded so that a flood of them ends a pass
    let data = false; // a frame larger than headers alone: a stream may be flowing
    while (n < max && size - off >= room && bad < max) {
      setIovAt(iov, at, base + off + shift, size - off - shift);
      let r = c.readv(this.#fd, iov, iovs);
      if (r <= 0) {
        if (r === 0) break;
        const e = errnoNow(c);
        if (e === EAGAIN) {
          this.stats.rxDryReads++;
          // Dry after header-only frames (a handshake, a FIN, an ACK): a wait() soon after
          // need not poll again. Not after data, whose sender may be sending more.
          if (!(n > 0 ? data : this.#lastData)) waiter.drainedAt = performance.now();
          break;
        }
        if (e === EINTR) continue;
        throw new Deno.errors.BadResource(
          `Cannot read from ${this.kind.toUpperCase()} device ${this.ifname}: ${
            errnoName(e)
          } (device removed?)`,
        );
      }
      if (offload) r -= VNET_HDR_LEN;
      if (face !== null) {
        if (r < 1) {
          bad++;
          continue;
        }
        face.writeHeader(buf, off);
        r += shift;
      }
      let vouched = 0;
      if (offload) {
        vouched = r < MIN_FRAME || r > size - off ? -1 : this.#offloaded(buf, off, r);
        if (vouched < 0) {
          this.stats.rxBadHeader++;
          bad++;
          continue;
        }
      }
      valid[n] = vouched;
      if (r > largest) largest = r;
      if (r > HEADERS_ONLY) data = true;
      meta[2 * n] = off;
      meta[2 * n + 1] = r;
      off += r;
      bytes += r;
      n++;
    }
    if (n > 0) {
      waiter.lastRxAt = performance.now();
      this.#lastData = data;
    }
    this.stats.rxFrames += n;
    this.stats.rxBytes += bytes;
    this.stats.rxLargestFrame = largest;
    return n;
  }

  /**
   * The virtio-net header of the frame just read at `buf[off, off+len)`: complete a partial
   * checksum, count a large segment. Returns 1 when the frame's L4 checksum is vouched for
   * (completed here, or `DATA_VALID`: the kernel verified it), 0 when the stack must verify it,
   * -1 when the header does not fit the frame.
   */
  #offloaded(buf: Uint8Array, off: number, len: number): number {
    const h = this.#rxHdr;
    if (h[1] !== VNET_GSO_NONE) this.stats.rxGsoFrames++;
    const flags = h[0]!;
    if ((flags & VNET_F_NEEDS_CSUM) === 0) return (flags & VNET_F_DATA_VALID) !== 0 ? 1 : 0;
    const start = (h[6]! | (h[7]! << 8)) + this.#shift;
    const field = h[8]! | (h[9]! << 8);
    if (this.#keepPartial) {
      // Vouched for as it is: nothing but the stack, which does not verify it, reads it.
      if (start + field + 2 > len) return -1;
      this.stats.rxChecksumsKept++;
      return 1;
    }
    if (!completeChecksum(buf, off, len, start, field, this.#checksum)) return -1;
    this.stats.rxChecksumsCompleted++;
    return 1;
  }

  rxChecksumValid(i: number): boolean {
    return this.#rxValid[i] === 1;
  }

  keepPartialChecksums(keep: boolean): void {
    this.#keepPartial = keep && this.offload;
  }

  send(buf: Uint8Array, off: number, len: number): void {
    if (this.#closed) {
      throw new Deno.errors.BadResource(
        `Cannot send on ${this.kind.toUpperCase()} device ${this.ifname}: it is closed`,
      );
    }
    if (!(off >= 0 && len >= 0 && off + len <= buf.length && Number.isInteger(off + len))) {
      throw new RangeError(
        `Frame range [${off}, ${off + len}) is outside the ${buf.length}-byte buffer`,
      );
    }
    let tso = false;
    let whole = false; // a frame written as it is with a partial checksum (#tsoHdr)
    if (len > this.mtu + FRAME_OVERHEAD && this.maxSendFrame !== undefined) {
      // A large TCP segment (TSO): what the merger holds goes first, then this one whole.
      if (this.#merger !== null && this.#merger.count > 0) this.#writeMerged();
      tso = tsoFrame(buf, off, len, this.mtu, this.#tsoHdr);
    } else if (this.#corked && len > UNMERGED_FRAME && this.#shift === 0) {
      // MTU 65520: what is held goes first; this one is not copied into the merger, and its
      // checksum is left to the kernel, which then does not verify it (NEEDS_CSUM).
      if (this.#merger!.count > 0) this.#writeMerged();
      whole = partialChecksumFrame(buf, off, len, this.#tsoHdr);
    }
    if (len < MIN_FRAME || (len > this.mtu + FRAME_OVERHEAD && !tso)) {
      throw new RangeError(
        `Frame of ${len} bytes does not fit ${this.kind.toUpperCase()} device ${this.ifname} (14 to ${
          this.mtu + FRAME_OVERHEAD
        } bytes)`,
      );
    }
    const face = this.#face;
    if (face !== null && !face.outbound(buf, off, len)) {
      if (face.pending > 0) this.#waiter.wakeSoon();
      return;
    }
    if (this.#corked && !tso && !whole) {
      const m = this.#merger!;
      let held = m.offer(buf, off, len);
      if (!held && m.count > 0) {
        this.#writeMerged(); // what is held goes first, in order
        held = m.offer(buf, off, len);
      }
      if (held) {
        this.stats.txFrames++;
        this.stats.txBytes += len;
        return;
      }
    }
    if (buf.buffer !== this.#txBuffer) {
      this.#txBuffer = buf.buffer;
      this.#txBase = addressOf(buf) - buf.byteOffset;
    }
    const iovs = this.#iovs;
    const shift = this.#shift;
    const iov = tso || whole ? this.#tsoIov : this.#txIov;
    setIovAt(iov, iovs - 1, this.#txBase + buf.byteOffset + off + shift, len - shift);
    const c = this.#c;
    let r = c.writev(this.#fd, iov, iovs);
    while (r < 0 && errnoNow(c) === EINTR) r = c.writev(this.#fd, iov, iovs);
    this.#waiter.drainedAt = -Infinity; // the kernel may have answered inside the write
    if (r < 0) {
      const e = errnoNow(c);
      if (e === EBADF || e === EBADFD) {
        throw new Deno.errors.BadResource(
          `Cannot write to ${this.kind.toUpperCase()} device ${this.ifname}: ${errnoName(e)}`,
        );
      }
      this.stats.txErrors++; // EIO (device down), ENOBUFS, EAGAIN: the frame is lost like on a wire
      return;
    }
    this.stats.txFrames++;
    this.stats.txBytes += len;
    if (tso) this.stats.txGsoFrames++;
  }

  wait(timeoutMs: number): Promise<void> {
    if (this.#face !== null && this.#face.pending > 0 && !this.#closed) return Promise.resolve();
    return this.#waiter.wait(timeoutMs);
  }

  /** Close the device; a parked wait() resolves. `await link.wait(0)` after close() settles it. */
  close(): void {
    if (this.#closed) return;
    this.uncork();
    this.#closed = true;
    this.#waiter.close();
    this.#c.close(this.#fd);
    this.#rxBuffer = null;
    this.#txBuffer = null;
    this.#onClose?.();
  }
}
