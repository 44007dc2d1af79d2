/**
 * Whole-frame decode in plain TypeScript: Ethernet II (with one 802.1Q tag), ARP, IPv4, ICMP,
 * UDP and TCP with its options, every checksum verified, into the 64-word receive descriptor
 * (layout.ts). Malformed input yields a `DROP_*` verdict, never an exception.
 *
 * The WASM twin (asm/wire/decode.ts) follows the same steps in the same order and writes the
 * same descriptor words on every path, drops included; the differential tests compare all 64.
 * Order per layer: length and structure checks, then the checksum, then the fields.
 *
 * Descriptor notes: D_KIND is set as soon as the layer is known, so a drop inside ARP, ICMP,
 * UDP or TCP still says which; IPv4 options are skipped (D_IP_HLEN > 20); for
 * `K_IPV4_FRAGMENT` and `K_IPV4_OTHER`, and on L4 drops, D_PAYLOAD_OFF/LEN span the whole IPv4
 * payload; for ICMP the payload starts after the 8-byte header (an error message's quoted
 * datagram is left to the caller).
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
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_ETHERTYPE,
  D_ICMP_CODE,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_IP_DST,
  D_IP_FRAG,
  D_IP_HLEN,
  D_IP_ID,
  D_IP_PROTO,
  D_IP_SRC,
  D_IP_TOS,
  D_IP_TOTLEN,
  D_IP_TTL,
  D_KIND,
  D_L3_OFF,
  D_L4_LEN,
  D_L4_OFF,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  D_VLAN,
  DECODE_L4_VALID,
  DROP_ARP_TRUNCATED,
  DROP_ARP_UNSUPPORTED,
  DROP_ETH_TRUNCATED,
  DROP_FRAME_TOO_LONG,
  DROP_ICMP_BAD_CHECKSUM,
  DROP_ICMP_TRUNCATED,
  DROP_IP_BAD_CHECKSUM,
  DROP_IP_BAD_HLEN,
  DROP_IP_BAD_TOTLEN,
  DROP_IP_BAD_VERSION,
  DROP_IP_TRUNCATED,
  DROP_VLAN_TRUNCATED,
  K_ARP,
  K_ETH_OTHER,
  K_ICMP,
  K_IPV4_FRAGMENT,
  K_IPV4_OTHER,
  K_TCP,
  K_UDP,
} from "../../wire/layout.ts";
import { checkWireSpan, jsChecksum } from "./checksum.ts";
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP } from "../../wire/checksum.ts";
import { drop, i32, MAX_FRAME, reset, setL4Valid, tcp, u16, udp } from "./decode_parts.ts";
import { ETH_IPV6, ipv6 } from "./decode6.ts";

export { MAX_FRAME };

/** EtherTypes (IEEE 802.3 / IANA). */
const ETH_IPV4 = 0x0800;
const ETH_ARP = 0x0806;
const ETH_VLAN = 0x8100;

/**
 * Decode the Ethernet frame at `mem[off, off+len)` into `desc` (all 64 words rewritten),
 * verifying every checksum. Returns the verdict: 0 or a `DROP_*` reason; never throws on any
 * bytes (only on a span outside `mem`). Frames may carry Ethernet padding beyond the IPv4
 * total length.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsDecode } from "./decode.ts";
 * import { D_KIND, DROP_ETH_TRUNCATED, K_ETH_OTHER } from "../../wire/layout.ts";
 * const mem = new Uint8Array(64);
 * const desc = new Int32Array(64);
 * assert(jsDecode(mem, 0, 10, desc) === DROP_ETH_TRUNCATED);
 * mem[12] = 0x88; // 0x88b5 (local experimental) is another EtherType
 * mem[13] = 0xb5;
 * assert(jsDecode(mem, 0, 60, desc) === 0 && desc[D_KIND] === K_ETH_OTHER);
 * ```
 */
export function jsDecode(
  mem: Uint8Array,
  off: number,
  len: number,
  desc: Int32Array,
  flags = 0,
): number {
  const d = desc;
  checkWireSpan(mem, off, len);
  setL4Valid((flags & DECODE_L4_VALID) !== 0);
  reset(d, off, len);
  if (len > MAX_FRAME) return drop(d, DROP_FRAME_TOO_LONG);
  if (len < 14) return drop(d, DROP_ETH_TRUNCATED);
  d[D_ETH_DST_HI] = u16(mem, off);
  d[D_ETH_DST_LO] = i32(mem, off + 2);
  d[D_ETH_SRC_HI] = u16(mem, off + 6);
  d[D_ETH_SRC_LO] = i32(mem, off + 8);
  let type = u16(mem, off + 12);
  let l3 = off + 14;
  d[D_ETHERTYPE] = type;
  if (type === ETH_VLAN) {
    // IEEE 802.1Q: TCI then the inner EtherType. One tag only; a second is "other".
    if (len < 18) return drop(d, DROP_VLAN_TRUNCATED);
    d[D_VLAN] = u16(mem, off + 14);
    type = u16(mem, off + 16);
    l3 = off + 18;
    d[D_ETHERTYPE] = type;
  }
  d[D_L3_OFF] = l3;
  const rem = off + len - l3;
  if (type === ETH_IPV4) return ipv4(mem, l3, rem, d);
  if (type === ETH_IPV6) return ipv6(mem, l3, rem, d);
  if (type === ETH_ARP) return arp(mem, l3, rem, d);
  d[D_KIND] = K_ETH_OTHER;
  return 0;
}

