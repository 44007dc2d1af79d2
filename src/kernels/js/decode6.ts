/**
 * IPv6 decode of the JS engine (RFC 8200): the fixed header, the extension-header chain
 * (hop-by-hop options, routing, fragment, destination options), then ICMPv6 (RFC 4443), UDP
 * or TCP over the IPv6 pseudo-header (RFC 8200 section 8.1). Called by `jsDecode` for
 * EtherType 0x86dd and by `jsDecodeIpv6` for a bare datagram. The WASM twin is
 * asm/wire/decode6.ts; same checks, same order, same descriptor words.
 *
 * Rules (RFC 8200 section 4):
 * - Extension headers are walked in order, at most `EXT6_MAX` of them. Hop-by-hop options
 *   anywhere but first is a drop with a Parameter Problem pointer (section 4.3, code 1).
 * - Options (section 4.2): Pad1 and PadN are skipped; any other option is unknown to us and
 *   handled by its two high bits: 00 skip, 01 discard, 10 and 11 discard with a Parameter
 *   Problem code 2 pointing at the option type (11: only to a unicast destination, which the
 *   caller checks).
 * - Routing (section 4.4): we process no routing type (type 0 is deprecated, RFC 5095), so
 *   segments left 0 means ignore the header, anything else a Parameter Problem code 0 at the
 *   routing type.
 * - Fragment (section 4.5): offset > 0 or M set makes a `K_IPV6_FRAGMENT` (not parsed further);
 *   a length not a multiple of 8 with M set, or an offset and length past 65535, is a drop
 *   with a Parameter Problem code 0. An atomic fragment (offset 0, M clear) is processed as a
 *   whole datagram (RFC 6946), with D_IP6_FRAG_HDR and D_IP_ID still recorded.
 * - Any other Next Header value ends the walk: `K_IPV6_OTHER`, D_IP_PROTO the value and
 *   D_IP6_PTR the Next Header byte (the caller answers code 1, except for 59, No Next Header).
 *
 * @module
 */

import {
  D_ETHERTYPE,
  D_ICMP_CODE,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_IP6_EXT,
  D_IP6_FLOW,
  D_IP6_FRAG_HDR,
  D_IP6_PTR,
  D_IP_FRAG,
  D_IP_HLEN,
  D_IP_ID,
  D_IP_PROTO,
  D_IP_TOS,
  D_IP_TOTLEN,
  D_IP_TTL,
  D_KIND,
  D_L3_OFF,
  D_L4_LEN,
  D_L4_OFF,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  DROP_FRAME_TOO_LONG,
  DROP_ICMP6_BAD_CHECKSUM,
  DROP_ICMP6_TRUNCATED,
  DROP_IP6_BAD_LENGTH,
  DROP_IP6_BAD_VERSION,
  DROP_IP6_EXT_TRUNCATED,
  DROP_IP6_FRAG_BAD_LENGTH,
  DROP_IP6_FRAG_TOO_LONG,
  DROP_IP6_HBH_NOT_FIRST,
  DROP_IP6_OPT_DISCARD,
  DROP_IP6_OPT_OVERRUN,
  DROP_IP6_OPT_UNKNOWN,
  DROP_IP6_ROUTING_UNKNOWN,
  DROP_IP6_TOO_MANY_HEADERS,
  DROP_IP6_TRUNCATED,
  EXT6_DEST_OPTS,
  EXT6_FRAGMENT,
  EXT6_HOP_BY_HOP,
  EXT6_MAX,
  EXT6_ROUTING,
  K_ICMP6,
  K_IPV6_FRAGMENT,
  K_IPV6_OTHER,
  K_TCP6,
  K_UDP6,
} from "../../wire/layout.ts";
import { checkWireSpan, jsChecksum } from "./checksum.ts";
import { drop, i32, reset, setL4Valid, tcp, u16, udp } from "./decode_parts.ts";

/** EtherType of IPv6 (RFC 2464). */
export const ETH_IPV6 = 0x86dd;
/** The largest IPv6 datagram (a reassembled one): the header and a 65535-byte payload. */
const MAX_DATAGRAM6 = 40 + 65535;

