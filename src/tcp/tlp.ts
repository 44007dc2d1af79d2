/**
 * The tail loss probe (RFC 8985 section 7): when the last segments of a flight are lost no
 * duplicate ACK comes back, and only the RTO (200 ms at least) would repair them. A probe
 * timeout of about two round trips sends one segment first, whose ACK (or SACK) exposes the
 * loss to fast recovery. Here: scheduling the probe timer (7.2) and what the probe's
 * acknowledgment shows (7.4). The probe itself (7.3) is sent by `onPto` in tcp_timers.ts.
 *
 * @module
 */

import { seqDiff, seqGe, seqLe, seqLt } from "../wire/seq.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import type { TcpConnection } from "./connection.ts";

/** RFC 8985 7.2 WCDelAckT: the worst-case delayed ACK a single segment may wait for. */
const WC_DEL_ACK_MS = 200;
/** Linux TCP_TIMEOUT_MIN (2 jiffies at HZ=1000) added for flights of several segments. */
const PTO_SLACK_MS = 2;

/**
 * Arm, move or cancel the probe timer after output. A probe is scheduled only when RFC 8985
 * 7.2 allows it: SACK negotiated, nothing SACKed, not in fast or RTO recovery, no probe out,
 * data in flight and an RTT sample. PTO = 2 SRTT, plus WCDelAckT when one segment is in
 * flight (its ACK may be delayed) or Linux's 2 ms slack otherwise, and never after the RTO.
 * `sentNew` says new data just left (RFC 8985 7.2: reschedule on transmission).
 */
export function schedulePto(c: TcpConnection, now: number, sentNew: boolean): void {
  const flight = seqDiff(c.snd.max, c.snd.una);
  const st = c.st;
  const ok = c.sackOk && c.opt.tailLossProbe && !c.rec.fastRecovery && c.tlp.end < 0 &&
    flight > 0 &&
    c.timers.retries === 0 &&
    c.timers.rtx !== Infinity && c.rtt.hasSample && (c.rec.sb === null || c.rec.sb.count === 0) &&
    (st === "ESTABLISHED" || st === "CLOSE-WAIT" || st === "FIN-WAIT-1" || st === "CLOSING" ||
      st === "LAST-ACK");
  if (!ok) {
    c.timers.pto = Infinity;
    return;
  }
  if (c.timers.pto !== Infinity && !sentNew) return;
  let pto = 2 * c.rtt.srtt + (flight <= c.snd.mss ? WC_DEL_ACK_MS : PTO_SLACK_MS);
  if (now + pto > c.timers.rtx) pto = c.timers.rtx - now;
  if (pto <= 0) {
    c.timers.pto = Infinity; // the RTO is due first
    return;
  }
  c.arm("pto", now + Math.ceil(pto));
}

/**
 * RFC 8985 7.4, for each ACK while a probe is out (`advanced`: it moved SND.UNA; `dsack`: its
 * first SACK block reported a duplicate). Returns true when the probe was SACKed above holes:
 * everything un-SACKed below it was sent two round trips before a segment that arrived, so
 * it is lost (RACK's rule) and `c.tlp.lost` is set for fast recovery to repair it.
 */
export function onProbeAck(
  c: TcpConnection,
  seg: TcpSegment,
  advanced: boolean,
  dsack: boolean,
  now: number,
): boolean {
  if (c.tlp.end < 0) return false;
  const ack = seg.ack;
  if (seqLt(ack, c.tlp.end)) {
    const sb = c.rec.sb;
    if (sb !== null && sb.count > 0 && sb.skip(c.tlp.seq) !== c.tlp.seq && seqLt(ack, c.tlp.seq)) {
      c.tlp.lost = c.tlp.seq;
      c.tlp.end = -1;
      return true;
    }
    return false;
  }
  // The ACK covers the probe (Linux tcp_process_tlp_ack).
  if (c.tlp.rtx && !dsack && advanced && seqGe(ack, c.tlp.end)) {
    // The probe repaired a loss: respond as to a fast retransmission (RFC 8985 7.4.1): the
    // algorithm's ssthresh from the window, and cwnd down to it (as Linux's CWR state ends).
    c.cc.enterRecovery(c.cc.cwnd, c.snd.mss, now);
    c.cc.cwnd = c.cc.ssthresh;
    c.host.count("tcp-tlp-recovery");
  }
  c.tlp.end = -1;
  return false;
}

/**
 * Whether the first SACK block of `seg` is a D-SACK (RFC 2883 section 4): below the
 * cumulative ACK, or inside the second block.
 */
export function hasDsack(seg: TcpSegment): boolean {
  if (seg.sackCount === 0) return false;
  const l = seg.sack[0]!, r = seg.sack[1]!;
  if (seqLe(r, seg.ack)) return true;
  return seg.sackCount > 1 && seqGe(l, seg.sack[2]!) && seqLe(r, seg.sack[3]!);
}
