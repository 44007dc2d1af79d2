/**
 * Neighbor Discovery messages on the wire (RFC 4861 section 4), sans-I/O: the option parser
 * (section 4.6; every option longer than zero and inside the message, section 7.1) and the
 * sender of the messages a host originates: neighbor solicitations (address resolution, NUD
 * probes, DAD), neighbor advertisements and router solicitations. Every one leaves with hop
 * limit 255 (section 7.1), the checksum computed by the engine's encode.
 *
 * The frames are built at ND_OFF, near the top of the transmit area (between the landing area
 * of transmit.ts and its ARP frames), and the transmit descriptor and the encode's IPv6
 * address scratch (TX_IP6_SRC, TX_IP6_DST) are saved and restored around each one: a
 * solicitation sent in the middle of emitting another frame clobbers nothing of it.
 *
 * @module
 */

import type { Engine } from "../kernels/engine.ts";
import {
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_IP_TTL,
  D_KIND,
  D_VLAN,
  DESC_WORDS,
  K_ICMP6,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_OFF,
  TX_SIZE,
} from "../wire/layout.ts";

/** ICMPv6 types of Neighbor Discovery (RFC 4861 section 4). */
export const ND_ROUTER_SOLICIT = 133;
export const ND_ROUTER_ADVERT = 134;
export const ND_NEIGHBOR_SOLICIT = 135;
export const ND_NEIGHBOR_ADVERT = 136;
export const ND_REDIRECT = 137;
/** NA flags (section 4.4) in the word after the checksum. */
export const NA_ROUTER = 0x80000000;
export const NA_SOLICITED = 0x40000000;
export const NA_OVERRIDE = 0x20000000;
/** Option types (section 4.6). */
export const OPT_SLLA = 1;
export const OPT_TLLA = 2;
export const OPT_PREFIX = 3;
export const OPT_MTU = 5;
/** Payload offset of the ND frames we build (frame start 62 bytes before it). */
export const ND_OFF: number = TX_OFF + TX_SIZE - 100;

/** The options of one ND message, parsed in place (reused; valid until the next parse). */
export class NdOptions {
  /** A source or target link-layer address option of the asked type was present. */
  lla = false;
  /** Its MAC hi word. */
  llaHi = 0;
  /** Its MAC lo word (u32). */
  llaLo = 0;
  /** Link-layer address options whose length is not 1 (8 bytes, RFC 2464 section 8). */
  badLla = 0;
  /** The MTU option's value, or -1. */
  mtu = -1;
  /** Offsets of the Prefix Information options (32 bytes each). */
  readonly prefixes: number[] = [];

  /**
   * Parse the options in `m[start, end)`, looking for the link-layer option `llaType`.
   * False when one has length 0 or runs past the end (RFC 4861 7.1: the message is invalid).
   */
  parse(m: Uint8Array, start: number, end: number, llaType: number): boolean {
    this.lla = false;
    this.badLla = 0;
    this.mtu = -1;
    this.prefixes.length = 0;
    for (let i = start; i < end;) {
      if (i + 2 > end) return false;
      const type = m[i]!;
      const len = m[i + 1]! * 8;
      if (len === 0 || i + len > end) return false;
      if (type === llaType) {
        if (len === 8) {
          this.lla = true;
          this.llaHi = (m[i + 2]! << 8) | m[i + 3]!;
          this.llaLo = ((m[i + 4]! << 24) | (m[i + 5]! << 16) | (m[i + 6]! << 8) | m[i + 7]!) >>>
            0;
        } else this.badLla++;
      } else if (type === OPT_MTU && len === 8) {
        this.mtu = ((m[i + 4]! << 24) | (m[i + 5]! << 16) | (m[i + 6]! << 8) | m[i + 7]!) >>> 0;
      } else if (type === OPT_PREFIX && len === 32) {
        this.prefixes.push(i);
      }
      i += len;
    }
    return true;
  }
}

/** Builds and sends the ND messages a host originates. */
export class NdSender {
  #engine: Engine;
  #out: (start: number, len: number) => void;
  #mac: Uint8Array;
  #macHi: number;
  #macLo: number;
  #savedDesc = new Int32Array(DESC_WORDS);
  #savedAddrs = new Uint8Array(32);

  /** A sender for our MAC, handing whole frames to `out`. */
  constructor(engine: Engine, mac: Uint8Array, out: (start: number, len: number) => void) {
    this.#engine = engine;
    this.#out = out;
    this.#mac = Uint8Array.from(mac);
    this.#macHi = (mac[0]! << 8) | mac[1]!;
    this.#macLo = ((mac[2]! << 24) | (mac[3]! << 16) | (mac[4]! << 8) | mac[5]!) >>> 0;
  }

