/**
 * A UDP header (RFC 768) as the interface layer sees it: a small mutable record filled from
 * the receive descriptor and written to the transmit descriptor, like `TcpSegment`. Length
 * and checksum are the engine's business on output.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UdpHeader } from "./udp_header.ts";
 * import { DESC_WORDS } from "./layout.ts";
 * const d = new Int32Array(DESC_WORDS);
 * const out = new UdpHeader();
 * out.srcPort = 5353;
 * out.dstPort = 53;
 * out.toDesc(d);
 * assert.equal(new UdpHeader().fromDesc(d).dstPort, 53);
 * ```
 *
 * @module
 */

import { D_DST_PORT, D_PAYLOAD_LEN, D_PAYLOAD_OFF, D_SRC_PORT, D_UDP_LEN } from "./layout.ts";

/** The ports of a UDP datagram and where its data lies. */
export class UdpHeader {
  /** Source port. */
  srcPort = 0;
  /** Destination port. */
  dstPort = 0;
  /** Input: the length field (header and data). */
  length = 0;
  /** Input: offset of the data in packet memory. */
  payloadOff = 0;
  /** Input: length of the data. */
  payloadLen = 0;

  /** Fill from a receive descriptor after a successful decode of kind K_UDP. */
  fromDesc(d: Int32Array): this {
    this.srcPort = d[D_SRC_PORT]!;
    this.dstPort = d[D_DST_PORT]!;
    this.length = d[D_UDP_LEN]!;
    this.payloadOff = d[D_PAYLOAD_OFF]!;
    this.payloadLen = d[D_PAYLOAD_LEN]!;
    return this;
  }

  /** Write the ports into a transmit descriptor. */
  toDesc(d: Int32Array): void {
    d[D_SRC_PORT] = this.srcPort;
    d[D_DST_PORT] = this.dstPort;
  }
}
