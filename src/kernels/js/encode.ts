/**
 * Whole-frame encode in plain TypeScript: the headers described by the transmit descriptor
 * (layout.ts indices, as written by `TcpSegment.toDesc` and the interface layer) are written
 * backwards in front of a payload already in packet memory, checksums filled in.
 *
 * Kinds: `K_ARP` (payload normally empty), `K_ICMP` (8-byte header: type, code, checksum,
 * D_ICMP_REST), `K_UDP`, `K_TCP`, and `K_IPV4_FRAGMENT` or `K_IPV4_OTHER` for a raw IPv4
 * payload carried with D_IP_PROTO (the payload is not checksummed). The IPv4 header is always
 * 20 bytes; D_VLAN >= 0 adds an 802.1Q tag. The IPv6 kinds (`K_ICMP6` ... `K_IPV6_OTHER`) are
 * built by encode6.ts. The WASM twin (asm/wire/encode.ts) writes the same bytes.
 *
 * TCP options follow Linux's layout (tcp_options_write in net/ipv4/tcp_output.c):
 * - SYN: MSS; then SACK-permitted + timestamps, or NOP NOP timestamps, or NOP NOP
 *   SACK-permitted; then NOP window scale. SACK blocks are never sent on a SYN.
 * - otherwise: NOP NOP timestamps, then NOP NOP SACK with as many blocks as fit in the
 *   40 bytes (3 with timestamps, 4 without, RFC 2018 section 3). MSS, window scale and
 *   SACK-permitted are sent only on a SYN (RFC 7323 section 2.2, RFC 2018 section 2).
 *
 * @module
 */

import {
  D_ARP_OP,
  D_ARP_SHA_HI,
  D_ARP_SHA_LO,
  D_ARP_SPA,
  D_ARP_THA_HI,
  D_ARP_THA_LO,
  D_ARP_TPA,
  D_DST_PORT,
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_ICMP_CODE,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_IP_DST,
  D_IP_FRAG,
  D_IP_ID,
  D_IP_PROTO,
  D_IP_SRC,
  D_IP_TOS,
  D_IP_TTL,
  D_KIND,
  D_OPT_MSS,
  D_OPT_SACK,
  D_OPT_SACK_N,
  D_OPT_SACK_OK,
  D_OPT_TS,
  D_OPT_TSECR,
  D_OPT_TSVAL,
  D_OPT_WS,
  D_SRC_PORT,
  D_TCP_ACK,
  D_TCP_FLAGS,
  D_TCP_SEQ,
  D_TCP_URG,
  D_TCP_WND,
  D_VLAN,
  ENC_BAD_KIND,
  ENC_BAD_OPTIONS,
  ENC_NO_HEADROOM,
  ENC_TOO_LONG,
  F_SYN,
  K_ARP,
  K_ICMP,
  K_ICMP6,
  K_IPV4_FRAGMENT,
  K_IPV4_OTHER,
  K_IPV6_OTHER,
  K_TCP,
  K_UDP,
} from "../../wire/layout.ts";
import { checkWireSpan, jsChecksum } from "./checksum.ts";
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP } from "../../wire/checksum.ts";
import { encode6 } from "./encode6.ts";

/** Write a big-endian 16-bit value. */
export function put16(m: Uint8Array, i: number, v: number): void {
  m[i] = v >>> 8;
  m[i + 1] = v;
}

/** Write a big-endian 32-bit value. */
export function put32(m: Uint8Array, i: number, v: number): void {
  m[i] = v >>> 24;
  m[i + 1] = v >>> 16;
  m[i + 2] = v >>> 8;
  m[i + 3] = v;
}

/**
 * Length in bytes of the TCP options `desc` asks for (a multiple of 4, at most 40), or -1
 * when the option values are out of range (MSS > 65535, shift > 255, more than 4 blocks).
 */
export function tcpOptionsLength(d: Int32Array): number {
  const mss = d[D_OPT_MSS]!;
  const ws = d[D_OPT_WS]!;
  const n = d[D_OPT_SACK_N]!;
  if (mss > 0xffff || ws > 0xff || n < 0 || n > 4) return -1;
  const ts = d[D_OPT_TS] !== 0;
  if ((d[D_TCP_FLAGS]! & F_SYN) !== 0) {
    return (mss >= 0 ? 4 : 0) + (ts ? 12 : d[D_OPT_SACK_OK] !== 0 ? 4 : 0) + (ws >= 0 ? 4 : 0);
  }
  const blocks = ts && n > 3 ? 3 : n;
  return (ts ? 12 : 0) + (blocks > 0 ? 4 + 8 * blocks : 0);
}

