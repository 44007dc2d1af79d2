/**
 * A TCP segment as the TCP engine sees it: a small mutable record, filled from the receive
 * descriptor for input and written to the transmit descriptor for output. One instance is
 * reused per direction; nothing is allocated per packet.
 *
 * @module
 */

import {
  D_DST_PORT,
  D_IP_DST,
  D_IP_SRC,
  D_OPT_MSS,
  D_OPT_SACK,
  D_OPT_SACK_N,
  D_OPT_SACK_OK,
  D_OPT_TS,
  D_OPT_TSECR,
  D_OPT_TSVAL,
  D_OPT_WS,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  D_SRC_PORT,
  D_TCP_ACK,
  D_TCP_FLAGS,
  D_TCP_SEQ,
  D_TCP_URG,
  D_TCP_WND,
} from "./layout.ts";

/** A decoded or to-be-encoded TCP segment (RFC 9293 section 3.1). */
export class TcpSegment {
  /** Source IPv4 address (u32). */
  srcIp = 0;
  /** Destination IPv4 address (u32). */
  dstIp = 0;
  /** Source port. */
  srcPort = 0;
  /** Destination port. */
  dstPort = 0;
  /** Sequence number (u32). */
  seq = 0;
  /** Acknowledgment number (u32), meaningful with F_ACK. */
  ack = 0;
  /** Flag bits (F_FIN ... F_CWR of layout.ts). */
  flags = 0;
  /** Raw 16-bit window field (not scaled). */
  wnd = 0;
  /** Urgent pointer, meaningful with F_URG. */
  urg = 0;
  /** MSS option, -1 when absent. */
  mss: number = -1;
  /** Window-scale shift, -1 when absent. */
  ws: number = -1;
  /** SACK-permitted option present (SYN only, RFC 2018). */
  sackOk = false;
  /** Timestamps option present (RFC 7323 section 3). */
  hasTs = false;
  /** TSval of the timestamps option. */
  tsVal = 0;
  /** TSecr of the timestamps option. */
  tsEcr = 0;
  /** Number of SACK blocks in `sack` (0..4). */
  sackCount = 0;
  /** SACK blocks as [left, right) pairs. */
  readonly sack: Uint32Array = new Uint32Array(8);
  /** Input: payload offset in packet memory. */
  payloadOff = 0;
  /** Payload length in bytes. */
  payloadLen = 0;

  /** Fill from a receive descriptor after a successful decode of kind K_TCP. */
  fromDesc(d: Int32Array): this {
    this.srcIp = d[D_IP_SRC]! >>> 0;
    this.dstIp = d[D_IP_DST]! >>> 0;
    this.srcPort = d[D_SRC_PORT]!;
    this.dstPort = d[D_DST_PORT]!;
    this.seq = d[D_TCP_SEQ]! >>> 0;
    this.ack = d[D_TCP_ACK]! >>> 0;
    this.flags = d[D_TCP_FLAGS]!;
    this.wnd = d[D_TCP_WND]!;
    this.urg = d[D_TCP_URG]!;
    this.mss = d[D_OPT_MSS]!;
    this.ws = d[D_OPT_WS]!;
    this.sackOk = d[D_OPT_SACK_OK] === 1;
    this.hasTs = d[D_OPT_TS] === 1;
    this.tsVal = d[D_OPT_TSVAL]! >>> 0;
    this.tsEcr = d[D_OPT_TSECR]! >>> 0;
    const n = d[D_OPT_SACK_N]!;
    this.sackCount = n;
    for (let i = 0; i < 2 * n; i++) this.sack[i] = d[D_OPT_SACK + i]! >>> 0;
    this.payloadOff = d[D_PAYLOAD_OFF]!;
    this.payloadLen = d[D_PAYLOAD_LEN]!;
    return this;
  }

  /** Write the TCP fields (ports, numbers, flags, options) into a transmit descriptor. */
  toDesc(d: Int32Array): void {
    d[D_IP_SRC] = this.srcIp | 0;
    d[D_IP_DST] = this.dstIp | 0;
    d[D_SRC_PORT] = this.srcPort;
    d[D_DST_PORT] = this.dstPort;
    d[D_TCP_SEQ] = this.seq | 0;
    d[D_TCP_ACK] = this.ack | 0;
    d[D_TCP_FLAGS] = this.flags;
    d[D_TCP_WND] = this.wnd;
    d[D_TCP_URG] = this.urg;
    d[D_OPT_MSS] = this.mss;
    d[D_OPT_WS] = this.ws;
    d[D_OPT_SACK_OK] = this.sackOk ? 1 : 0;
    d[D_OPT_TS] = this.hasTs ? 1 : 0;
    d[D_OPT_TSVAL] = this.tsVal | 0;
    d[D_OPT_TSECR] = this.tsEcr | 0;
    d[D_OPT_SACK_N] = this.sackCount;
    for (let i = 0; i < 2 * this.sackCount; i++) d[D_OPT_SACK + i] = this.sack[i]! | 0;
  }

  /** Reset to an empty segment with no options. */
  clear(): this {
    this.srcIp =
      this.dstIp =
      this.srcPort =
      this.dstPort =
        0;
    this.seq =
      this.ack =
      this.flags =
      this.wnd =
      this.urg =
        0;
    this.mss = this.ws = -1;
    this.sackOk = this.hasTs = false;
    this.tsVal = this.tsEcr = this.sackCount = 0;
    this.payloadOff = this.payloadLen = 0;
    return this;
  }
}
