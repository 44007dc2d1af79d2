/**
 * IPv6 fragment frames for the tests: whole datagrams built by an engine's encode (checksums
 * right), cut into Ethernet frames with a fragment header by hand (RFC 8200 section 4.5), and
 * the inverse: the fragments a stack sent, checked and put back together independently of
 * src/iface/fragments6.ts.
 *
 * @module
 */

import type { Engine } from "../../src/kernels/engine.ts";
import {
  D_DST_PORT,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_IP_TTL,
  D_KIND,
  D_SRC_PORT,
  D_VLAN,
  K_ICMP6,
  K_UDP6,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";
import { parseIpv6 } from "../../src/wire/ipv6_address.ts";

/** Our address and the peer's in these tests. */
export const OUR6: Uint8Array = parseIpv6("fd00::2")!;
export const PEER6: Uint8Array = parseIpv6("fd00::1")!;
/** Our MAC (52:54:00:12:34:56) and the peer's (02:00:00:00:00:01). */
export const OUR_MAC6: Uint8Array = Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
export const PEER_MAC6: Uint8Array = Uint8Array.from([2, 0, 0, 0, 0, 1]);

/** Deterministic bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

function build(e: Engine, kind: number, data: Uint8Array, src: Uint8Array, dst: Uint8Array) {
  const t = e.txDesc;
  t.fill(0);
  t[D_KIND] = kind;
  t[D_VLAN] = -1;
  t[D_IP_TTL] = 64;
  return { t, go: () => finish(e, data, src, dst) };
}

function finish(e: Engine, data: Uint8Array, src: Uint8Array, dst: Uint8Array): Uint8Array {
  e.mem.set(src, TX_IP6_SRC);
  e.mem.set(dst, TX_IP6_DST);
  e.mem.set(data, TX_PAYLOAD_OFF);
  const start = e.encode(TX_PAYLOAD_OFF, data.length);
  if (start < 0) throw new Error(`encode error ${start}`);
  return e.mem.slice(start + 14, TX_PAYLOAD_OFF + data.length);
}

/** A whole ICMPv6 echo request datagram (no Ethernet header) from `src` to `dst`. */
export function echo6(
  e: Engine,
  data: Uint8Array,
  ident = 7,
  seq = 1,
  src = PEER6,
  dst = OUR6,
): Uint8Array {
  const { t, go } = build(e, K_ICMP6, data, src, dst);
  t[D_ICMP_TYPE] = 128;
  t[D_ICMP_REST] = (ident << 16) | seq;
  return go();
}

/** A whole UDP datagram (no Ethernet header) from `src` port 5000 to `dst` port 9. */
export function udp6(e: Engine, data: Uint8Array, src = PEER6, dst = OUR6): Uint8Array {
  const { t, go } = build(e, K_UDP6, data, src, dst);
  t[D_SRC_PORT] = 5000;
  t[D_DST_PORT] = 9;
  return go();
}

/** Options of {@linkcode fragFrame}. */
export interface FragOptions {
  /** Fragment Identification (default 0x1234). */
  id?: number;
  /** Destination MAC (default ours). */
  dstMac?: Uint8Array;
  /** Unfragmentable extension headers put before the fragment header (their bytes, with the
   * first byte, their Next Header, rewritten to 44). */
  unfrag?: Uint8Array;
  /** Next Header of the fragment header (default the datagram's). */
  nextHeader?: number;
}

/**
 * The Ethernet frame of the fragment of `dg` (a whole datagram without extension headers)
 * carrying payload bytes [off, off+len), with M = `more`.
 */
export function fragFrame(
  dg: Uint8Array,
  off: number,
  len: number,
  more: boolean,
  o: FragOptions = {},
): Uint8Array {
  const unfrag = o.unfrag ?? new Uint8Array(0);
  const f = new Uint8Array(14 + 40 + unfrag.length + 8 + len);
  f.set(o.dstMac ?? OUR_MAC6, 0);
  f.set(PEER_MAC6, 6);
  f[12] = 0x86;
  f[13] = 0xdd;
  f.set(dg.subarray(0, 40), 14);
  const plen = unfrag.length + 8 + len;
  f[18] = plen >> 8;
  f[19] = plen & 0xff;
  let p = 54;
  if (unfrag.length > 0) {
    f[20] = 60; // destination options before the fragment header
    f.set(unfrag, p);
    f[p] = 44;
    p += unfrag.length;
  } else f[20] = 44;
  f[p] = o.nextHeader ?? dg[6]!;
  const fo = off | (more ? 1 : 0);
  f[p + 2] = fo >> 8;
  f[p + 3] = fo & 0xff;
  const id = o.id ?? 0x1234;
  f[p + 4] = id >>> 24;
  f[p + 5] = (id >>> 16) & 0xff;
  f[p + 6] = (id >>> 8) & 0xff;
  f[p + 7] = id & 0xff;
  f.set(dg.subarray(40 + off, 40 + off + len), p + 8);
  return f;
}

/** The fragments of `dg` in pieces of `size` bytes (a multiple of 8), in order. */
export function cut(dg: Uint8Array, size: number, o: FragOptions = {}): Uint8Array[] {
  const out: Uint8Array[] = [];
  const plen = dg.length - 40;
  for (let off = 0; off < plen; off += size) {
    const len = Math.min(size, plen - off);
    out.push(fragFrame(dg, off, len, off + len < plen, o));
  }
  return out;
}

/** A fragment frame parsed (no extension headers besides the fragment header). */
export interface SentFragment {
  /** IPv6 header bytes (40). */
  header: Uint8Array;
  nextHeader: number;
  offset: number;
  more: boolean;
  id: number;
  data: Uint8Array;
}

/** Parse an Ethernet frame carrying an IPv6 fragment (throws when it is not one). */
export function parseFragment(frame: Uint8Array): SentFragment {
  if (frame[12] !== 0x86 || frame[13] !== 0xdd) throw new Error("not IPv6");
  const ip = frame.subarray(14);
  if (ip[6] !== 44) throw new Error(`Next Header ${ip[6]}, not a fragment header`);
  const plen = (ip[4]! << 8) | ip[5]!;
  if (40 + plen !== ip.length) throw new Error(`payload length ${plen}, frame ${ip.length}`);
  const fo = (ip[42]! << 8) | ip[43]!;
  return {
    header: ip.slice(0, 40),
    nextHeader: ip[40]!,
    offset: fo & 0xfff8,
    more: (fo & 1) === 1,
    id: ((ip[44]! << 24) | (ip[45]! << 16) | (ip[46]! << 8) | ip[47]!) >>> 0,
    data: ip.slice(48),
  };
}

/** Put parsed fragments (any order) back into the whole datagram; throws on gaps or overlaps. */
export function joinFragments(frags: SentFragment[]): Uint8Array {
  const sorted = [...frags].sort((a, b) => a.offset - b.offset);
  let at = 0;
  for (const f of sorted) {
    if (f.offset !== at) throw new Error(`gap or overlap at ${at}: fragment at ${f.offset}`);
    at += f.data.length;
  }
  if (sorted.at(-1)?.more !== false) throw new Error("no last fragment");
  const first = sorted[0]!;
  const dg = new Uint8Array(40 + at);
  dg.set(first.header);
  dg[4] = at >> 8;
  dg[5] = at & 0xff;
  dg[6] = first.nextHeader;
  for (const f of sorted) dg.set(f.data, 40 + f.offset);
  return dg;
}
