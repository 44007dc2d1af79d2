/**
 * One TCP segment as the trace API, the ladder and the time-sequence plot see it, decoded from
 * a whole Ethernet frame by the JS engine's decoder (`jsDecode`, the same code that reads
 * every frame the stack receives).
 *
 * Decoding for a trace is lenient where a capture needs it: a frame whose IPv4 or TCP checksum
 * is wrong (a capture taken before the NIC's checksum offload filled it in, or our own TAP
 * offload frames with a partial checksum) and a frame cut short by the capture's snap length
 * are decoded from a private copy whose checksums are recomputed (and whose missing payload is
 * zero-filled); the segment then says so (`checksumBad`, `truncated`).
 *
 * @module
 */

import { jsDecode } from "../kernels/js/decode.ts";
import { jsChecksum } from "../kernels/js/checksum.ts";
import { PROTO_TCP, pseudoHeaderSum } from "../wire/checksum.ts";
import {
  D_DST_PORT,
  D_ETHERTYPE,
  D_IP_DST,
  D_IP_SRC,
  D_KIND,
  D_L3_OFF,
  D_OPT_MSS,
  D_OPT_SACK,
  D_OPT_SACK_N,
  D_OPT_SACK_OK,
  D_OPT_TS,
  D_OPT_TSECR,
  D_OPT_TSVAL,
  D_OPT_WS,
  D_PAYLOAD_LEN,
  D_SRC_PORT,
  D_TCP_ACK,
  D_TCP_FLAGS,
  D_TCP_SEQ,
  D_TCP_WND,
  DROP_IP_BAD_CHECKSUM,
  DROP_TCP_BAD_CHECKSUM,
  F_ACK,
  F_CWR,
  F_ECE,
  F_FIN,
  F_PSH,
  F_RST,
  F_SYN,
  F_URG,
  K_ARP,
  K_ICMP,
  K_ICMP6,
  K_IPV4_FRAGMENT,
  K_IPV4_OTHER,
  K_IPV6_FRAGMENT,
  K_TCP,
  K_TCP6,
  K_UDP,
  K_UDP6,
} from "../wire/layout.ts";
import { dropName } from "../wire/drop.ts";
import { formatIpv6 } from "../wire/ipv6_address.ts";

/** The TCP options a segment carried (RFC 9293 3.2, RFC 7323, RFC 2018). */
export interface SegmentOptions {
  /** Maximum segment size (SYN only), or undefined. */
  mss?: number;
  /** Window scale shift (SYN only, RFC 7323 2.2), or undefined. */
  wscale?: number;
  /** SACK permitted (SYN only, RFC 2018 2). */
  sackPermitted: boolean;
  /** Timestamps TSval and TSecr (RFC 7323 3), or undefined. */
  timestamps?: { val: number; ecr: number };
  /** SACK blocks [left, right) (RFC 2018 3), in the order sent. */
  sack: Array<[number, number]>;
}

/** One TCP segment, decoded from a frame. Sequence numbers are u32. */
export interface SegmentInfo {
  /** Sender "ip:port". */
  src: string;
  /** Receiver "ip:port". */
  dst: string;
  /** SEQ. */
  seq: number;
  /** ACK (meaningful when the ACK flag is set). */
  ack: number;
  /** Flag bits (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128). */
  flags: number;
  /** Payload bytes. */
  len: number;
  /** The raw 16-bit window field, unscaled. */
  window: number;
  /** Options carried. */
  options: SegmentOptions;
  /** The IPv4 or TCP checksum was wrong in the frame (a checksum offload, usually). */
  checksumBad?: boolean;
  /** The frame was cut short by the capture (snap length); `len` is the segment's real length. */
  truncated?: boolean;
}

/** "SYN+ACK", "PSH+ACK", "FIN+ACK", ... in the order people say them. */
export function flagNames(f: number): string {
  const names: string[] = [];
  const order: Array<[number, string]> = [
    [F_SYN, "SYN"],
    [F_FIN, "FIN"],
    [F_RST, "RST"],
    [F_PSH, "PSH"],
    [F_URG, "URG"],
    [F_ACK, "ACK"],
    [F_ECE, "ECE"],
    [F_CWR, "CWR"],
  ];
  for (const [bit, name] of order) if (f & bit) names.push(name);
  return names.join("+") || "none";
}

/** What a frame that is not an IPv4 TCP segment is, for counts of skipped frames. */
function kindName(d: Int32Array): string {
  switch (d[D_KIND]) {
    case K_ARP:
      return "ARP";
    case K_ICMP:
      return "ICMP";
    case K_UDP:
      return "UDP";
    case K_IPV4_FRAGMENT:
      return "IPv4 fragment";
    case K_IPV4_OTHER:
      return "other IPv4";
    case K_ICMP6:
      return "ICMPv6";
    case K_UDP6:
      return "UDP over IPv6";
    case K_IPV6_FRAGMENT:
      return "IPv6 fragment";
    default:
      return d[D_ETHERTYPE] === 0x86dd ? "other IPv6" : "other";
  }
}