  /**
   * A neighbor solicitation for `target` (section 4.3) from `src` with our link-layer address
   * option, or from :: without it (DAD, RFC 4862 5.4.2) when `src` is null; to the target's
   * solicited-node group, or unicast to the target at `mac` (hi, lo) for a NUD probe.
   */
  solicit(target: Uint8Array, src: Uint8Array | null, mac: [number, number] | null): void {
    const m = this.#engine.mem;
    m.set(target.subarray(0, 16), ND_OFF);
    let len = 16;
    if (src !== null) len = this.#lla(OPT_SLLA, ND_OFF + 16);
    this.#begin();
    if (src !== null) m.set(src.subarray(0, 16), TX_IP6_SRC);
    else m.fill(0, TX_IP6_SRC, TX_IP6_SRC + 16);
    if (mac !== null) {
      m.set(target.subarray(0, 16), TX_IP6_DST);
      this.#finish(ND_NEIGHBOR_SOLICIT, 0, mac[0], mac[1], len);
    } else {
      const group = solicitedNode(target);
      m.set(group, TX_IP6_DST);
      this.#finish(ND_NEIGHBOR_SOLICIT, 0, 0x3333, groupLo(group), len);
    }
  }

  /** A neighbor advertisement for `target` (section 4.4) to `dst` at hi/lo, with our MAC. */
  advertise(target: Uint8Array, dst: Uint8Array, hi: number, lo: number, flags: number): void {
    const m = this.#engine.mem;
    m.set(target.subarray(0, 16), ND_OFF);
    const len = this.#lla(OPT_TLLA, ND_OFF + 16);
    this.#begin();
    m.set(target.subarray(0, 16), TX_IP6_SRC);
    m.set(dst.subarray(0, 16), TX_IP6_DST);
    this.#finish(ND_NEIGHBOR_ADVERT, flags, hi, lo, len);
  }

  /**
   * A router solicitation to all-routers ff02::2 (section 4.1) from `src` with our link-layer
   * address, or from :: without it when `src` is null (section 6.3.7).
   */
  routerSolicit(src: Uint8Array | null): void {
    const m = this.#engine.mem;
    const len = src === null ? 0 : this.#lla(OPT_SLLA, ND_OFF);
    this.#begin();
    if (src !== null) m.set(src.subarray(0, 16), TX_IP6_SRC);
    else m.fill(0, TX_IP6_SRC, TX_IP6_SRC + 16);
    m.fill(0, TX_IP6_DST, TX_IP6_DST + 16);
    m[TX_IP6_DST] = 0xff;
    m[TX_IP6_DST + 1] = 0x02;
    m[TX_IP6_DST + 15] = 2;
    this.#finish(ND_ROUTER_SOLICIT, 0, 0x3333, 2, len);
  }

  /** Write our link-layer address option of `type` at `off`; the payload length through it. */
  #lla(type: number, off: number): number {
    const m = this.#engine.mem;
    m[off] = type;
    m[off + 1] = 1;
    m.set(this.#mac, off + 2);
    return off + 8 - ND_OFF;
  }

  #begin(): void {
    const e = this.#engine;
    this.#savedDesc.set(e.txDesc);
    this.#savedAddrs.set(e.mem.subarray(TX_IP6_SRC, TX_IP6_SRC + 32));
  }

  #finish(type: number, rest: number, hi: number, lo: number, len: number): void {
    const e = this.#engine;
    const t = e.txDesc;
    t.fill(0);
    t[D_KIND] = K_ICMP6;
    t[D_VLAN] = -1;
    t[D_ETH_DST_HI] = hi;
    t[D_ETH_DST_LO] = lo | 0;
    t[D_ETH_SRC_HI] = this.#macHi;
    t[D_ETH_SRC_LO] = this.#macLo | 0;
    t[D_IP_TTL] = 255; // RFC 4861 section 7.1
    t[D_ICMP_TYPE] = type;
    t[D_ICMP_REST] = rest | 0;
    const start = e.encode(ND_OFF, len);
    if (start >= 0) this.#out(start, ND_OFF + len - start);
    t.set(this.#savedDesc);
    e.mem.set(this.#savedAddrs, TX_IP6_SRC);
  }
}

/** The low 32 bits of a multicast group's Ethernet address 33:33:xx:xx:xx:xx (RFC 2464 7). */
export function groupLo(group: Uint8Array, off = 0): number {
  return ((group[off + 12]! << 24) | (group[off + 13]! << 16) | (group[off + 14]! << 8) |
    group[off + 15]!) >>> 0;
}

/** The link-local address of a MAC: fe80::/64 with the modified EUI-64 interface identifier. */
export function linkLocalFromMac(mac: Uint8Array): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0xfe;
  a[1] = 0x80;
  a[8] = mac[0]! ^ 0x02; // the universal/local bit inverted (RFC 4291 appendix A)
  a[9] = mac[1]!;
  a[10] = mac[2]!;
  a[11] = 0xff;
  a[12] = 0xfe;
  a[13] = mac[3]!;
  a[14] = mac[4]!;
  a[15] = mac[5]!;
  return a;
}

/** The solicited-node multicast address of `addr`: ff02::1:ff00:0/104 and its low 24 bits. */
export function solicitedNode(addr: Uint8Array): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0xff;
  a[1] = 0x02;
  a[11] = 0x01;
  a[12] = 0xff;
  a[13] = addr[13]!;
  a[14] = addr[14]!;
  a[15] = addr[15]!;
  return a;
}

/** A small deterministic generator (xorshift32) seeded from the MAC. */
export function macSeeded(mac: Uint8Array): () => number {
  let x = ((mac[2]! << 24) | (mac[3]! << 16) | (mac[4]! << 8) | mac[5]!) ^ (mac[1]! << 8) ^
    0x9e3779b9;
  if (x === 0) x = 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}
