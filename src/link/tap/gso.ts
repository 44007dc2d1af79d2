/**
 * Segmentation offload on send for a TAP device opened with `IFF_VNET_HDR`: consecutive TCP
 * segments of one flow, sent in one pass of the driver, are merged into one frame of up to
 * 64 KiB with a virtio-net header saying `GSO_TCPV4` and `NEEDS_CSUM`. The kernel takes such a
 * frame whole, like a GRO-merged one (`virtio_net_hdr_to_skb`), so its TCP handles one large
 * segment, and we pay one `writev` instead of one per MSS.
 *
 * This is the inverse of TSO: a device cuts a large segment into MSS-sized ones whose headers
 * differ only in sequence number, IP identification, lengths, checksums and the PSH/FIN flags
 * of the last. We merge only what such a cut could have produced (the rules of Linux
 * `tcp_gro_receive`): same Ethernet and IP addresses, TOS, TTL and DF, same ports, ACK number,
 * window and TCP options byte for byte (timestamps included), contiguous sequence numbers,
 * flags ACK (+ PSH on the last), every segment but the last exactly `gso_size` bytes of
 * payload, no IP options, no fragments. Anything else is sent as it is, after what is held.
 *
 * The merged frame keeps the first segment's headers; its IPv4 total length and header
 * checksum are rewritten (RFC 791), and its TCP checksum field holds the folded pseudo-header
 * sum with `csum_start`/`csum_offset` pointing at it, as Linux leaves it for a device
 * (`tcp_v4_send_check`; RFC 9293 section 3.1 pseudo-header).
 *
 * TCP over IPv6 is merged the same way (`GSO_TCPV6`, Linux `tcp_v6_send_check`): a 40-byte
 * IPv6 header with no extension header, same traffic class, flow label, hop limit and
 * addresses; the payload length is rewritten and the pseudo-header is RFC 8200 section 8.1's.
 *
 * @module
 */

import { foldSum, pseudoHeaderSum } from "../../wire/checksum.ts";
import { seqAdd, seqDiff } from "../../wire/seq.ts";
import {
  VNET_F_NEEDS_CSUM,
  VNET_GSO_TCPV4,
  VNET_HDR_LEN,
  type VnetHeader,
  writeVnetHeader,
} from "./vnet.ts";

const ETH = 14;
const IP = 20; // only option-less IPv4 headers are merged
const L4 = ETH + IP; // 34: start of the TCP header
const L4_6 = ETH + 40; // 54: start of the TCP header after an IPv6 header
/** `gso_type`: an IPv6 TCP segment larger than the MSS (VIRTIO_NET_HDR_GSO_TCPV6). */
const VNET_GSO_TCPV6 = 4;
const MAX_FRAME = ETH + 65535;
const F_FIN = 0x01;
const F_SYN = 0x02;
const F_RST = 0x04;
const F_PSH = 0x08;
const F_ACK = 0x10;
/** Flags that end merging: FIN, SYN, RST, URG, ECE, CWR (Linux tcp_gro_receive flushes too). */
const F_STOP = F_FIN | F_SYN | F_RST | 0x20 | 0x40 | 0x80;