/**
 * Decode the IPv4 datagram (no Ethernet header) at `mem[off, off+len)` into `desc`; same
 * descriptor as `jsDecode` with D_ETHERTYPE 0x0800 and no Ethernet fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsDecodeIpv4 } from "./decode.ts";
 * import { DROP_IP_BAD_VERSION } from "../../wire/layout.ts";
 * const mem = new Uint8Array(20).fill(0x65);
 * assert(jsDecodeIpv4(mem, 0, 20, new Int32Array(64)) === DROP_IP_BAD_VERSION);
 * ```
 */
export function jsDecodeIpv4(mem: Uint8Array, off: number, len: number, desc: Int32Array): number {
  setL4Valid(false);
  checkWireSpan(mem, off, len);
  reset(desc, off, len);
  if (len > MAX_FRAME) return drop(desc, DROP_FRAME_TOO_LONG);
  desc[D_ETHERTYPE] = ETH_IPV4;
  desc[D_L3_OFF] = off;
  return ipv4(mem, off, len, desc);
}

/** ARP for Ethernet and IPv4 only (RFC 826). */
function arp(m: Uint8Array, p: number, n: number, d: Int32Array): number {
  d[D_KIND] = K_ARP;
  if (n < 28) return drop(d, DROP_ARP_TRUNCATED);
  // htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4.
  if (u16(m, p) !== 1 || u16(m, p + 2) !== ETH_IPV4 || m[p + 4] !== 6 || m[p + 5] !== 4) {
    return drop(d, DROP_ARP_UNSUPPORTED);
  }
  d[D_ARP_OP] = u16(m, p + 6);
  d[D_ARP_SHA_HI] = u16(m, p + 8);
  d[D_ARP_SHA_LO] = i32(m, p + 10);
  d[D_ARP_SPA] = i32(m, p + 14);
  d[D_ARP_THA_HI] = u16(m, p + 18);
  d[D_ARP_THA_LO] = i32(m, p + 20);
  d[D_ARP_TPA] = i32(m, p + 24);
  return 0;
}

/** IPv4 (RFC 791 section 3.1; RFC 1122 section 3.2.1 for the checks). */
function ipv4(m: Uint8Array, p: number, n: number, d: Int32Array): number {
  if (n < 20) return drop(d, DROP_IP_TRUNCATED);
  const vihl = m[p]!;
  if (vihl >> 4 !== 4) return drop(d, DROP_IP_BAD_VERSION);
  const hlen = (vihl & 15) << 2;
  if (hlen < 20 || hlen > n) return drop(d, DROP_IP_BAD_HLEN);
  const total = u16(m, p + 2);
  // Bytes beyond the total length are link padding (RFC 1122 section 3.2.1.1 allows none
  // to be interpreted); fewer bytes than the total length is a truncated datagram.
  if (total < hlen || total > n) return drop(d, DROP_IP_BAD_TOTLEN);
  if (jsChecksum(m, p, hlen, 0) !== 0) return drop(d, DROP_IP_BAD_CHECKSUM);
  const frag = u16(m, p + 6);
  const proto = m[p + 9]!;
  const src = i32(m, p + 12);
  const dst = i32(m, p + 16);
  const l4 = p + hlen;
  const l4len = total - hlen;
  d[D_IP_HLEN] = hlen;
  d[D_IP_TOS] = m[p + 1]!;
  d[D_IP_TOTLEN] = total;
  d[D_IP_ID] = u16(m, p + 4);
  d[D_IP_FRAG] = frag;
  d[D_IP_TTL] = m[p + 8]!;
  d[D_IP_PROTO] = proto;
  d[D_IP_SRC] = src;
  d[D_IP_DST] = dst;
  d[D_L4_OFF] = l4;
  d[D_L4_LEN] = l4len;
  d[D_PAYLOAD_OFF] = l4;
  d[D_PAYLOAD_LEN] = l4len;
  // A fragment (MF set or a non-zero offset) is for reassembly: its L4 is not parsed.
  if ((frag & 0x3fff) !== 0) {
    d[D_KIND] = K_IPV4_FRAGMENT;
    return 0;
  }
  const addrs = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
  if (proto === PROTO_TCP) return tcp(m, l4, l4len, addrs, K_TCP, d);
  if (proto === PROTO_UDP) return udp(m, l4, l4len, addrs, K_UDP, d);
  if (proto === PROTO_ICMP) return icmp(m, l4, l4len, d);
  d[D_KIND] = K_IPV4_OTHER;
  return 0;
}

/** ICMP (RFC 792): checksum over the whole message. */
function icmp(m: Uint8Array, p: number, n: number, d: Int32Array): number {
  d[D_KIND] = K_ICMP;
  if (n < 8) return drop(d, DROP_ICMP_TRUNCATED);
  if (jsChecksum(m, p, n, 0) !== 0) return drop(d, DROP_ICMP_BAD_CHECKSUM);
  d[D_ICMP_TYPE] = m[p]!;
  d[D_ICMP_CODE] = m[p + 1]!;
  d[D_ICMP_REST] = i32(m, p + 4);
  d[D_PAYLOAD_OFF] = p + 8;
  d[D_PAYLOAD_LEN] = n - 8;
  return 0;
}