/** Next Header values (IANA): extension headers and the upper layers we parse. */
const NH_HOP_BY_HOP = 0;
const NH_TCP = 6;
const NH_UDP = 17;
const NH_ROUTING = 43;
const NH_FRAGMENT = 44;
const NH_ICMP6 = 58;
const NH_DEST_OPTS = 60;

/**
 * Decode the IPv6 datagram (no Ethernet header) at `mem[off, off+len)` into `desc`; the same
 * descriptor as `jsDecode` gives for it, with D_ETHERTYPE 0x86dd and no Ethernet fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsDecodeIpv6 } from "./decode6.ts";
 * import { DROP_IP6_BAD_VERSION, DROP_IP6_TRUNCATED } from "../../wire/layout.ts";
 * const mem = new Uint8Array(40).fill(0x45);
 * const desc = new Int32Array(64);
 * assert(jsDecodeIpv6(mem, 0, 39, desc) === DROP_IP6_TRUNCATED);
 * assert(jsDecodeIpv6(mem, 0, 40, desc) === DROP_IP6_BAD_VERSION);
 * ```
 */
export function jsDecodeIpv6(mem: Uint8Array, off: number, len: number, desc: Int32Array): number {
  setL4Valid(false);
  checkWireSpan(mem, off, len);
  reset(desc, off, len);
  if (len > MAX_DATAGRAM6) return drop(desc, DROP_FRAME_TOO_LONG);
  desc[D_ETHERTYPE] = ETH_IPV6;
  desc[D_L3_OFF] = off;
  return ipv6(mem, off, len, desc);
}

/** The unfolded sum of the 16 address words of the IPv6 header at `p` (RFC 8200 8.1). */
function addressSum(m: Uint8Array, p: number): number {
  let s = 0;
  for (let i = p + 8; i < p + 40; i += 2) s += (m[i]! << 8) | m[i + 1]!;
  return s;
}

/** The IPv6 datagram at `m[p, p+n)` (RFC 8200 sections 3 and 4). */
export function ipv6(m: Uint8Array, p: number, n: number, d: Int32Array): number {
  if (n < 40) return drop(d, DROP_IP6_TRUNCATED);
  const w0 = i32(m, p);
  if (w0 >>> 28 !== 6) return drop(d, DROP_IP6_BAD_VERSION);
  const plen = u16(m, p + 4);
  // Bytes beyond the payload length are link padding; fewer is a truncated datagram. A
  // payload length of 0 is an empty payload (no jumbograms, RFC 2675, are accepted).
  if (40 + plen > n) return drop(d, DROP_IP6_BAD_LENGTH);
  d[D_IP_TOS] = (w0 >>> 20) & 0xff;
  d[D_IP6_FLOW] = w0 & 0xfffff;
  d[D_IP_TOTLEN] = 40 + plen;
  d[D_IP_TTL] = m[p + 7]!;
  const end = p + 40 + plen;
  let nh = m[p + 6]!;
  let nhAt = p + 6; // the Next Header byte that named the current header
  let h = p + 40;
  let count = 0;
  let ext = 0;
  while (
    nh === NH_HOP_BY_HOP || nh === NH_ROUTING || nh === NH_FRAGMENT || nh === NH_DEST_OPTS
  ) {
    if (++count > EXT6_MAX) return drop(d, DROP_IP6_TOO_MANY_HEADERS);
    if (nh === NH_HOP_BY_HOP && h !== p + 40) {
      d[D_IP6_PTR] = nhAt - p;
      return drop(d, DROP_IP6_HBH_NOT_FIRST);
    }
    if (h + 8 > end) return drop(d, DROP_IP6_EXT_TRUNCATED);
    let hl = 8;
    if (nh === NH_FRAGMENT) {
      ext |= EXT6_FRAGMENT;
      d[D_IP6_EXT] = ext;
      const fo = u16(m, h + 2);
      d[D_IP_FRAG] = fo;
      d[D_IP_ID] = i32(m, h + 4);
      d[D_IP6_FRAG_HDR] = h;
      if ((fo & 0xfff9) !== 0) return fragment(m, p, h, end, fo, d);
      // An atomic fragment (RFC 6946 section 4): processed as a whole datagram.
    } else {
      hl = (m[h + 1]! + 1) << 3;
      if (h + hl > end) return drop(d, DROP_IP6_EXT_TRUNCATED);
      if (nh === NH_ROUTING) {
        ext |= EXT6_ROUTING;
        d[D_IP6_EXT] = ext;
        if (m[h + 3] !== 0) {
          d[D_IP6_PTR] = h + 2 - p;
          return drop(d, DROP_IP6_ROUTING_UNKNOWN);
        }
      } else {
        ext |= nh === NH_HOP_BY_HOP ? EXT6_HOP_BY_HOP : EXT6_DEST_OPTS;
        d[D_IP6_EXT] = ext;
        const v = options(m, h + 2, h + hl, p, d);
        if (v !== 0) return v;
      }
    }
    nhAt = h;
    nh = m[h]!;
    h += hl;
  }
  const l4len = end - h;
  d[D_IP_HLEN] = h - p;
  d[D_IP_PROTO] = nh;
  d[D_L4_OFF] = h;
  d[D_L4_LEN] = l4len;
  d[D_PAYLOAD_OFF] = h;
  d[D_PAYLOAD_LEN] = l4len;
  if (nh === NH_TCP) return tcp(m, h, l4len, addressSum(m, p), K_TCP6, d);
  if (nh === NH_UDP) return udp(m, h, l4len, addressSum(m, p), K_UDP6, d);
  if (nh === NH_ICMP6) return icmp6(m, h, l4len, addressSum(m, p), d);
  d[D_KIND] = K_IPV6_OTHER;
  d[D_IP6_PTR] = nhAt - p;
  return 0;
}

