/**
 * The segment builder of the tests: a `TcpSegment` from a plain object of the fields a test
 * cares about (the rest as `TcpSegment.clear()` leaves them: zero, no options), and a copy of
 * a segment (for harnesses that hold segments in flight while the sender reuses its record).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { copySegment, segment } from "./segment.ts";
 * const s = segment({ srcPort: 40000, dstPort: 80, seq: 100, flags: 2, mss: 1460 });
 * assert.equal(s.ws, -1);
 * const c = copySegment(s);
 * s.seq = 7;
 * assert.equal(c.seq, 100);
 * ```
 *
 * @module
 */

import { TcpSegment } from "../../src/wire/tcp_segment.ts";

/** The fields of a crafted segment; absent ones stay as `TcpSegment.clear()` sets them. */
export interface SegmentSpec {
  /** Source IPv4 address (u32). */
  srcIp?: number;
  /** Destination IPv4 address (u32). */
  dstIp?: number;
  /** Source port. */
  srcPort?: number;
  /** Destination port. */
  dstPort?: number;
  /** Sequence number (taken modulo 2^32). */
  seq?: number;
  /** Acknowledgment number (taken modulo 2^32). */
  ack?: number;
  /** Flag bits (F_* of src/wire/layout.ts). */
  flags?: number;
  /** Raw window field. */
  wnd?: number;
  /** Urgent pointer. */
  urg?: number;
  /** MSS option. */
  mss?: number;
  /** Window-scale shift. */
  ws?: number;
  /** SACK-permitted option. */
  sackOk?: boolean;
  /** Timestamps option (sets hasTs). */
  ts?: { val: number; ecr?: number };
  /** SACK blocks as [left, right) pairs, flattened (at most 4 blocks). */
  sack?: readonly number[];
  /** Payload offset in packet memory. */
  payloadOff?: number;
  /** Payload length. */
  payloadLen?: number;
}

/** A segment with the fields of `spec`, built into `into` (a new record by default). */
export function segment(spec: SegmentSpec, into: TcpSegment = new TcpSegment()): TcpSegment {
  const s = into.clear();
  if (spec.srcIp !== undefined) s.srcIp = spec.srcIp >>> 0;
  if (spec.dstIp !== undefined) s.dstIp = spec.dstIp >>> 0;
  if (spec.srcPort !== undefined) s.srcPort = spec.srcPort;
  if (spec.dstPort !== undefined) s.dstPort = spec.dstPort;
  if (spec.seq !== undefined) s.seq = spec.seq >>> 0;
  if (spec.ack !== undefined) s.ack = spec.ack >>> 0;
  if (spec.flags !== undefined) s.flags = spec.flags;
  if (spec.wnd !== undefined) s.wnd = spec.wnd;
  if (spec.urg !== undefined) s.urg = spec.urg;
  if (spec.mss !== undefined) s.mss = spec.mss;
  if (spec.ws !== undefined) s.ws = spec.ws;
  if (spec.sackOk !== undefined) s.sackOk = spec.sackOk;
  if (spec.ts !== undefined) {
    s.hasTs = true;
    s.tsVal = spec.ts.val >>> 0;
    s.tsEcr = (spec.ts.ecr ?? 0) >>> 0;
  }
  if (spec.sack !== undefined) {
    if (spec.sack.length % 2 !== 0 || spec.sack.length > 8) {
      throw new RangeError(`SACK blocks must be 0..4 pairs, got ${spec.sack.length} numbers`);
    }
    s.sackCount = spec.sack.length / 2;
    s.sack.set(spec.sack.map((x) => x >>> 0));
  }
  if (spec.payloadOff !== undefined) s.payloadOff = spec.payloadOff;
  if (spec.payloadLen !== undefined) s.payloadLen = spec.payloadLen;
  return s;
}

/** A copy of every field of `s` (SACK blocks included) into `into` (a new record by default). */
export function copySegment(
  s: Readonly<TcpSegment>,
  into: TcpSegment = new TcpSegment(),
): TcpSegment {
  into.srcIp = s.srcIp;
  into.dstIp = s.dstIp;
  into.srcPort = s.srcPort;
  into.dstPort = s.dstPort;
  into.seq = s.seq;
  into.ack = s.ack;
  into.flags = s.flags;
  into.wnd = s.wnd;
  into.urg = s.urg;
  into.mss = s.mss;
  into.ws = s.ws;
  into.sackOk = s.sackOk;
  into.hasTs = s.hasTs;
  into.tsVal = s.tsVal;
  into.tsEcr = s.tsEcr;
  into.sackCount = s.sackCount;
  for (let i = 0; i < 2 * s.sackCount; i++) into.sack[i] = s.sack[i]!;
  into.payloadOff = s.payloadOff;
  into.payloadLen = s.payloadLen;
  return into;
}
