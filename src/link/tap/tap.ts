/**
 * A Linux TAP device as a {@link Link}, through `Deno.dlopen` on libc: `/dev/net/tun` opened
 * non-blocking, `TUNSETIFF` with `IFF_TAP | IFF_NO_PI`, frames read and written with
 * `readv`/`writev` straight from and into the caller's view (no copy in JavaScript).
 *
 * Waiting (tap_wait.ts): a zero-timeout `poll` first, then one FFI `poll` parked in another
 * thread; busy polling (`busyPollUs`) right after traffic.
 *
 * Offloads: with `offload`, the device is opened with `IFF_VNET_HDR` and `TUNSETOFFLOAD`
 * (checksum and TSO): every frame carries a 10-byte virtio-net header (see vnet.ts), read into
 * a scratch buffer by a two-entry `readv` while the frame lands in the caller's view as
 * before, and written from a static all-zero header by a two-entry `writev`. The kernel then
 * hands us TCP segments of up to 64 KiB with a partial checksum, which `receive()` completes
 * (RFC 1071) so that the frames above the link are ordinary valid frames, only larger than
 * the MTU. One read and one ACK per 64 KiB instead of per 1.5 KB. On send, between `cork()`
 * and `uncork()` (the driver brackets each pass with them), consecutive TCP segments of a
 * flow are merged into one GSO frame (tap_gso.ts): one write per 64 KiB.
 *
 * Namespaces: with `netns`, the calling thread enters `/var/run/netns/<netns>` with `setns`
 * for the duration of `openTap` (creating or attaching the device, setting its MTU and
 * bringing it up, all by ioctl), then returns to its own namespace. The device is born inside
 * the namespace and never exists in the main one; the open file keeps working from any
 * namespace.
 *
 * @module
 */

import type { Link } from "../link.ts";
import type { TapLink, TapOptions, TapStats } from "./types.ts";
export type { Link, TapLink, TapOptions, TapStats };
import {
  checkIfName,
  configure,
  enableOffload,
  enterNetns,
  openError,
  setIffError,
} from "./setup.ts";
import { jsChecksum } from "../../kernels/js/checksum.ts";
import { SegmentMerger } from "./gso.ts";
import { TapWaiter } from "./wait.ts";
import {
  type ChecksumFn,
  completeChecksum,
  VNET_F_NEEDS_CSUM,
  VNET_GSO_NONE,
  VNET_HDR_LEN,
} from "./vnet.ts";
import {
  addressOf,
  cString,
  EAGAIN,
  EBADF,
  EBADFD,
  EINTR,
  errnoName,
  errnoNow,
  IFF_NO_PI,
  IFF_TAP,
  IFF_TUN_EXCL,
  IFF_VNET_HDR,
  IFNAMSIZ,
  IFREQ_SIZE,
  type Libc,
  libc,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  setIov,
  setIovAt,
  TUNSETIFF,
} from "./libc.ts";

/** Largest Ethernet header plus an 802.1Q tag: the frame room needed beyond the MTU. */
const FRAME_OVERHEAD = 18;
/** With offload: the largest frame, a 65535-byte IPv4 datagram behind a tagged header. */
const MAX_GSO_FRAME = 65535 + FRAME_OVERHEAD;
const MIN_FRAME = 14;

/**
 * Open (create or attach) a TAP device as a link. Needs root or CAP_NET_ADMIN and
 * `--allow-ffi`. Throws `Deno.errors.NotFound` (no `/dev/net/tun`, missing device or
 * namespace), `PermissionDenied`, `AlreadyExists`, `Busy`, `RangeError` (name over 15 bytes,
 * MTU out of range) or `TypeError` (bad name), each with a message saying what failed.
 *
 * @example
 * ```ts ignore
 * const link = openTap({ name: "tap0", mtu: 1500, netns: "dtcp-test" });
 * const meta = new Int32Array(128);
 * await link.wait(1000);
 * const n = link.receive(new Uint8Array(65536), meta, 64);
 * link.close();
 * ```
 */