/** A fragment (offset > 0 or M set) whose header is at `h` (RFC 8200 section 4.5). */
function fragment(m: Uint8Array, p: number, h: number, end: number, fo: number, d: Int32Array) {
  const data = h + 8;
  const flen = end - data;
  if ((fo & 1) !== 0 && (flen & 7) !== 0) {
    d[D_IP6_PTR] = 4; // the Payload Length field
    return drop(d, DROP_IP6_FRAG_BAD_LENGTH);
  }
  // The reassembled payload: the unfragmentable headers, then offset + length.
  if (h - (p + 40) + (fo >>> 3) * 8 + flen > 0xffff) {
    d[D_IP6_PTR] = h + 2 - p; // the Fragment Offset field
    return drop(d, DROP_IP6_FRAG_TOO_LONG);
  }
  d[D_KIND] = K_IPV6_FRAGMENT;
  d[D_IP_HLEN] = data - p;
  d[D_IP_PROTO] = m[h]!;
  d[D_L4_OFF] = data;
  d[D_L4_LEN] = flen;
  d[D_PAYLOAD_OFF] = data;
  d[D_PAYLOAD_LEN] = flen;
  return 0;
}

/**
 * The options of a hop-by-hop or destination options header in `m[i, end)` (RFC 8200
 * section 4.2). None is known to us beyond padding: each is handled by its action bits.
 */
function options(m: Uint8Array, i: number, end: number, p: number, d: Int32Array): number {
  while (i < end) {
    const type = m[i]!;
    if (type === 0) { // Pad1
      i++;
      continue;
    }
    if (i + 2 > end || i + 2 + m[i + 1]! > end) return drop(d, DROP_IP6_OPT_OVERRUN);
    if (type !== 1) { // not PadN
      const action = type >> 6;
      if (action === 1) return drop(d, DROP_IP6_OPT_DISCARD);
      if (action !== 0) {
        d[D_IP6_PTR] = i - p;
        return drop(d, DROP_IP6_OPT_UNKNOWN);
      }
    }
    i += 2 + m[i + 1]!;
  }
  return 0;
}

/** ICMPv6 (RFC 4443 section 2): checksum over the pseudo-header and the whole message. */
function icmp6(m: Uint8Array, p: number, n: number, addrSum: number, d: Int32Array): number {
  d[D_KIND] = K_ICMP6;
  if (n < 8) return drop(d, DROP_ICMP6_TRUNCATED);
  if (jsChecksum(m, p, n, addrSum + NH_ICMP6 + n) !== 0) return drop(d, DROP_ICMP6_BAD_CHECKSUM);
  d[D_ICMP_TYPE] = m[p]!;
  d[D_ICMP_CODE] = m[p + 1]!;
  d[D_ICMP_REST] = i32(m, p + 4);
  d[D_PAYLOAD_OFF] = p + 8;
  d[D_PAYLOAD_LEN] = n - 8;
  return 0;
}
