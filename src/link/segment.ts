/**
 * Software segmentation (what a NIC does for TSO, and Linux `skb_gso_segment` in software): a
 * large IPv4 or IPv6 TCP frame, as a TAP or TUN link with offload hands in, cut into frames
 * that fit the MTU. Decorators that must see wire-sized frames (the fault injector drops, delays and
 * corrupts per wire frame) use it to adapt the large-frames capability (link.ts).
 *
 * Each cut keeps the Ethernet, IPv4 and TCP headers of the large frame with what a cut
 * changes (RFC 9293 section 3.7.1 segmentation, as `tcp_gso_segment` does): sequence number
 * advanced by the payload before it; IPv4 total length, identification + i, header checksum
 * (RFC 791), or the IPv6 payload length (RFC 8200 section 3; only a TCP header right after
 * the fixed header, as the kernel's TSO frames have); FIN and PSH only on the last cut, CWR
 * only on the first (RFC 3168 section 6.1.2); a full TCP checksum over the pseudo-header
 * (RFC 9293 section 3.1, RFC 8200 section 8.1 for IPv6).
 *
 * @module
 */

import { jsChecksum } from "../kernels/js/checksum.ts";
import { pseudoHeaderSum } from "../wire/checksum.ts";

const ETH = 14;
const F_FIN = 0x01;
const F_PSH = 0x08;
const F_CWR = 0x80;

/**
 * Cut the frame `src[off, off+len)` into frames of at most `mtu + 14` bytes, each written to
 * `out` (at least `mtu + 14` bytes, reused) and passed to `emit(out, length)` before the next
 * is built. Returns the number of frames emitted, or 0 when the frame is not an untagged IPv4
 * TCP frame without fragmentation or IPv6 TCP frame without extension headers whose headers
 * leave room for payload in `mtu` (the caller counts it and drops it).
 *
 * @example Cut a 3000-byte segment for an MTU of 1500
 * ```ts
 * import assert from "node:assert/strict";
 * import { segmentFrame } from "./segment.ts";
 * const f = new Uint8Array(14 + 20 + 20 + 3000);
 * f[12] = 0x08; f[14] = 0x45; f[16] = (3040 >> 8); f[17] = 3040 & 0xff; f[23] = 6;
 * f[46] = 0x50; f[47] = 0x18; // data offset 5, ACK + PSH
 * const sizes: number[] = [];
 * const n = segmentFrame(f, 0, f.length, 1500, new Uint8Array(1514), (b, len) => {
 *   sizes.push(len);
 * });
 * assert.equal(n, 3);
 * assert.deepEqual(sizes, [1514, 1514, 134]);
 * ```
 */
