/**
 * Connection timers: retransmission (RFC 6298 section 5), persist (RFC 9293 3.8.6.1),
 * keepalive (RFC 1122 4.2.3.6), delayed ACK (RFC 1122 4.2.3.2) and TIME-WAIT (2 MSL).
 *
 * @module
 */

import { seqAdd, seqDiff, seqGt } from "../wire/seq.ts";
import type { TcpConnection } from "./connection.ts";
import { output, sendData, sendProbe, sendSyn } from "./tcp_output.ts";
import { TcpError } from "./types.ts";
import { onPto } from "./tlp.ts";
import { checkScoreboardLoss } from "./recovery.ts";
import { armRackTimer } from "./loss.ts";

function timedOut(c: TcpConnection): void {
  c.toClosed(new TcpError("timed-out", "Connection timed out"));
}

/** Run every due timer of `c`, then flush. */
export function runTimers(c: TcpConnection, now: number): void {
  if (c.timeWaitAt <= now) {
    c.timeWaitAt = Infinity;
    c.toClosed(null);
    return;
  }
  if (c.ptoAt <= now) {
    // The probe goes first when it is due with the RTO (RFC 8985 7.2: PTO = min(PTO, RTO));
    // sending it re-arms the RTO.
    c.ptoAt = Infinity;
    onPto(c, now);
    if (c.st === "CLOSED") return;
  }
  if (c.rackAt <= now) {
    // RACK's reordering timer (RFC 8985 6.2 step 5): segments may now count as lost.
    c.rackAt = Infinity;
    checkScoreboardLoss(c, now);
    armRackTimer(c, now);
  }
  if (c.rtxAt <= now) {
    c.rtxAt = Infinity;
    onRto(c, now);
    if (c.st === "CLOSED") return;
  }
  if (c.persistAt <= now) {
    c.persistAt = Infinity;
    onPersist(c, now);
    if (c.st === "CLOSED") return;
  }
  if (c.keepAt <= now) {
    c.keepAt = Infinity;
    onKeepalive(c, now);
    if (c.st === "CLOSED") return;
  }
  if (c.delackAt <= now) {
    c.delackAt = Infinity;
    c.ackNow = true;
  }
  output(c, now);
}

function userTimeoutHit(c: TcpConnection, now: number): boolean {
  return c.opt.userTimeoutMs > 0 && now - c.progressAt >= c.opt.userTimeoutMs;
}

/** The retransmission timer expired (RFC 6298 5.4-5.7). */
function onRto(c: TcpConnection, now: number): void {
  const st = c.st;
  if (st === "SYN-SENT" || st === "SYN-RECEIVED") {
    // A half-open connection of a listener under SYN pressure gets fewer retries (Linux).
    const limit = c.listener ? c.listener.synRetryLimit() : c.opt.synRetries;
    if (++c.retries > limit) {
      if (c.passive) c.toClosed(null);
      else timedOut(c);
      return;
    }
    c.rtt.backoff();
    c.rttStart = -1; // Karn's rule
    c.retransmits++;
    sendSyn(c, now);
    return;
  }
  if (c.sndUna === c.sndMax) return;
  if (++c.retries > c.opt.maxRetries || userTimeoutHit(c, now)) {
    timedOut(c);
    return;
  }
  c.host.count("tcp-rto");
  c.cc.onTimeout(seqDiff(c.sndMax, c.sndUna), c.mss, now);
  c.inRecovery = false;
  c.sackRecovery = false;
  c.rtxLog?.clear();
  c.tlpEnd = c.probeLost = -1;
  c.recover = c.sndMax; // RFC 6582 section 4
  c.dupAcks = 0;
  c.dupThresh = 3; // a timeout: forget the reordering estimate
  c.rtt.backoff();
  c.rttStart = -1;
  c.sndNxt = c.sndUna; // go back: resend from the first unacknowledged byte
  if (c.sb) c.sb.highRxt = c.sndUna;
  output(c, now);
  if (c.rtxAt === Infinity && c.persistAt === Infinity) c.arm("rtxAt", now + c.rtt.rto);
}

/** The persist timer expired: probe the window, or force a small segment out (RFC 9293 3.8.6.1). */
function onPersist(c: TcpConnection, now: number): void {
  if (userTimeoutHit(c, now)) {
    timedOut(c);
    return;
  }
  c.persistBackoff++;
  const avail = seqDiff(c.sndEnd, c.sndNxt);
  if (c.sndWnd > 0 && avail > 0) {
    // The SWS override timeout (RFC 9293 3.8.6.2.1): send what the window allows.
    const len = Math.min(avail, c.sndWnd, c.mss);
    const seq = c.sndNxt;
    c.sndNxt = seqAdd(seq, sendData(c, seq, len, false, now));
    if (seqGt(c.sndNxt, c.sndMax)) c.sndMax = c.sndNxt;
    c.arm("rtxAt", now + c.rtt.rto);
    return;
  }
  c.zeroWindowProbes++;
  c.host.count("tcp-zero-window-probe");
  sendProbe(c, now);
}

/** Keepalive (RFC 1122 4.2.3.6): probe after idle; fail after keepCount unanswered probes. */
function onKeepalive(c: TcpConnection, now: number): void {
  if (!c.keepAlive || (c.st !== "ESTABLISHED" && c.st !== "CLOSE-WAIT")) return;
  if (c.keepProbes >= c.opt.keepCount) {
    timedOut(c);
    return;
  }
  c.keepProbes++;
  c.host.count("tcp-keepalive-probe");
  sendProbe(c, now);
  c.arm("keepAt", now + c.opt.keepIntervalMs);
}
