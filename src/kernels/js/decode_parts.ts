/**
 * Parts of the JS engine's decode shared by IPv4 (decode.ts) and IPv6 (decode6.ts): byte
 * readers, the descriptor reset, and the UDP and TCP parsers, which take the pseudo-header's
 * address sum so that both families use them. The WASM twin is asm/wire/decode_parts.ts.
 *
 * @module
 */

import {
  D_DST_PORT,
  D_FRAME_LEN,
  D_FRAME_OFF,
  D_KIND,
  D_OPT_MSS,
  D_OPT_SACK,
  D_OPT_SACK_N,
  D_OPT_SACK_OK,
  D_OPT_TS,
  D_OPT_TSECR,
  D_OPT_TSVAL,
  D_OPT_WS,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  D_SRC_PORT,
  D_TCP_ACK,
  D_TCP_FLAGS,
  D_TCP_HLEN,
  D_TCP_SEQ,
  D_TCP_URG,
  D_TCP_WND,
  D_UDP_LEN,
  D_VERDICT,
  D_VLAN,
  DROP_TCP_BAD_CHECKSUM,
  DROP_TCP_BAD_HLEN,
  DROP_TCP_TRUNCATED,
  DROP_UDP6_ZERO_CHECKSUM,
  DROP_UDP_BAD_CHECKSUM,
  DROP_UDP_BAD_LENGTH,
  DROP_UDP_TRUNCATED,
  K_UDP6,
} from "../../wire/layout.ts";
import { jsChecksum } from "./checksum.ts";
import { PROTO_TCP, PROTO_UDP } from "../../wire/checksum.ts";

/** The largest frame decode accepts: a 65535-byte IPv4 datagram behind a tagged header. */
export const MAX_FRAME: number = 65535 + 18;

/**
 * `DECODE_L4_VALID` (engine.ts) for the frame being decoded: the link vouched for its TCP or
 * UDP checksum, which `tcp` and `udp` then do not sum again. Set by each decode entry point.
 */
let l4Valid = false;

/** Set for the next decode whether its TCP/UDP checksum is vouched for (`DECODE_L4_VALID`). */
export function setL4Valid(valid: boolean): void {
  l4Valid = valid;
}

/** A big-endian 16-bit value. */
export function u16(m: Uint8Array, i: number): number {
  return (m[i]! << 8) | m[i + 1]!;
}

/** A big-endian 32-bit value as its int32 bit pattern. */
export function i32(m: Uint8Array, i: number): number {
  return (m[i]! << 24) | (m[i + 1]! << 16) | (m[i + 2]! << 8) | m[i + 3]!;
}

/** Record a drop reason as the verdict and return it. */
export function drop(d: Int32Array, reason: number): number {
  d[D_VERDICT] = reason;
  return reason;
}

/** Zero the descriptor, mark the optional fields absent and record the frame bounds. */
export function reset(d: Int32Array, off: number, len: number): void {
  d.fill(0);
  d[D_OPT_MSS] = -1;
  d[D_OPT_WS] = -1;
  d[D_VLAN] = -1;
  d[D_FRAME_OFF] = off;
  d[D_FRAME_LEN] = len;
}

/**
 * UDP (RFC 768) over IPv4 (`kind` K_UDP) or IPv6 (K_UDP6): the length field bounds the
 * datagram. `addrSum` is the unfolded sum of the pseudo-header's addresses; the protocol and
 * length are added here (the IPv4 and IPv6 pseudo-headers sum alike, RFC 8200 section 8.1).
 * Checksum 0 means none sent over IPv4 and is a drop over IPv6 (RFC 8200 section 8.1).
 */
export function udp(
  m: Uint8Array,
  p: number,
  n: number,
  addrSum: number,
  kind: number,
  d: Int32Array,
): number {
  d[D_KIND] = kind;
  if (n < 8) return drop(d, DROP_UDP_TRUNCATED);
  const ulen = u16(m, p + 4);
  if (ulen < 8 || ulen > n) return drop(d, DROP_UDP_BAD_LENGTH);
  if (u16(m, p + 6) === 0) {
    if (kind === K_UDP6) return drop(d, DROP_UDP6_ZERO_CHECKSUM);
  } else if (!l4Valid && jsChecksum(m, p, ulen, addrSum + PROTO_UDP + ulen) !== 0) {
    return drop(d, DROP_UDP_BAD_CHECKSUM);
  }
  d[D_SRC_PORT] = u16(m, p);
  d[D_DST_PORT] = u16(m, p + 2);
  d[D_UDP_LEN] = ulen;
  d[D_PAYLOAD_OFF] = p + 8;
  d[D_PAYLOAD_LEN] = ulen - 8;
  return 0;
}

