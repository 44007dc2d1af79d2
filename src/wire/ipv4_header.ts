/**
 * An IPv4 header (RFC 791 section 3.1) as the interface layer sees it: a small mutable record
 * filled from the receive descriptor (after `decode` or `decodeIpv4`) and written to the
 * transmit descriptor, like `TcpSegment`. One instance is reused per direction; nothing is
 * allocated per packet. Addresses are u32 numbers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Ipv4Header } from "./ipv4_header.ts";
 * import { DESC_WORDS } from "./layout.ts";
 * const d = new Int32Array(DESC_WORDS);
 * const out = new Ipv4Header();
 * out.src = 0x0a000001;
 * out.dst = 0xc0a80001;
 * out.frag = 0x2000 | 185; // more fragments, offset 1480 bytes
 * out.toDesc(d);
 * const back = new Ipv4Header().fromDesc(d);
 * assert.equal(back.dst, 0xc0a80001);
 * assert(back.moreFragments && back.fragmentOffset === 1480);
 * ```
 *
 * @module
 */

import {
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
} from "./layout.ts";

/** The DF flag in `frag` (RFC 791: flags << 13 | fragment offset). */
export const IP_DF = 0x4000;
/** The MF flag in `frag`. */
export const IP_MF = 0x2000;

/** A decoded or to-be-encoded IPv4 header. */
export class Ipv4Header {
  /**
   * Input: what decode found in the datagram (K_TCP, K_UDP, K_ICMP, K_IPV4_FRAGMENT or
   * K_IPV4_OTHER of layout.ts). Not written by toDesc (the Ethernet record carries the kind
   * of an outgoing frame).
   */
  kind = 0;
  /** Input: offset of the IPv4 header in packet memory. */
  headerOff = 0;
  /** Input: header length in bytes (IHL * 4). */
  headerLen = 0;
  /** Type of service / DSCP+ECN byte. */
  tos = 0;
  /** Input: total length of the datagram. */
  totalLen = 0;
  /** Identification. */
  id = 0;
  /** Flags (3 bits) << 13 | fragment offset in 8-byte units. */
  frag = 0;
  /** Time to live. */
  ttl = 0;
  /** Protocol number (PROTO_* of checksum.ts). */
  proto = 0;
  /** Source address (u32). */
  src = 0;
  /** Destination address (u32). */
  dst = 0;
  /** Input: offset of the IPv4 payload in packet memory. */
  payloadOff = 0;
  /** Input: length of the IPv4 payload (total length - header length). */
  payloadLen = 0;

  /** DF: don't fragment. */
  get dontFragment(): boolean {
    return (this.frag & IP_DF) !== 0;
  }

  /** MF: more fragments follow. */
  get moreFragments(): boolean {
    return (this.frag & IP_MF) !== 0;
  }

  /** The fragment offset in bytes. */
  get fragmentOffset(): number {
    return (this.frag & 0x1fff) * 8;
  }

  /** Fill from a receive descriptor after a successful decode of an IPv4 kind. */
  fromDesc(d: Int32Array): this {
    this.kind = d[D_KIND]!;
    this.headerOff = d[D_L3_OFF]!;
    this.headerLen = d[D_IP_HLEN]!;
    this.tos = d[D_IP_TOS]!;
    this.totalLen = d[D_IP_TOTLEN]!;
    this.id = d[D_IP_ID]!;
    this.frag = d[D_IP_FRAG]!;
    this.ttl = d[D_IP_TTL]!;
    this.proto = d[D_IP_PROTO]!;
    this.src = d[D_IP_SRC]! >>> 0;
    this.dst = d[D_IP_DST]! >>> 0;
    this.payloadOff = d[D_L4_OFF]!;
    this.payloadLen = d[D_L4_LEN]!;
    return this;
  }

  /**
   * Write the fields encode takes (TOS, identification, flags and offset, TTL, protocol,
   * addresses) into a transmit descriptor. Encode computes the lengths and the checksum; it
   * reads the protocol only for fragments (other kinds imply theirs).
   */
  toDesc(d: Int32Array): void {
    d[D_IP_TOS] = this.tos;
    d[D_IP_ID] = this.id;
    d[D_IP_FRAG] = this.frag;
    d[D_IP_TTL] = this.ttl;
    d[D_IP_PROTO] = this.proto;
    d[D_IP_SRC] = this.src | 0;
    d[D_IP_DST] = this.dst | 0;
  }
}

/**
 * True when the IPv4 options at `mem[l3Off+20, l3Off+hlen)` hold a loose or strict source
 * route (RFC 791 section 3.1, option types 131 and 137). Malformed options end the scan.
 */
export function hasSourceRoute(mem: Uint8Array, l3Off: number, hlen: number): boolean {
  let i = l3Off + 20;
  const end = l3Off + hlen;
  while (i < end) {
    const type = mem[i]!;
    if (type === 0) return false; // end of option list
    if (type === 1) {
      i++; // no-operation
      continue;
    }
    if (type === 0x83 || type === 0x89) return true; // loose / strict source and record route
    const len = i + 1 < end ? mem[i + 1]! : 0;
    if (len < 2) return false; // malformed: the rest is not options we act on
    i += len;
  }
  return false;
}