/** Write the options of `desc` at `m[i, ...)`; the layout is the module note's. */
function writeOptions(m: Uint8Array, i: number, d: Int32Array): void {
  const ts = d[D_OPT_TS] !== 0;
  if ((d[D_TCP_FLAGS]! & F_SYN) !== 0) {
    const mss = d[D_OPT_MSS]!;
    const ws = d[D_OPT_WS]!;
    const sackOk = d[D_OPT_SACK_OK] !== 0;
    if (mss >= 0) {
      put32(m, i, 0x02040000 | mss);
      i += 4;
    }
    if (ts) {
      put32(m, i, sackOk ? 0x0402080a : 0x0101080a);
      put32(m, i + 4, d[D_OPT_TSVAL]!);
      put32(m, i + 8, d[D_OPT_TSECR]!);
      i += 12;
    } else if (sackOk) {
      put32(m, i, 0x01010402);
      i += 4;
    }
    if (ws >= 0) put32(m, i, 0x01030300 | ws);
    return;
  }
  if (ts) {
    put32(m, i, 0x0101080a);
    put32(m, i + 4, d[D_OPT_TSVAL]!);
    put32(m, i + 8, d[D_OPT_TSECR]!);
    i += 12;
  }
  const n = d[D_OPT_SACK_N]!;
  const blocks = ts && n > 3 ? 3 : n;
  if (blocks > 0) {
    put32(m, i, 0x01010502 | (8 * blocks));
    i += 4;
    for (let k = 0; k < 2 * blocks; k++) put32(m, i + 4 * k, d[D_OPT_SACK + k]!);
  }
}

/**
 * Build the headers described by `desc` in front of `mem[payloadOff, payloadOff+payloadLen)`
 * with every checksum filled in. Returns the offset of the frame's first byte (the frame
 * ends at payloadOff + payloadLen), or `-ENC_BAD_KIND`, `-ENC_BAD_OPTIONS`, `-ENC_TOO_LONG`
 * or `-ENC_NO_HEADROOM`. `desc` is only read.
 *
 * @example
 * ```ts
 * import { jsEncode } from "./encode.ts";
 * import { D_IP_TTL, D_KIND, D_VLAN, K_UDP } from "../../wire/layout.ts";
 * const mem = new Uint8Array(128);
 * const desc = new Int32Array(64);
 * desc[D_KIND] = K_UDP;
 * desc[D_VLAN] = -1;
 * desc[D_IP_TTL] = 64;
 * console.assert(jsEncode(mem, desc, 100, 0) === 100 - 8 - 20 - 14);
 * ```
 */
export function jsEncode(
  mem: Uint8Array,
  desc: Int32Array,
  payloadOff: number,
  payloadLen: number,
): number {
  const d = desc;
  checkWireSpan(mem, payloadOff, payloadLen);
  const kind = d[D_KIND]!;
  const eth = d[D_VLAN]! >= 0 ? 18 : 14;
  let l4h: number; // bytes in front of the payload after the IPv4 header (or the ARP body)
  if (kind === K_TCP) {
    const opt = tcpOptionsLength(d);
    if (opt < 0) return -ENC_BAD_OPTIONS;
    l4h = 20 + opt;
  } else if (kind === K_UDP || kind === K_ICMP) {
    l4h = 8;
  } else if (kind === K_IPV4_FRAGMENT || kind === K_IPV4_OTHER) {
    l4h = 0;
  } else if (kind === K_ARP) {
    const start = payloadOff - 28 - eth;
    if (start < 0) return -ENC_NO_HEADROOM;
    arp(mem, payloadOff - 28, d);
    ethernet(mem, start, d, 0x0806);
    return start;
  } else if (kind >= K_ICMP6 && kind <= K_IPV6_OTHER) {
    return encode6(mem, d, payloadOff, payloadLen, eth);
  } else {
    return -ENC_BAD_KIND;
  }
  const total = 20 + l4h + payloadLen;
  if (total > 0xffff) return -ENC_TOO_LONG;
  const start = payloadOff - l4h - 20 - eth;
  if (start < 0) return -ENC_NO_HEADROOM;
  const l4 = payloadOff - l4h;
  const l4len = l4h + payloadLen;
  const src = d[D_IP_SRC]!;
  const dst = d[D_IP_DST]!;
  let proto: number;
  const addrs = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
  if (kind === K_TCP) {
    proto = PROTO_TCP;
    tcpHeader(mem, l4, l4h, l4len, addrs, d);
  } else if (kind === K_UDP) {
    proto = PROTO_UDP;
    udpHeader(mem, l4, l4len, addrs, d);
  } else if (kind === K_ICMP) {
    proto = PROTO_ICMP;
    mem[l4] = d[D_ICMP_TYPE]!;
    mem[l4 + 1] = d[D_ICMP_CODE]!;
    put16(mem, l4 + 2, 0);
    put32(mem, l4 + 4, d[D_ICMP_REST]!);
    put16(mem, l4 + 2, jsChecksum(mem, l4, l4len, 0));
  } else {
    proto = d[D_IP_PROTO]!;
  }
  // IPv4 header (RFC 791 section 3.1): version 4, IHL 5, no options.
  const ip = start + eth;
  mem[ip] = 0x45;
  mem[ip + 1] = d[D_IP_TOS]!;
  put16(mem, ip + 2, total);
  put16(mem, ip + 4, d[D_IP_ID]!);
  put16(mem, ip + 6, d[D_IP_FRAG]!);
  mem[ip + 8] = d[D_IP_TTL]!;
  mem[ip + 9] = proto;
  put16(mem, ip + 10, 0);
  put32(mem, ip + 12, src);
  put32(mem, ip + 16, dst);
  put16(mem, ip + 10, jsChecksum(mem, ip, 20, 0));
  ethernet(mem, start, d, 0x0800);
  return start;
}

