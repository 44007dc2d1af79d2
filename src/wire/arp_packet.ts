/**
 * An ARP packet for Ethernet and IPv4 (RFC 826) as the interface layer sees it: a small
 * mutable record filled from the receive descriptor and written to the transmit descriptor,
 * like `TcpSegment`. Hardware addresses are two words (`hi` = first 2 bytes, `lo` = last 4).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ARP_REQUEST, ArpPacket } from "./arp_packet.ts";
 * import { DESC_WORDS } from "./layout.ts";
 * const d = new Int32Array(DESC_WORDS);
 * const out = new ArpPacket();
 * out.op = ARP_REQUEST;
 * out.spa = 0x0a000002;
 * out.tpa = 0x0a000001;
 * out.toDesc(d);
 * assert.equal(new ArpPacket().fromDesc(d).tpa, 0x0a000001);
 * ```
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
} from "./layout.ts";

/** ARP operation: request (RFC 826). */
export const ARP_REQUEST = 1;
/** ARP operation: reply. */
export const ARP_REPLY = 2;

/** The fields of an Ethernet/IPv4 ARP packet. */
export class ArpPacket {
  /** Operation (ARP_REQUEST, ARP_REPLY). */
  op = 0;
  /** Sender hardware address, first 2 bytes. */
  shaHi = 0;
  /** Sender hardware address, last 4 bytes (u32). */
  shaLo = 0;
  /** Sender protocol address (u32). */
  spa = 0;
  /** Target hardware address, first 2 bytes. */
  thaHi = 0;
  /** Target hardware address, last 4 bytes (u32). */
  thaLo = 0;
  /** Target protocol address (u32). */
  tpa = 0;

  /** Fill from a receive descriptor after a successful decode of kind K_ARP. */
  fromDesc(d: Int32Array): this {
    this.op = d[D_ARP_OP]!;
    this.shaHi = d[D_ARP_SHA_HI]!;
    this.shaLo = d[D_ARP_SHA_LO]! >>> 0;
    this.spa = d[D_ARP_SPA]! >>> 0;
    this.thaHi = d[D_ARP_THA_HI]!;
    this.thaLo = d[D_ARP_THA_LO]! >>> 0;
    this.tpa = d[D_ARP_TPA]! >>> 0;
    return this;
  }

  /** Write the ARP fields into a transmit descriptor. */
  toDesc(d: Int32Array): void {
    d[D_ARP_OP] = this.op;
    d[D_ARP_SHA_HI] = this.shaHi;
    d[D_ARP_SHA_LO] = this.shaLo | 0;
    d[D_ARP_SPA] = this.spa | 0;
    d[D_ARP_THA_HI] = this.thaHi;
    d[D_ARP_THA_LO] = this.thaLo | 0;
    d[D_ARP_TPA] = this.tpa | 0;
  }
}