export function openTap(options: TapOptions): TapLink {
  const name = options.name;
  checkIfName(name);
  const mtu = options.mtu;
  if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535)) {
    throw new RangeError(`TAP MTU must be an integer from 68 to 65535, got ${mtu}`);
  }
  const offload = options.offload === true;
  const c = libc();
  const restore = options.netns === undefined ? () => {} : enterNetns(c, options.netns);
  let fd = -1;
  let ifname = name;
  let actualMtu = 1500;
  try {
    const exists = !name.includes("%") && c.if_nametoindex(cString(name)) !== 0;
    const where = options.netns === undefined ? "" : ` in network namespace ${options.netns}`;
    if (options.create === true && exists) {
      throw new Deno.errors.AlreadyExists(
        `Cannot create TAP device ${name}: it already exists${where}`,
      );
    }
    if (options.create === false && !exists) {
      throw new Deno.errors.NotFound(
        `Cannot attach to TAP device ${name}: it does not exist${where}`,
      );
    }
    fd = c.open(cString("/dev/net/tun"), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw openError(errnoNow(c));
    const ifr = new Uint8Array(new ArrayBuffer(IFREQ_SIZE));
    const ifv = new DataView(ifr.buffer);
    ifr.set(new TextEncoder().encode(name));
    const flags = IFF_TAP | IFF_NO_PI | (options.create === true ? IFF_TUN_EXCL : 0) |
      (offload ? IFF_VNET_HDR : 0);
    ifv.setUint16(16, flags, true);
    if (c.ioctl(fd, TUNSETIFF, ifr) < 0) throw setIffError(errnoNow(c), name, where);
    const end = ifr.indexOf(0);
    ifname = new TextDecoder().decode(ifr.subarray(0, end < 0 ? IFNAMSIZ : end));
    if (offload) enableOffload(c, fd, ifname);
    actualMtu = configure(c, ifname, mtu);
  } catch (e) {
    if (fd >= 0) c.close(fd);
    throw e;
  } finally {
    restore();
  }
  const busy = options.busyPollUs ?? 50;
  if (!(busy >= 0 && busy <= 1_000_000)) {
    throw new RangeError(`TAP busyPollUs must be from 0 to 1000000, got ${busy}`);
  }
  return new TapDevice(c, fd, ifname, actualMtu, offload, options.checksum ?? jsChecksum, busy);
}

/** The link over one open TAP file descriptor. */
class TapDevice implements TapLink {
  readonly name: string;
  readonly ifname: string;
  readonly mtu: number;
  readonly stats: TapStats = {
    rxFrames: 0,
    rxBytes: 0,
    txFrames: 0,
    txBytes: 0,
    txErrors: 0,
    parkedWaits: 0,
    readyWaits: 0,
    busyPollHits: 0,
    rxGsoFrames: 0,
    rxChecksumsCompleted: 0,
    rxLargestFrame: 0,
    rxBadHeader: 0,
    txGsoFrames: 0,
    txMerged: 0,
  };
  readonly offload: boolean;
  #c: Libc;
  #fd: number;
  #waiter: TapWaiter;
  #closed = false;
  // iovecs ({ void *base; size_t len }) for readv/writev, written as u32 halves: one entry,
  // or two with offload (the virtio-net header first, then the frame).
  #rxIov = new Uint32Array(new ArrayBuffer(32));
  #txIov = new Uint32Array(new ArrayBuffer(32));
  #iovs: number;
  #rxHdr = new Uint8Array(new ArrayBuffer(VNET_HDR_LEN));
  #txHdr = new Uint8Array(new ArrayBuffer(VNET_HDR_LEN)); // all zero: nothing to offload
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

