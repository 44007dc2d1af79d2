/**
 * Fragmentation of our own IPv6 datagrams larger than the path MTU (RFC 8200 section 4.5,
 * "fragmentation process"), for echo replies, ICMPv6 and UDP. Our datagrams carry no
 * extension headers, so the unfragmentable part is the IPv6 header alone and the fragmentable
 * part the whole payload. Each fragment gets the same Fragment Identification, chosen at
 * random per datagram by the caller (RFC 7739 section 5.1), carries a multiple of 8 bytes but
 * the last, and is at most the path MTU (never taken below 1280, RFC 8200 section 5: no
 * atomic fragments, RFC 8021).
 *
 * The fragments are built in place: fragment k's headers are written over the last 62 bytes
 * of fragment k-1's data, which `emit` has already consumed (a link send or a queue copy), so
 * a 64 KiB datagram is never copied. The 22 bytes in front of the datagram's Ethernet header
 * must be free (they are in the transmit area, where the datagram is built at TX_PAYLOAD_OFF).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createJsEngine } from "../kernels/js_engine.ts";
 * import { fragment6 } from "./fragment6_out.ts";
 * import { D_KIND, D_VLAN, K_UDP6, TX_PAYLOAD_OFF } from "../wire/layout.ts";
 * const engine = createJsEngine();
 * const t = engine.txDesc;
 * t.fill(0);
 * t[D_KIND] = K_UDP6;
 * t[D_VLAN] = -1;
 * const start = engine.encode(TX_PAYLOAD_OFF, 3000); // UDP of 3000 bytes, 3048-byte datagram
 * const sizes: number[] = [];
 * const n = fragment6(engine, start + 14, 3048, 1500, 0x1234, (_s, len) => sizes.push(len) > 0);
 * assert.equal(n, 3);
 * assert.deepEqual(sizes, [14 + 48 + 1448, 14 + 48 + 1448, 14 + 48 + 112]);
 * ```
 *
 * @module
 */

import type { Engine } from "../kernels/engine.ts";
import {
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_IP6_FLOW,
  D_IP_FRAG,
  D_IP_ID,
  D_IP_PROTO,
  D_IP_TOS,
  D_IP_TTL,
  D_KIND,
  D_VLAN,
  K_IPV6_FRAGMENT,
  TX_IP6_DST,
  TX_IP6_SRC,
} from "../wire/layout.ts";

/** The IPv6 minimum link MTU (RFC 8200 section 5). */
export const IPV6_MIN_MTU = 1280;

/**
 * Send the IPv6 datagram at `engine.mem[ipOff, ipOff+ipLen)` (40-byte header, no extension
 * headers) as fragments of at most `mtu` bytes with identification `ident` (a u32). Each
 * fragment is an Ethernet frame built with the Ethernet fields of the transmit descriptor as
 * they are (the caller's), passed to `emit(start, len)`. Returns the number of fragments
 * built, or -1 when the datagram cannot be fragmented (a Next Header naming a hop-by-hop or
 * routing header, which would belong to the unfragmentable part; no headroom).
 */
export function fragment6(
  engine: Engine,
  ipOff: number,
  ipLen: number,
  mtu: number,
  ident: number,
  emit: (start: number, len: number) => boolean,
): number {
  const mem = engine.mem;
  const nh = mem[ipOff + 6]!;
  if (nh === 0 || nh === 43 || ipLen <= 40 || ipOff < 22) return -1;
  const w0 = ((mem[ipOff]! << 24) | (mem[ipOff + 1]! << 16) | (mem[ipOff + 2]! << 8) |
    mem[ipOff + 3]!) >>> 0;
  const hops = mem[ipOff + 7]!;
  const addrs = mem.slice(ipOff + 8, ipOff + 40); // the header is overwritten by fragment 0
  const t = engine.txDesc;
  const eth = [t[D_ETH_DST_HI]!, t[D_ETH_DST_LO]!, t[D_ETH_SRC_HI]!, t[D_ETH_SRC_LO]!];
  const payload = ipOff + 40;
  const plen = ipLen - 40;
  // RFC 8200 4.5: every fragment but the last carries a multiple of 8 bytes.
  const step = (Math.max(mtu, IPV6_MIN_MTU) - 48) & ~7;
  let n = 0;
  for (let o = 0; o < plen; o += step) {
    const len = Math.min(step, plen - o);
    const more = o + len < plen ? 1 : 0;
    // Everything again per fragment: emit may send other frames (a neighbor solicitation)
    // through the same descriptor and scratch, and may replace the views (WASM growth).
    engine.mem.set(addrs.subarray(0, 16), TX_IP6_SRC);
    engine.mem.set(addrs.subarray(16), TX_IP6_DST);
    const d = engine.txDesc;
    d.fill(0);
    d[D_KIND] = K_IPV6_FRAGMENT;
    d[D_VLAN] = -1;
    d[D_ETH_DST_HI] = eth[0]!;
    d[D_ETH_DST_LO] = eth[1]!;
    d[D_ETH_SRC_HI] = eth[2]!;
    d[D_ETH_SRC_LO] = eth[3]!;
    d[D_IP_TOS] = (w0 >>> 20) & 0xff;
    d[D_IP6_FLOW] = w0 & 0xfffff;
    d[D_IP_TTL] = hops;
    d[D_IP_PROTO] = nh;
    d[D_IP_FRAG] = o | more;
    d[D_IP_ID] = ident | 0;
    const start = engine.encode(payload + o, len);
    if (start < 0) return n > 0 ? n : -1;
    n++;
    emit(start, payload + o + len - start);
  }
  return n;
}