/** Merges consecutive TCP segments into one GSO frame; see the module note. */
export class SegmentMerger {
  /** The merged frame so far, `buf[0, length)`. */
  readonly buf: Uint8Array<ArrayBuffer> = new Uint8Array(new ArrayBuffer(MAX_FRAME));
  /** The virtio-net header of the frame `finish()` returned. */
  readonly hdr: Uint8Array<ArrayBuffer> = new Uint8Array(new ArrayBuffer(VNET_HDR_LEN));
  #len = 0;
  #count = 0;
  #hdrLen = 0;
  #gsoSize = 0;
  #nextSeq = 0;
  #psh = false;
  /** Where the held frame's TCP header starts: L4 (IPv4) or L4_6 (IPv6). */
  #l4 = L4;
  /** The last segment held was short or pushed: nothing may follow it. */
  #ended = false;
  #vnet: VnetHeader = {
    flags: VNET_F_NEEDS_CSUM,
    gsoType: VNET_GSO_TCPV4,
    hdrLen: 0,
    gsoSize: 0,
    csumStart: L4,
    csumOffset: 16,
  };

  /** Segments held. */
  get count(): number {
    return this.#count;
  }

  /** Bytes of the frame held so far. */
  get length(): number {
    return this.#len;
  }

  /**
   * Take the frame `f[off, off+len)` when it can extend what is held (or start a new merge
   * when nothing is): copies it and returns true. False when it cannot: the caller sends what
   * is held first, then offers it again or sends it as it is.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SegmentMerger } from "./gso.ts";
   * const m = new SegmentMerger();
   * assert.equal(m.offer(new Uint8Array(42), 0, 42), false); // not a TCP segment with data
   * assert.equal(m.count, 0);
   * ```
   */
  offer(f: Uint8Array, off: number, len: number): boolean {
    const v6 = f[off + 12] === 0x86;
    const l4 = v6 ? L4_6 : L4;
    const hdrLen = v6 ? mergeableHeaderLen6(f, off, len) : mergeableHeaderLen(f, off, len);
    if (hdrLen === 0) return false;
    const payload = len - hdrLen;
    const flags = f[off + l4 + 13]!;
    const seq = readU32(f, off + l4 + 4);
    if (this.#count === 0) {
      // A pushed segment ends a merge before it starts: sent as it is, not copied and held
      // (the one-byte replies of a connection burst are all such).
      if (flags & F_PSH) return false;
      this.buf.set(f.subarray(off, off + len), 0);
      this.#len = len;
      this.#count = 1;
      this.#l4 = l4;
      this.#hdrLen = hdrLen;
      this.#gsoSize = payload;
      this.#nextSeq = seqAdd(seq, payload);
      this.#psh = (flags & F_PSH) !== 0;
      this.#ended = this.#psh;
      return true;
    }
    if (
      this.#ended || hdrLen !== this.#hdrLen || l4 !== this.#l4 || payload > this.#gsoSize ||
      this.#len + payload > MAX_FRAME || seqDiff(seq, this.#nextSeq) !== 0 ||
      !this.#sameFlow(f, off)
    ) {
      return false;
    }
    this.buf.set(f.subarray(off + hdrLen, off + len), this.#len);
    this.#len += payload;
    this.#count++;
    this.#nextSeq = seqAdd(seq, payload);
    this.#psh = (flags & F_PSH) !== 0;
    this.#ended = this.#psh || payload < this.#gsoSize;
    return true;
  }

  /**
   * Complete the held frame and return its length: with one segment, the frame as it came
   * and an all-zero header; with more, the merged frame (IPv4 total length and header
   * checksum rewritten, PSH of the last segment, partial TCP checksum) and a GSO header.
   * Call `reset()` once it is written.
   */
  finish(): number {
    const b = this.buf;
    const h = this.hdr;
    if (this.#count < 2) {
      h.fill(0);
      return this.#len;
    }
    if (this.#l4 === L4_6) return this.#finish6();
    const ipLen = this.#len - ETH;
    b[ETH + 2] = ipLen >>> 8;
    b[ETH + 3] = ipLen & 0xff;
    b[ETH + 10] = 0;
    b[ETH + 11] = 0;
    let s = 0;
    for (let i = ETH; i < L4; i += 2) s += (b[i]! << 8) | b[i + 1]!;
    const ipSum = ~foldSum(s) & 0xffff;
    b[ETH + 10] = ipSum >>> 8;
    b[ETH + 11] = ipSum & 0xff;
    if (this.#psh) b[L4 + 13] = b[L4 + 13]! | F_PSH;
    const partial = foldSum(
      pseudoHeaderSum(readU32(b, ETH + 12), readU32(b, ETH + 16), 6, ipLen - IP),
    );
    b[L4 + 16] = partial >>> 8;
    b[L4 + 17] = partial & 0xff;
    const v = this.#vnet;
    v.hdrLen = this.#hdrLen;
    v.gsoSize = this.#gsoSize;
    writeVnetHeader(h, v);
    return this.#len;
  }

  /** finish() of an IPv6 frame: payload length, PSH, partial checksum (RFC 8200 8.1), header. */
  #finish6(): number {
    const b = this.buf;
    const tcpLen = this.#len - L4_6;
    b[ETH + 4] = tcpLen >>> 8;
    b[ETH + 5] = tcpLen & 0xff;
    if (this.#psh) b[L4_6 + 13] = b[L4_6 + 13]! | F_PSH;
    let s = 6 + tcpLen;
    for (let i = ETH + 8; i < L4_6; i += 2) s += (b[i]! << 8) | b[i + 1]!;
    const partial = foldSum(s);
    b[L4_6 + 16] = partial >>> 8;
    b[L4_6 + 17] = partial & 0xff;
    writeVnetHeader(this.hdr, {
      flags: VNET_F_NEEDS_CSUM,
      gsoType: VNET_GSO_TCPV6,
      hdrLen: this.#hdrLen,
      gsoSize: this.#gsoSize,
      csumStart: L4_6,
      csumOffset: 16,
    });
    return this.#len;
  }

  /** Forget what is held. */
  reset(): void {
    this.#len = 0;
    this.#count = 0;
  }

  /** Same flow and same header fields as the held frame, except what a TSO cut changes. */
  #sameFlow(f: Uint8Array, off: number): boolean {
    const b = this.buf;
    // Ethernet addresses and type.
    for (let i = 0; i < ETH; i++) if (f[off + i] !== b[i]) return false;
    if (this.#l4 === L4_6) {
      // IPv6: version, traffic class, flow label; next header, hop limit, addresses (not the
      // payload length).
      for (let i = ETH; i < ETH + 4; i++) if (f[off + i] !== b[i]) return false;
      for (let i = ETH + 6; i < L4_6; i++) if (f[off + i] !== b[i]) return false;
      return this.#sameTcp(f, off, L4_6);
    }
    // IPv4: TOS, DF, TTL, protocol, addresses (length, identification, checksum may differ).
    if (f[off + ETH + 1] !== b[ETH + 1] || f[off + ETH + 6] !== b[ETH + 6]) return false;
    if (f[off + ETH + 8] !== b[ETH + 8]) return false;
    for (let i = ETH + 12; i < L4; i++) if (f[off + i] !== b[i]) return false;
    return this.#sameTcp(f, off, L4);
  }

  /** TCP: ports; ACK number, data offset, flags but PSH, window; options byte for byte. */
  #sameTcp(f: Uint8Array, off: number, l4: number): boolean {
    const b = this.buf;
    for (let i = l4; i < l4 + 4; i++) if (f[off + i] !== b[i]) return false;
    for (let i = l4 + 8; i < l4 + 16; i++) {
      if (i === l4 + 13) {
        if ((f[off + i]! & ~F_PSH) !== (b[i]! & ~F_PSH)) return false;
      } else if (f[off + i] !== b[i]) return false;
    }
    for (let i = l4 + 20; i < this.#hdrLen; i++) if (f[off + i] !== b[i]) return false;
    return true;
  }
}

/**
 * The header length (Ethernet + IPv4 + TCP) of a frame that may be merged: untagged IPv4
 * without options or fragmentation, TCP with ACK and no FIN/SYN/RST/URG/ECE/CWR, at least one
 * byte of payload, no Ethernet padding. 0 for any other frame.
 */
function mergeableHeaderLen(f: Uint8Array, off: number, len: number, fin = false): number {
  if (len < L4 + 21) return 0;
  if (f[off + 12] !== 0x08 || f[off + 13] !== 0x00 || f[off + ETH] !== 0x45) return 0;
  if (f[off + ETH + 9] !== 6) return 0;
  if ((((f[off + ETH + 6]! << 8) | f[off + ETH + 7]!) & 0x3fff) !== 0) return 0;
  if (((f[off + ETH + 2]! << 8) | f[off + ETH + 3]!) !== len - ETH) return 0;
  const flags = f[off + L4 + 13]!;
  if ((flags & F_ACK) === 0 || (flags & (fin ? F_STOP & ~F_FIN : F_STOP)) !== 0) return 0;
  const hdrLen = L4 + ((f[off + L4 + 12]! >>> 4) << 2);
  if (hdrLen < L4 + 20 || hdrLen >= len) return 0;
  return hdrLen;
}

/**
 * mergeableHeaderLen for TCP over IPv6: untagged, a 40-byte header whose Next Header is TCP
 * (no extension header), payload length matching the frame; the same TCP rules.
 */
function mergeableHeaderLen6(f: Uint8Array, off: number, len: number): number {
  if (len < L4_6 + 21) return 0;
  if (f[off + 12] !== 0x86 || f[off + 13] !== 0xdd || f[off + ETH]! >>> 4 !== 6) return 0;
  if (f[off + ETH + 6] !== 6) return 0;
  if (((f[off + ETH + 4]! << 8) | f[off + ETH + 5]!) !== len - L4_6) return 0;
  const flags = f[off + L4_6 + 13]!;
  if ((flags & F_ACK) === 0 || (flags & F_STOP) !== 0) return 0;
  const hdrLen = L4_6 + ((f[off + L4_6 + 12]! >>> 4) << 2);
  if (hdrLen < L4_6 + 20 || hdrLen >= len) return 0;
  return hdrLen;
}

function readU32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

/**
 * Prepare a large TCP segment that TCP built itself (TSO, src/tcp/tso.ts) for a device that
 * cuts it: write into `hdr` the virtio-net header (`GSO_TCPV4`, `NEEDS_CSUM`, `gso_size` the
 * payload that fits `mtu` with these headers: what TCP sized each MSS to) and leave in the TCP
 * checksum field the folded pseudo-header sum, as `finish()` does for a merged frame (RFC 9293
 * section 3.1; Linux `tcp_v4_send_check`). Returns false, touching nothing, when the frame is
 * not an option-less IPv4 TCP segment with data that such a header can describe.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tsoFrame } from "./gso.ts";
 * assert.equal(tsoFrame(new Uint8Array(3000), 0, 3000, 1500, new Uint8Array(10)), false);
 * ```
 */
export function tsoFrame(
  f: Uint8Array,
  off: number,
  len: number,
  mtu: number,
  hdr: Uint8Array,
): boolean {
  if (f[off + 12] === 0x86) return tsoFrame6(f, off, len, mtu, hdr);
  if (len > MAX_FRAME || len < L4 + 21) return false;
  // The merge rules' header checks, but FIN and PSH may end a TSO segment (the device sets
  // them on the last cut only, as Linux tcp_gso_segment).
  const flags = f[off + L4 + 13]!;
  if ((flags & F_ACK) === 0 || (flags & (F_STOP & ~F_FIN)) !== 0) return false;
  const hdrLen = mergeableHeaderLen(f, off, len, true);
  if (hdrLen === 0) return false;
  const gsoSize = mtu - (hdrLen - ETH);
  if (gsoSize <= 0) return false;
  const ipLen = len - ETH;
  const partial = foldSum(
    pseudoHeaderSum(readU32(f, off + ETH + 12), readU32(f, off + ETH + 16), 6, ipLen - IP),
  );
  f[off + L4 + 16] = partial >>> 8;
  f[off + L4 + 17] = partial & 0xff;
  writeVnetHeader(hdr, {
    flags: VNET_F_NEEDS_CSUM,
    gsoType: VNET_GSO_TCPV4,
    hdrLen,
    gsoSize,
    csumStart: L4,
    csumOffset: 16,
  });
  return true;
}

/**
 * tsoFrame for TCP over IPv6 (`GSO_TCPV6`; Linux `tcp_v6_send_check`): a 40-byte IPv6 header
 * with no extension header; the partial checksum over the RFC 8200 section 8.1 pseudo-header.
 */
function tsoFrame6(f: Uint8Array, off: number, len: number, mtu: number, hdr: Uint8Array): boolean {
  if (len > MAX_FRAME || len < L4_6 + 21) return false;
  if (f[off + 13] !== 0xdd || f[off + ETH]! >>> 4 !== 6 || f[off + ETH + 6] !== 6) return false;
  if (((f[off + ETH + 4]! << 8) | f[off + ETH + 5]!) !== len - L4_6) return false;
  const flags = f[off + L4_6 + 13]!;
  if ((flags & F_ACK) === 0 || (flags & (F_STOP & ~F_FIN)) !== 0) return false;
  const hdrLen = L4_6 + ((f[off + L4_6 + 12]! >>> 4) << 2);
  if (hdrLen < L4_6 + 20 || hdrLen >= len) return false;
  const gsoSize = mtu - (hdrLen - ETH);
  if (gsoSize <= 0) return false;
  let s = 6 + (len - L4_6);
  for (let i = off + ETH + 8; i < off + L4_6; i += 2) s += (f[i]! << 8) | f[i + 1]!;
  const partial = foldSum(s);
  f[off + L4_6 + 16] = partial >>> 8;
  f[off + L4_6 + 17] = partial & 0xff;
  writeVnetHeader(hdr, {
    flags: VNET_F_NEEDS_CSUM,
    gsoType: VNET_GSO_TCPV6,
    hdrLen,
    gsoSize,
    csumStart: L4_6,
    csumOffset: 16,
  });
  return true;
}

/**
 * Prepare one TCP segment with data to be written as it is (not merged, not cut) with its
 * checksum left to the kernel: `hdr` gets `NEEDS_CSUM` and `GSO_NONE`, the TCP checksum field
 * the folded pseudo-header sum (as tsoFrame). The kernel then copies the frame once and takes
 * it as verified (a `CHECKSUM_PARTIAL` skb) instead of summing 64 KiB again. False, touching
 * nothing, for any frame tsoFrame refuses.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { partialChecksumFrame } from "./gso.ts";
 * assert.equal(partialChecksumFrame(new Uint8Array(3000), 0, 3000, new Uint8Array(10)), false);
 * ```
 */
export function partialChecksumFrame(
  f: Uint8Array,
  off: number,
  len: number,
  hdr: Uint8Array,
): boolean {
  if (!tsoFrame(f, off, len, len, hdr)) return false;
  hdr[1] = 0; // VIRTIO_NET_HDR_GSO_NONE: one frame, nothing to cut
  hdr[4] = hdr[5] = 0; // gso_size
  return true;
}