  constructor(
    c: Libc,
    fd: number,
    ifname: string,
    mtu: number,
    offload: boolean,
    checksum: ChecksumFn,
    busyPollUs: number,
  ) {
    this.#c = c;
    this.offload = offload;
    this.#iovs = offload ? 2 : 1;
    this.#checksum = checksum;
    this.#merger = offload ? new SegmentMerger() : null;
    this.#fd = fd;
    this.ifname = ifname;
    this.name = ifname;
    this.mtu = mtu;
    try {
      this.#waiter = new TapWaiter(c, fd, ifname, busyPollUs, this.stats);
    } catch (e) {
      c.close(fd);
      throw e;
    }
    if (offload) {
      setIov(this.#rxIov, addressOf(this.#rxHdr), VNET_HDR_LEN);
      setIov(this.#txIov, addressOf(this.#txHdr), VNET_HDR_LEN);
      const m = this.#merger!;
      setIov(this.#gsoIov, addressOf(m.hdr), VNET_HDR_LEN);
      setIovAt(this.#gsoIov, 1, addressOf(m.buf), 0);
    }
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
    const len = m.finish();
    this.#gsoIov[6] = len;
    const c = this.#c;
    let r = c.writev(this.#fd, this.#gsoIov, 2);
    while (r < 0 && errnoNow(c) === EINTR) r = c.writev(this.#fd, this.#gsoIov, 2);
    m.reset();
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
    if (size < room || max <= 0) return 0;
    if (meta.length < 2 * max) max = meta.length >> 1;
    if (buf.buffer !== this.#rxBuffer) {
      this.#rxBuffer = buf.buffer;
      this.#rxBase = addressOf(buf) - buf.byteOffset;
    }
    const c = this.#c;
    const iov = this.#rxIov;
    const iovs = this.#iovs;
    const at = iovs - 1; // the frame's iovec entry
    const base = this.#rxBase + buf.byteOffset;
    let off = 0;
    let n = 0;
    let bytes = 0;
    let largest = this.stats.rxLargestFrame;
    let bad = 0; // frames dropped for their header, bounded so that a flood of them ends a pass
    while (n < max && size - off >= room && bad < max) {
      setIovAt(iov, at, base + off, size - off);
      let r = c.readv(this.#fd, iov, iovs);
      if (r <= 0) {
        if (r === 0) break;
        const e = errnoNow(c);
        if (e === EAGAIN) break;
        if (e === EINTR) continue;
        throw new Deno.errors.BadResource(
          `Cannot read from TAP device ${this.ifname}: ${errnoName(e)} (device removed?)`,
        );
      }
      if (offload) {
        r -= VNET_HDR_LEN;
        if (r < MIN_FRAME || r > size - off || !this.#offloaded(buf, off, r)) {
          this.stats.rxBadHeader++;
          bad++;
          continue;
        }
      }
      if (r > largest) largest = r;
      meta[2 * n] = off;
      meta[2 * n + 1] = r;
      off += r;
      bytes += r;
      n++;
    }
    if (n > 0) this.#waiter.lastRxAt = performance.now();
    this.stats.rxFrames += n;
    this.stats.rxBytes += bytes;
    this.stats.rxLargestFrame = largest;
    return n;
  }

  /**
   * The virtio-net header of the frame just read at `buf[off, off+len)`: complete a partial
   * checksum, count a large segment. False when the header does not fit the frame.
   */
  #offloaded(buf: Uint8Array, off: number, len: number): boolean {
    const h = this.#rxHdr;
    if (h[1] !== VNET_GSO_NONE) this.stats.rxGsoFrames++;
    if ((h[0]! & VNET_F_NEEDS_CSUM) === 0) return true;
    const start = h[6]! | (h[7]! << 8);
    const field = h[8]! | (h[9]! << 8);
    if (!completeChecksum(buf, off, len, start, field, this.#checksum)) return false;
    this.stats.rxChecksumsCompleted++;
    return true;
  }

  send(buf: Uint8Array, off: number, len: number): void {
    if (this.#closed) {
      throw new Deno.errors.BadResource(`Cannot send on TAP device ${this.ifname}: it is closed`);
    }
    if (!(off >= 0 && len >= 0 && off + len <= buf.length && Number.isInteger(off + len))) {
      throw new RangeError(
        `Frame range [${off}, ${off + len}) is outside the ${buf.length}-byte buffer`,
      );
    }
    if (len < MIN_FRAME || len > this.mtu + FRAME_OVERHEAD) {
      throw new RangeError(
        `Frame of ${len} bytes does not fit TAP device ${this.ifname} (14 to ${
          this.mtu + FRAME_OVERHEAD
        } bytes)`,
      );
    }
    if (this.#corked) {
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
    setIovAt(this.#txIov, iovs - 1, this.#txBase + buf.byteOffset + off, len);
    const c = this.#c;
    let r = c.writev(this.#fd, this.#txIov, iovs);
    while (r < 0 && errnoNow(c) === EINTR) r = c.writev(this.#fd, this.#txIov, iovs);
    if (r < 0) {
      const e = errnoNow(c);
      if (e === EBADF || e === EBADFD) {
        throw new Deno.errors.BadResource(
          `Cannot write to TAP device ${this.ifname}: ${errnoName(e)}`,
        );
      }
      this.stats.txErrors++; // EIO (device down), ENOBUFS, EAGAIN: the frame is lost like on a wire
      return;
    }
    this.stats.txFrames++;
    this.stats.txBytes += len;
  }

  wait(timeoutMs: number): Promise<void> {
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
  }
}