export function segmentFrame(
  src: Uint8Array,
  off: number,
  len: number,
  mtu: number,
  out: Uint8Array,
  emit: (frame: Uint8Array, len: number) => void,
): number {
  if (len >= ETH + 60 && src[off + 12] === 0x86 && src[off + 13] === 0xdd) {
    return segment6(src, off, len, mtu, out, emit);
  }
  if (len < ETH + 40 || src[off + 12] !== 0x08 || src[off + 13] !== 0x00) return 0;
  const ip = off + ETH;
  if (src[ip]! >>> 4 !== 4 || src[ip + 9] !== 6) return 0;
  const ihl = (src[ip]! & 0x0f) << 2;
  const total = (src[ip + 2]! << 8) | src[ip + 3]!;
  if (ihl < 20 || total > len - ETH || ((src[ip + 6]! << 8 | src[ip + 7]!) & 0x3fff) !== 0) {
    return 0;
  }
  const tcp = ip + ihl;
  if (tcp + 20 > off + len) return 0;
  const doff = (src[tcp + 12]! >>> 4) << 2;
  const hdr = ETH + ihl + doff; // header bytes of every cut
  const payload = total - ihl - doff;
  const mss = mtu - ihl - doff;
  if (doff < 20 || payload < 0 || mss < 1 || out.length < mtu + ETH) return 0;
  const flags = src[tcp + 13]!;
  const seq = readU32(src, tcp + 4);
  const id = (src[ip + 4]! << 8) | src[ip + 5]!;
  const saddr = readU32(src, ip + 12);
  const daddr = readU32(src, ip + 16);
  const count = Math.max(1, Math.ceil(payload / mss));
  for (let i = 0; i < count; i++) {
    const from = i * mss;
    const size = Math.min(mss, payload - from);
    out.set(src.subarray(off, off + hdr), 0);
    out.set(src.subarray(off + hdr + from, off + hdr + from + size), hdr);
    const ipLen = ihl + doff + size;
    out[ETH + 2] = ipLen >>> 8;
    out[ETH + 3] = ipLen & 0xff;
    const cutId = (id + i) & 0xffff;
    out[ETH + 4] = cutId >>> 8;
    out[ETH + 5] = cutId & 0xff;
    out[ETH + 10] = 0;
    out[ETH + 11] = 0;
    const ipSum = jsChecksum(out, ETH, ihl, 0);
    out[ETH + 10] = ipSum >>> 8;
    out[ETH + 11] = ipSum & 0xff;
    const t = ETH + ihl;
    writeU32(out, t + 4, (seq + from) >>> 0);
    let f = flags;
    if (i < count - 1) f &= ~(F_FIN | F_PSH);
    if (i > 0) f &= ~F_CWR;
    out[t + 13] = f;
    out[t + 16] = 0;
    out[t + 17] = 0;
    const sum = jsChecksum(out, t, doff + size, pseudoHeaderSum(saddr, daddr, 6, doff + size));
    out[t + 16] = sum >>> 8;
    out[t + 17] = sum & 0xff;
    emit(out, hdr + size);
  }
  return count;
}

/** segmentFrame for IPv6: TCP right after the 40-byte fixed header (next header 6). */
function segment6(
  src: Uint8Array,
  off: number,
  len: number,
  mtu: number,
  out: Uint8Array,
  emit: (frame: Uint8Array, len: number) => void,
): number {
  const ip = off + ETH;
  if (src[ip]! >>> 4 !== 6 || src[ip + 6] !== 6) return 0;
  const plen = (src[ip + 4]! << 8) | src[ip + 5]!;
  const tcp = ip + 40;
  if (plen < 20 || plen > len - ETH - 40) return 0;
  const doff = (src[tcp + 12]! >>> 4) << 2;
  const hdr = ETH + 40 + doff;
  const payload = plen - doff;
  const mss = mtu - 40 - doff;
  if (doff < 20 || payload < 0 || mss < 1 || out.length < mtu + ETH) return 0;
  const flags = src[tcp + 13]!;
  const seq = readU32(src, tcp + 4);
  // The pseudo-header's addresses (RFC 8200 section 8.1); length and next header per cut.
  let addrSum = 0;
  for (let i = ip + 8; i < ip + 40; i += 2) addrSum += (src[i]! << 8) | src[i + 1]!;
  const count = Math.max(1, Math.ceil(payload / mss));
  for (let i = 0; i < count; i++) {
    const from = i * mss;
    const size = Math.min(mss, payload - from);
    out.set(src.subarray(off, off + hdr), 0);
    out.set(src.subarray(off + hdr + from, off + hdr + from + size), hdr);
    const cutLen = doff + size;
    out[ETH + 4] = cutLen >>> 8;
    out[ETH + 5] = cutLen & 0xff;
    const t = ETH + 40;
    writeU32(out, t + 4, (seq + from) >>> 0);
    let f = flags;
    if (i < count - 1) f &= ~(F_FIN | F_PSH);
    if (i > 0) f &= ~F_CWR;
    out[t + 13] = f;
    out[t + 16] = 0;
    out[t + 17] = 0;
    const sum = jsChecksum(out, t, cutLen, addrSum + cutLen + 6);
    out[t + 16] = sum >>> 8;
    out[t + 17] = sum & 0xff;
    emit(out, hdr + size);
  }
  return count;
}

function readU32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

function writeU32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = (v >>> 16) & 0xff;
  b[i + 2] = (v >>> 8) & 0xff;
  b[i + 3] = v & 0xff;
}