function ipText(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** A reusable decoder (one scratch frame and descriptor; not reentrant). */
export class SegmentDecoder {
  #desc = new Int32Array(64);
  #scratch = new Uint8Array(0);
  /** The bytes the last decode read (the frame, or the repaired copy). */
  #from: Uint8Array = this.#scratch;

  /**
   * Decode `buf[off, off+len)`; `wireLen` is the frame's length on the wire when the capture
   * kept fewer bytes. Returns the segment, or a string: what the frame is instead ("ARP",
   * "UDP", "ICMPv6"...), or the decoder's drop reason. TCP over IPv6 is decoded like TCP over
   * IPv4; its endpoints read "[fd00::1]:80".
   */
  decode(buf: Uint8Array, off: number, len: number, wireLen = len): SegmentInfo | string {
    const d = this.#desc;
    let truncated = false;
    let checksumBad = false;
    let verdict: number;
    if (wireLen > len) {
      truncated = true;
      verdict = this.#repair(buf, off, len, wireLen);
    } else {
      this.#from = buf;
      verdict = jsDecode(buf, off, len, d);
      if (verdict === DROP_IP_BAD_CHECKSUM || verdict === DROP_TCP_BAD_CHECKSUM) {
        checksumBad = true;
        verdict = this.#repair(buf, off, len, len);
      }
    }
    if (verdict !== 0) return dropName(verdict);
    const v6 = d[D_KIND] === K_TCP6;
    if (d[D_KIND] !== K_TCP && !v6) return kindName(d);
    const sack: Array<[number, number]> = [];
    for (let i = 0; i < d[D_OPT_SACK_N]!; i++) {
      sack.push([d[D_OPT_SACK + 2 * i]! >>> 0, d[D_OPT_SACK + 2 * i + 1]! >>> 0]);
    }
    const options: SegmentOptions = { sackPermitted: d[D_OPT_SACK_OK] === 1, sack };
    if (d[D_OPT_MSS]! >= 0) options.mss = d[D_OPT_MSS]!;
    if (d[D_OPT_WS]! >= 0) options.wscale = d[D_OPT_WS]!;
    if (d[D_OPT_TS] === 1) {
      options.timestamps = { val: d[D_OPT_TSVAL]! >>> 0, ecr: d[D_OPT_TSECR]! >>> 0 };
    }
    const seg: SegmentInfo = {
      src: `${v6 ? this.#ip6(d[D_L3_OFF]! + 8) : ipText(d[D_IP_SRC]! >>> 0)}:${d[D_SRC_PORT]}`,
      dst: `${v6 ? this.#ip6(d[D_L3_OFF]! + 24) : ipText(d[D_IP_DST]! >>> 0)}:${d[D_DST_PORT]}`,
      seq: d[D_TCP_SEQ]! >>> 0,
      ack: d[D_TCP_ACK]! >>> 0,
      flags: d[D_TCP_FLAGS]!,
      len: d[D_PAYLOAD_LEN]!,
      window: d[D_TCP_WND]!,
      options,
    };
    if (checksumBad) seg.checksumBad = true;
    if (truncated) seg.truncated = true;
    return seg;
  }

  /** "[fd00::1]" from the 16 bytes at `off` of the decoded bytes. */
  #ip6(off: number): string {
    return `[${formatIpv6(this.#from.subarray(off, off + 16))}]`;
  }

  /**
   * Copy the frame (zero-filled up to `wireLen`), recompute the IPv4 and TCP checksums of an
   * IPv4/TCP frame (the TCP checksum of an IPv6/TCP one, RFC 8200 8.1) and decode the copy.
   * Other frames keep their verdict.
   */
  #repair(buf: Uint8Array, off: number, len: number, wireLen: number): number {
    const n = Math.min(wireLen, 65535 + 18);
    if (this.#scratch.length < n) this.#scratch = new Uint8Array(Math.max(n, 2048));
    const m = this.#scratch;
    m.fill(0, 0, n);
    m.set(buf.subarray(off, off + Math.min(len, n)));
    let l3 = 14;
    let type = n >= 14 ? (m[12]! << 8) | m[13]! : 0;
    if (type === 0x8100 && n >= 18) {
      type = (m[16]! << 8) | m[17]!;
      l3 = 18;
    }
    if (type === 0x0800 && l3 + 20 <= n && m[l3 + 9] === PROTO_TCP) {
      const ihl = (m[l3]! & 15) * 4;
      const total = (m[l3 + 2]! << 8) | m[l3 + 3]!;
      if (ihl >= 20 && total >= ihl + 20 && l3 + total <= n) {
        m[l3 + 10] = m[l3 + 11] = 0;
        const ipSum = jsChecksum(m, l3, ihl, 0);
        m[l3 + 10] = ipSum >> 8;
        m[l3 + 11] = ipSum & 255;
        const tcp = l3 + ihl;
        const tcpLen = total - ihl;
        const view = new DataView(m.buffer, m.byteOffset);
        m[tcp + 16] = m[tcp + 17] = 0;
        const pseudo = pseudoHeaderSum(
          view.getUint32(l3 + 12),
          view.getUint32(l3 + 16),
          PROTO_TCP,
          tcpLen,
        );
        const sum = jsChecksum(m, tcp, tcpLen, pseudo);
        m[tcp + 16] = sum >> 8;
        m[tcp + 17] = sum & 255;
      }
    }
    if (type === 0x86dd && l3 + 40 + 20 <= n && m[l3 + 6] === PROTO_TCP) {
      const tcpLen = (m[l3 + 4]! << 8) | m[l3 + 5]!;
      const tcp = l3 + 40;
      if (tcpLen >= 20 && tcp + tcpLen <= n) {
        let pseudo = PROTO_TCP + tcpLen;
        for (let i = l3 + 8; i < l3 + 40; i += 2) pseudo += (m[i]! << 8) | m[i + 1]!;
        m[tcp + 16] = m[tcp + 17] = 0;
        const sum = jsChecksum(m, tcp, tcpLen, pseudo);
        m[tcp + 16] = sum >> 8;
        m[tcp + 17] = sum & 255;
      }
    }
    this.#from = m;
    return jsDecode(m, 0, n, this.#desc);
  }
}
