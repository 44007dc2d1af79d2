/**
 * IPv6 encode of the JS engine, called by `jsEncode` for the IPv6 kinds: a 40-byte IPv6 header
 * (RFC 8200 section 3: version 6, D_IP_TOS as the traffic class, D_IP6_FLOW, D_IP_TTL as the
 * hop limit, the addresses from TX_IP6_SRC and TX_IP6_DST) in front of:
 * - `K_TCP6`, `K_UDP6`: the same TCP and UDP headers as over IPv4, checksummed over the IPv6
 *   pseudo-header (RFC 8200 section 8.1);
 * - `K_ICMP6`: type, code, checksum (pseudo-header included, RFC 4443 section 2.3) and the
 *   4 bytes of D_ICMP_REST;
 * - `K_IPV6_FRAGMENT`: a fragment header (RFC 8200 section 4.5) with D_IP_PROTO as its Next
 *   Header, D_IP_FRAG as its offset word (offset << 3 | M) and D_IP_ID as its identification;
 * - `K_IPV6_OTHER`: the payload as it is, with D_IP_PROTO as the Next Header.
 * The WASM twin is asm/wire/encode6.ts.
 *
 * @module
 */

import {
  D_ICMP_CODE,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_IP6_FLOW,
  D_IP_FRAG,
  D_IP_ID,
  D_IP_PROTO,
  D_IP_TOS,
  D_IP_TTL,
  D_KIND,
  ENC_BAD_OPTIONS,
  ENC_NO_HEADROOM,
  ENC_TOO_LONG,
  K_ICMP6,
  K_IPV6_FRAGMENT,
  K_TCP6,
  K_UDP6,
  TX_IP6_DST,
  TX_IP6_SRC,
} from "../../wire/layout.ts";
import { jsChecksum } from "./checksum.ts";
import { ethernet, put16, put32, tcpHeader, tcpOptionsLength, udpHeader } from "./encode.ts";

/** EtherType of IPv6 (RFC 2464). */
const ETH_IPV6 = 0x86dd;

/**
 * Build an IPv6 frame of kind D_KIND (one of the IPv6 kinds) in front of the payload with an
 * Ethernet header of `eth` bytes (14, or 18 with a tag). Returns the frame start or `-ENC_*`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encode6 } from "./encode6.ts";
 * import { D_IP_TTL, D_KIND, D_VLAN, K_UDP6 } from "../../wire/layout.ts";
 * const mem = new Uint8Array(1024);
 * const desc = new Int32Array(64);
 * desc[D_KIND] = K_UDP6;
 * desc[D_VLAN] = -1;
 * desc[D_IP_TTL] = 64;
 * assert(encode6(mem, desc, 200, 0, 14) === 200 - 8 - 40 - 14);
 * assert(mem[200 - 48] === 0x60); // version 6
 * ```
 */
export function encode6(
  mem: Uint8Array,
  d: Int32Array,
  payloadOff: number,
  payloadLen: number,
  eth: number,
): number {
  const kind = d[D_KIND]!;
  let l4h: number;
  let nh: number;
  if (kind === K_TCP6) {
    const opt = tcpOptionsLength(d);
    if (opt < 0) return -ENC_BAD_OPTIONS;
    l4h = 20 + opt;
    nh = 6;
  } else if (kind === K_UDP6) {
    l4h = 8;
    nh = 17;
  } else if (kind === K_ICMP6) {
    l4h = 8;
    nh = 58;
  } else if (kind === K_IPV6_FRAGMENT) {
    l4h = 8;
    nh = 44;
  } else {
    l4h = 0;
    nh = d[D_IP_PROTO]! & 0xff;
  }
  const plen = l4h + payloadLen;
  if (plen > 0xffff) return -ENC_TOO_LONG;
  const start = payloadOff - l4h - 40 - eth;
  if (start < 0) return -ENC_NO_HEADROOM;
  const ip = start + eth;
  put32(mem, ip, 0x60000000 | (d[D_IP_TOS]! & 0xff) << 20 | (d[D_IP6_FLOW]! & 0xfffff));
  put16(mem, ip + 4, plen);
  mem[ip + 6] = nh;
  mem[ip + 7] = d[D_IP_TTL]!;
  mem.copyWithin(ip + 8, TX_IP6_SRC, TX_IP6_SRC + 16);
  mem.copyWithin(ip + 24, TX_IP6_DST, TX_IP6_DST + 16);
  let addrs = 0;
  for (let i = ip + 8; i < ip + 40; i += 2) addrs += (mem[i]! << 8) | mem[i + 1]!;
  const l4 = payloadOff - l4h;
  if (kind === K_TCP6) {
    tcpHeader(mem, l4, l4h, plen, addrs, d);
  } else if (kind === K_UDP6) {
    udpHeader(mem, l4, plen, addrs, d);
  } else if (kind === K_ICMP6) {
    mem[l4] = d[D_ICMP_TYPE]!;
    mem[l4 + 1] = d[D_ICMP_CODE]!;
    put16(mem, l4 + 2, 0);
    put32(mem, l4 + 4, d[D_ICMP_REST]!);
    put16(mem, l4 + 2, jsChecksum(mem, l4, plen, addrs + 58 + plen));
  } else if (kind === K_IPV6_FRAGMENT) {
    mem[l4] = d[D_IP_PROTO]!;
    mem[l4 + 1] = 0;
    put16(mem, l4 + 2, d[D_IP_FRAG]!);
    put32(mem, l4 + 4, d[D_IP_ID]!);
  }
  ethernet(mem, start, d, ETH_IPV6);
  return start;
}
