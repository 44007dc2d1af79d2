/**
 * An Ethernet II frame header (IEEE 802.3, RFC 894) as the interface layer sees it: a small
 * mutable record filled from the receive descriptor and written to the transmit descriptor,
 * like `TcpSegment`. One instance is reused per direction; nothing is allocated per packet.
 * MAC addresses are two words: `hi` holds the first 2 bytes, `lo` the last 4 (u32).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EthernetFrame } from "./ethernet_frame.ts";
 * import { DESC_WORDS, K_ARP } from "./layout.ts";
 * const d = new Int32Array(DESC_WORDS);
 * const out = new EthernetFrame();
 * out.kind = K_ARP;
 * out.srcHi = 0x0200;
 * out.srcLo = 0xaabbccdd;
 * out.ethertype = 0x0806;
 * out.toDesc(d);
 * const back = new EthernetFrame().fromDesc(d);
 * assert.equal(back.srcLo, 0xaabbccdd);
 * assert.equal(back.vlan, -1);
 * ```
 *
 * @module
 */

import {
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_ETHERTYPE,
  D_FRAME_LEN,
  D_FRAME_OFF,
  D_KIND,
  D_L3_OFF,
  D_VLAN,
} from "./layout.ts";

/** EtherType of IPv4 (RFC 894). */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of ARP (RFC 826). */
export const ETHERTYPE_ARP = 0x0806;
/** EtherType of IPv6 (RFC 2464). */
export const ETHERTYPE_IPV6 = 0x86dd;

/** The link-layer header of a frame, and what the engine found inside it. */
export class EthernetFrame {
  /**
   * What the frame carries (K_* of layout.ts): decode's classification on input, the frame
   * encode is to build on output.
   */
  kind = 0;
  /** Destination MAC, first 2 bytes. */
  dstHi = 0;
  /** Destination MAC, last 4 bytes (u32). */
  dstLo = 0;
  /** Source MAC, first 2 bytes. */
  srcHi = 0;
  /** Source MAC, last 4 bytes (u32). */
  srcLo = 0;
  /** The EtherType (after the 802.1Q tag when there is one). */
  ethertype = 0;
  /** The 802.1Q tag control information, -1 when untagged. */
  vlan = -1;
  /** Input: offset of the frame in packet memory. */
  frameOff = 0;
  /** Input: length of the frame in bytes. */
  frameLen = 0;
  /** Input: offset of the ARP or IPv4 header in packet memory. */
  l3Off = 0;

  /** Fill from a receive descriptor after a successful decode. */
  fromDesc(d: Int32Array): this {
    this.kind = d[D_KIND]!;
    this.dstHi = d[D_ETH_DST_HI]!;
    this.dstLo = d[D_ETH_DST_LO]! >>> 0;
    this.srcHi = d[D_ETH_SRC_HI]!;
    this.srcLo = d[D_ETH_SRC_LO]! >>> 0;
    this.ethertype = d[D_ETHERTYPE]!;
    this.vlan = d[D_VLAN]!;
    this.frameOff = d[D_FRAME_OFF]!;
    this.frameLen = d[D_FRAME_LEN]!;
    this.l3Off = d[D_L3_OFF]!;
    return this;
  }

  /** Write the kind, the addresses, the EtherType and the tag into a transmit descriptor. */
  toDesc(d: Int32Array): void {
    d[D_KIND] = this.kind;
    d[D_ETH_DST_HI] = this.dstHi;
    d[D_ETH_DST_LO] = this.dstLo | 0;
    d[D_ETH_SRC_HI] = this.srcHi;
    d[D_ETH_SRC_LO] = this.srcLo | 0;
    d[D_ETHERTYPE] = this.ethertype;
    d[D_VLAN] = this.vlan;
  }
}