/**
 * The TCP header with `desc`'s fields and options at `m[l4, l4 + l4h)` and its checksum over
 * `l4len` bytes; `addrSum` is the pseudo-header's address sum (either family).
 */
export function tcpHeader(
  m: Uint8Array,
  l4: number,
  l4h: number,
  l4len: number,
  addrSum: number,
  d: Int32Array,
): void {
  put16(m, l4, d[D_SRC_PORT]!);
  put16(m, l4 + 2, d[D_DST_PORT]!);
  put32(m, l4 + 4, d[D_TCP_SEQ]!);
  put32(m, l4 + 8, d[D_TCP_ACK]!);
  m[l4 + 12] = l4h << 2; // data offset in 32-bit words, high nibble
  m[l4 + 13] = d[D_TCP_FLAGS]!;
  put16(m, l4 + 14, d[D_TCP_WND]!);
  put16(m, l4 + 16, 0);
  put16(m, l4 + 18, d[D_TCP_URG]!);
  if (l4h > 20) writeOptions(m, l4 + 20, d);
  put16(m, l4 + 16, jsChecksum(m, l4, l4len, addrSum + PROTO_TCP + l4len));
}

/** The UDP header at `m[l4, l4 + 8)` and its checksum over `l4len` bytes. */
export function udpHeader(
  m: Uint8Array,
  l4: number,
  l4len: number,
  addrSum: number,
  d: Int32Array,
): void {
  put16(m, l4, d[D_SRC_PORT]!);
  put16(m, l4 + 2, d[D_DST_PORT]!);
  put16(m, l4 + 4, l4len);
  put16(m, l4 + 6, 0);
  // RFC 768, RFC 8200 section 8.1: a computed zero is sent as all ones (zero means "none").
  put16(m, l4 + 6, jsChecksum(m, l4, l4len, addrSum + PROTO_UDP + l4len) || 0xffff);
}

/** Ethernet II header (with the 802.1Q tag when D_VLAN >= 0) at `m[i, ...)`. */
export function ethernet(m: Uint8Array, i: number, d: Int32Array, type: number): void {
  put16(m, i, d[D_ETH_DST_HI]!);
  put32(m, i + 2, d[D_ETH_DST_LO]!);
  put16(m, i + 6, d[D_ETH_SRC_HI]!);
  put32(m, i + 8, d[D_ETH_SRC_LO]!);
  const vlan = d[D_VLAN]!;
  if (vlan >= 0) {
    put16(m, i + 12, 0x8100);
    put16(m, i + 14, vlan);
    put16(m, i + 16, type);
  } else {
    put16(m, i + 12, type);
  }
}

/** ARP body for Ethernet and IPv4 (RFC 826) at `m[i, i+28)`. */
function arp(m: Uint8Array, i: number, d: Int32Array): void {
  put32(m, i, 0x00010800); // htype 1 (Ethernet), ptype 0x0800 (IPv4)
  put16(m, i + 4, 0x0604); // hlen 6, plen 4
  put16(m, i + 6, d[D_ARP_OP]!);
  put16(m, i + 8, d[D_ARP_SHA_HI]!);
  put32(m, i + 10, d[D_ARP_SHA_LO]!);
  put32(m, i + 14, d[D_ARP_SPA]!);
  put16(m, i + 18, d[D_ARP_THA_HI]!);
  put32(m, i + 20, d[D_ARP_THA_LO]!);
  put32(m, i + 24, d[D_ARP_TPA]!);
}
