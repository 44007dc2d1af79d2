/**
 * Neighbor Discovery test frames built and read through an engine (encode computes the ICMPv6
 * checksum, decode checks it), and an Icmp6Host over a capturing environment.
 *
 * @module
 */

import type { Engine } from "../../src/kernels/engine.ts";
import {
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_ICMP_CODE,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_IP_TTL,
  D_KIND,
  D_L3_OFF,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  D_VLAN,
  K_ICMP6,
  RX_OFF,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";
import { Icmp6Host } from "../../src/iface/icmp6.ts";
import { type IfaceLimits, resolveLimits } from "../../src/iface/limits.ts";
import { formatIpv6, parseIpv6 } from "../../src/wire/ipv6_address.ts";

/** Our MAC in these tests (52:54:00:12:34:56); link-local fe80::5054:ff:fe12:3456. */
export const MAC: Uint8Array = Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
/** The peer's MAC (02:00:00:00:00:01) as hi/lo. */
export const PEER_MAC: [number, number] = [0x0200, 0x00000001];

/** An IPv6 address from text (throws on bad text). */
export function ip6(text: string): Uint8Array {
  const a = parseIpv6(text);
  if (a === null) throw new Error(`bad IPv6 address ${text}`);
  return a;
}

/** The fields of an ICMPv6 message to build. */
export interface Nd6 {
  src: string;
  dst: string;
  type: number;
  rest?: number;
  code?: number;
  hops?: number;
  ethDst?: [number, number];
  ethSrc?: [number, number];
}

/** An ICMPv6 frame built by `e`'s encode. */
export function icmp6Frame(e: Engine, f: Nd6, payload: ArrayLike<number>): Uint8Array {
  const t = e.txDesc;
  t.fill(0);
  t[D_KIND] = K_ICMP6;
  t[D_VLAN] = -1;
  const dst = ip6(f.dst);
  const ethDst = f.ethDst ??
    (dst[0] === 0xff
      ? [0x3333, ((dst[12]! << 24) | (dst[13]! << 16) | (dst[14]! << 8) | dst[15]!) >>> 0]
      : [0x5254, 0x00123456]);
  t[D_ETH_DST_HI] = ethDst[0];
  t[D_ETH_DST_LO] = ethDst[1] | 0;
  t[D_ETH_SRC_HI] = (f.ethSrc ?? PEER_MAC)[0];
  t[D_ETH_SRC_LO] = (f.ethSrc ?? PEER_MAC)[1] | 0;
  t[D_IP_TTL] = f.hops ?? 255;
  t[D_ICMP_TYPE] = f.type;
  t[D_ICMP_CODE] = f.code ?? 0;
  t[D_ICMP_REST] = (f.rest ?? 0) | 0;
  e.mem.set(ip6(f.src), TX_IP6_SRC);
  e.mem.set(dst, TX_IP6_DST);
  e.mem.set(Array.from(payload), TX_PAYLOAD_OFF);
  const start = e.encode(TX_PAYLOAD_OFF, payload.length);
  if (start < 0) throw new Error(`encode failed ${start}`);
  return e.mem.slice(start, TX_PAYLOAD_OFF + payload.length);
}

/** A link-layer address option (type 1 source, 2 target) for MAC hi/lo. */
export function llaOption(type: number, mac: [number, number] = PEER_MAC): number[] {
  const [hi, lo] = mac;
  return [
    type,
    1,
    hi >>> 8,
    hi & 0xff,
    lo >>> 24,
    (lo >>> 16) & 0xff,
    (lo >>> 8) & 0xff,
    lo & 0xff,
  ];
}

/** A Prefix Information option (RFC 4861 4.6.2). */
export function prefixOption(
  prefix: string,
  length: number,
  flags: number,
  valid: number,
  preferred: number,
): number[] {
  const b = new Array<number>(32).fill(0);
  b[0] = 3;
  b[1] = 4;
  b[2] = length;
  b[3] = flags;
  for (let i = 0; i < 4; i++) {
    b[4 + i] = (valid >>> (24 - 8 * i)) & 0xff;
    b[8 + i] = (preferred >>> (24 - 8 * i)) & 0xff;
  }
  b.splice(16, 16, ...ip6(prefix));
  return b;
}

/** An MTU option. */
export function mtuOption(mtu: number): number[] {
  return [5, 1, 0, 0, mtu >>> 24, (mtu >>> 16) & 0xff, (mtu >>> 8) & 0xff, mtu & 0xff];
}

/** A router advertisement body (after the rest word): reachable time, retrans timer, options. */
export function raBody(options: number[], reachable = 0, retrans = 0): number[] {
  const w = (v: number) => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  return [...w(reachable), ...w(retrans), ...options];
}

/** A decoded frame we sent. */
export interface Out6 {
  kind: number;
  type: number;
  code: number;
  rest: number;
  hops: number;
  src: string;
  dst: string;
  ethDst: [number, number];
  ethSrc: [number, number];
  payload: Uint8Array;
}

/** Decode `frame` with `e` (throws unless verdict 0). */
export function decode6(e: Engine, frame: Uint8Array): Out6 {
  e.mem.set(frame, RX_OFF);
  const v = e.decode(RX_OFF, frame.length);
  if (v !== 0) throw new Error(`frame we sent does not decode: verdict ${v}`);
  const d = e.rxDesc;
  const l3 = d[D_L3_OFF]!;
  return {
    kind: d[D_KIND]!,
    type: d[D_ICMP_TYPE]!,
    code: d[D_ICMP_CODE]!,
    rest: d[D_ICMP_REST]! >>> 0,
    hops: d[D_IP_TTL]!,
    src: formatIpv6(e.mem, l3 + 8),
    dst: formatIpv6(e.mem, l3 + 24),
    ethDst: [d[D_ETH_DST_HI]!, d[D_ETH_DST_LO]! >>> 0],
    ethSrc: [d[D_ETH_SRC_HI]!, d[D_ETH_SRC_LO]! >>> 0],
    payload: e.mem.slice(d[D_PAYLOAD_OFF]!, d[D_PAYLOAD_OFF]! + d[D_PAYLOAD_LEN]!),
  };
}

/** An Icmp6Host with captured frames, counters and a loopback list. */
export function host(
  e: Engine,
  opts: { limits?: Partial<IfaceLimits>; slaac?: boolean; mtu?: number; random?: () => number } =
    {},
): {
  h: Icmp6Host;
  sent: Uint8Array[];
  looped: Uint8Array[];
  count: Map<string, number>;
  feed: (f: Uint8Array, now: number) => void;
} {
  const sent: Uint8Array[] = [];
  const looped: Uint8Array[] = [];
  const count = new Map<string, number>();
  const h = new Icmp6Host(e, MAC, {
    send: (b, o, n) => sent.push(b.slice(o, o + n)),
    loop: (s, n) => (looped.push(e.mem.slice(s, s + n)), true),
    inc: (name, n = 1) => count.set(name, (count.get(name) ?? 0) + n),
    mtu: opts.mtu ?? 1500,
    slaac: opts.slaac ?? false,
    random: opts.random ?? (() => 0.5),
  }, resolveLimits(opts.limits));
  const feed = (f: Uint8Array, now: number) => {
    e.mem.set(f, RX_OFF);
    const v = e.decode(RX_OFF, f.length);
    if (v !== 0) throw new Error(`test frame does not decode: verdict ${v}`);
    h.input(now);
  };
  return { h, sent, looped, count, feed };
}

/** Start `h` and let DAD of its addresses finish (one solicitation, 1 s); clears `sent`. */
export function settle(x: { h: Icmp6Host; sent: Uint8Array[] }, now = 0): number {
  x.h.start(now);
  x.h.poll(now);
  x.h.poll(now + 1000);
  x.sent.length = 0;
  return now + 1000;
}
