/**
 * Scheduling the tail loss probe (RFC 8985 section 7.2): when the last segments of a flight
 * are lost no duplicate ACK comes back, and only the RTO (200 ms at least) would repair them.
 * A probe timeout of about two round trips sends one segment first, whose ACK (or SACK)
 * exposes the loss to fast recovery.
 *
 * @module
 */

import { seqDiff } from "../wire/seq.ts";
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
  const ok = c.sackOk && c.opt.tailLossProbe && !c.rec.fast && c.tlp.end < 0 && flight > 0 &&
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