/**
 * TCP (RFC 9293 section 3.1) over IPv4 (`kind` K_TCP) or IPv6 (K_TCP6): header,
 * pseudo-header checksum (`addrSum` as for `udp`), then the options.
 */
export function tcp(
  m: Uint8Array,
  p: number,
  n: number,
  addrSum: number,
  kind: number,
  d: Int32Array,
): number {
  d[D_KIND] = kind;
  if (n < 20) return drop(d, DROP_TCP_TRUNCATED);
  const hlen = (m[p + 12]! >> 4) << 2;
  if (hlen < 20 || hlen > n) return drop(d, DROP_TCP_BAD_HLEN);
  if (!l4Valid && jsChecksum(m, p, n, addrSum + PROTO_TCP + n) !== 0) {
    return drop(d, DROP_TCP_BAD_CHECKSUM);
  }
  d[D_SRC_PORT] = u16(m, p);
  d[D_DST_PORT] = u16(m, p + 2);
  d[D_TCP_SEQ] = i32(m, p + 4);
  d[D_TCP_ACK] = i32(m, p + 8);
  d[D_TCP_HLEN] = hlen;
  d[D_TCP_FLAGS] = m[p + 13]!;
  d[D_TCP_WND] = u16(m, p + 14);
  d[D_TCP_URG] = u16(m, p + 18);
  d[D_PAYLOAD_OFF] = p + hlen;
  d[D_PAYLOAD_LEN] = n - hlen;
  return hlen > 20 ? options(m, p + 20, p + hlen, d) : 0;
}

/**
 * TCP options in `m[i, end)` (RFC 9293 section 3.2; MSS RFC 9293 3.7.1, window scale and
 * timestamps RFC 7323 sections 2.2 and 3.2, SACK RFC 2018 sections 2 and 3). Unknown kinds
 * are skipped by their length (RFC 9293 section 3.2 MUST). A later copy of an option
 * overwrites an earlier one. A known option of the wrong size is skipped too, and an illegal
 * length ends the parsing, the segment kept, as Linux does (RFC 9293 3.1 MUST-7: cope with an
 * illegal option length; found by the conformance bench).
 */
function options(m: Uint8Array, i: number, end: number, d: Int32Array): number {
  while (i < end) {
    const kind = m[i]!;
    if (kind === 0) break; // End of Option List
    if (kind === 1) { // No-Operation
      i++;
      continue;
    }
    // A length of 0 or 1, or an option running past the header: stop parsing and keep the
    // segment with the options read so far, as Linux (RFC 9293 3.1 MUST-7).
    if (i + 1 >= end) break;
    const olen = m[i + 1]!;
    if (olen < 2 || i + olen > end) break;
    switch (kind) {
      case 2: // MSS
        if (olen === 4) d[D_OPT_MSS] = u16(m, i + 2);
        break;
      case 3: // window scale
        if (olen === 3) d[D_OPT_WS] = m[i + 2]!;
        break;
      case 4: // SACK permitted
        if (olen === 2) d[D_OPT_SACK_OK] = 1;
        break;
      case 5: { // SACK: 1 to 4 blocks of two 32-bit edges
        if (olen !== 10 && olen !== 18 && olen !== 26 && olen !== 34) break;
        const count = (olen - 2) >> 3;
        for (let k = 0; k < 2 * count; k++) d[D_OPT_SACK + k] = i32(m, i + 2 + 4 * k);
        d[D_OPT_SACK_N] = count;
        break;
      }
      case 8: // timestamps
        if (olen !== 10) break;
        d[D_OPT_TS] = 1;
        d[D_OPT_TSVAL] = i32(m, i + 2);
        d[D_OPT_TSECR] = i32(m, i + 6);
        break;
    }
    i += olen;
  }
  return 0;
}
