/**
 * Connection timers: retransmission (RFC 6298 section 5), tail loss probe (RFC 8985 7.3; its
 * scheduling is in tlp.ts), RACK reordering (RFC 8985 6.2), persist (RFC 9293 3.8.6.1),
 * keepalive (RFC 1122 4.2.3.6), delayed ACK (RFC 1122 4.2.3.2) and the orphaned FIN-WAIT-2
 * timeout (the `timeWait` timer; TIME-WAIT itself is a record of the layer, time_wait.ts).
 *
 * @module
 */

import { seqAdd, seqDiff, seqGt } from "../wire/seq.ts";
import type { TcpConnection } from "./connection.ts";
import { output, retransmitAt, sendData, sendProbe, sendSyn } from "./tcp_output.ts";
import { TcpError } from "./types.ts";
import { Rack } from "./rack.ts";
import { checkScoreboardLoss, renegedAtTimeout } from "./recovery.ts";
import { armRackTimer } from "./loss.ts";

function timedOut(c: TcpConnection): void {
  c.toClosed(new TcpError("timed-out", "Connection timed out"));
}

/** Run every due timer of `c`, then flush. */
export function runTimers(c: TcpConnection, now: number): void {
  if (c.timers.timeWait <= now) {
    c.timers.timeWait = Infinity;
    c.toClosed(null);
    return;
  }
  if (c.timers.pto <= now) {
    // The probe goes first when it is due with the RTO (RFC 8985 7.2: PTO = min(PTO, RTO));
    // sending it re-arms the RTO.
    c.timers.pto = Infinity;
    onPto(c, now);
    if (c.st === "CLOSED") return;
  }
  if (c.timers.rack <= now) {
    // RACK's reordering timer (RFC 8985 6.2 step 5): segments may now count as lost.
    c.timers.rack = Infinity;
    checkScoreboardLoss(c, now);
    armRackTimer(c, now);
  }
  if (c.timers.rtx <= now) {
    c.timers.rtx = Infinity;
    onRto(c, now);
    if (c.st === "CLOSED") return;
  }
  if (c.timers.persist <= now) {
    c.timers.persist = Infinity;
    onPersist(c, now);
    if (c.st === "CLOSED") return;
  }
  if (c.timers.keep <= now) {
    c.timers.keep = Infinity;
    onKeepalive(c, now);
    if (c.st === "CLOSED") return;
  }
  if (c.timers.delack <= now) {
    c.timers.delack = Infinity;
    c.rcv.ackNow = true;
  }
  output(c, now);
}

function userTimeoutHit(c: TcpConnection, now: number): boolean {
  return c.opt.userTimeoutMs > 0 && now - c.timers.progressAt >= c.opt.userTimeoutMs;
}

/** The retransmission timer expired (RFC 6298 5.4-5.7). */
function onRto(c: TcpConnection, now: number): void {
  const st = c.st;
  if (st === "SYN-SENT" || st === "SYN-RECEIVED") {
    // A half-open connection of a listener under SYN pressure gets fewer retries (Linux).
    const limit = c.listener ? c.listener.synRetryLimit(now) : c.opt.synRetries;
    if (++c.timers.retries > limit) {
      if (c.passive) c.toClosed(null);
      else timedOut(c);
      return;
    }
    c.rtt.backoff();
    c.snd.rttStart = -1; // Karn's rule
    c.stats.retransmits++;
    sendSyn(c, now);
    return;
  }
  if (c.snd.una === c.snd.max) return;
  if (++c.timers.retries > c.opt.maxRetries || userTimeoutHit(c, now)) {
    timedOut(c);
    return;
  }
  c.host.count("tcp-rto");
  c.cc.onTimeout(seqDiff(c.snd.max, c.snd.una), c.snd.mss, now);
  c.rec.state = "rto"; // until SND.UNA passes `recover` (RFC 6582 section 4)
  c.rec.rtxLog?.clear();
  c.tlp.end = c.tlp.lost = -1;
  c.rec.recover = c.snd.max; // RFC 6582 section 4
  c.rec.dupAcks = 0;
  c.rec.dupThresh = 3; // a timeout: forget the reordering estimate
  c.rtt.backoff();
  c.snd.rttStart = -1;
  // Go back: resend from the first unacknowledged byte, only the holes of the scoreboard
  // (kept unless the receiver reneged: RFC 6675 5.1, RFC 2018 section 8, recovery.ts).
  renegedAtTimeout(c);
  c.snd.nxt = c.snd.una;
  if (c.rec.sb) c.rec.sb.highRxt = c.snd.una;
  output(c, now);
  if (c.timers.rtx === Infinity && c.timers.persist === Infinity) c.arm("rtx", now + c.rtt.rto);
}

/** The persist timer expired: probe the window, or force a small segment out (RFC 9293 3.8.6.1). */
function onPersist(c: TcpConnection, now: number): void {
  if (userTimeoutHit(c, now)) {
    timedOut(c);
    return;
  }
  c.timers.persistBackoff++;
  const avail = seqDiff(c.snd.end, c.snd.nxt);
  if (c.snd.wnd > 0 && avail > 0) {
    // The SWS override timeout (RFC 9293 3.8.6.2.1): send what the window allows.
    const len = Math.min(avail, c.snd.wnd, c.snd.mss);
    const seq = c.snd.nxt;
    c.snd.nxt = seqAdd(seq, sendData(c, seq, len, false, now));
    if (seqGt(c.snd.nxt, c.snd.max)) c.snd.max = c.snd.nxt;
    c.arm("rtx", now + c.rtt.rto);
    return;
  }
  c.stats.zeroWindowProbes++;
  c.host.count("tcp-zero-window-probe");
  sendProbe(c, now);
}

/** Keepalive (RFC 1122 4.2.3.6): probe after idle; fail after keepCount unanswered probes. */
function onKeepalive(c: TcpConnection, now: number): void {
  if (!c.keepAlive || (c.st !== "ESTABLISHED" && c.st !== "CLOSE-WAIT")) return;
  if (c.timers.keepProbes >= c.opt.keepCount) {
    timedOut(c);
    return;
  }
  c.timers.keepProbes++;
  c.host.count("tcp-keepalive-probe");
  sendProbe(c, now);
  c.arm("keep", now + c.opt.keepIntervalMs);
}

/**
 * The probe timer expired (RFC 8985 7.3): send one new segment if the windows allow, else the
 * last segment sent again; remember TLP.end_seq; re-arm the RTO (not another probe).
 */
export function onPto(c: TcpConnection, now: number): void {
  if (c.snd.max === c.snd.una || c.rec.fastRecovery) return;
  const mss = c.snd.mss;
  const avail = seqDiff(c.snd.end, c.snd.max);
  const wndRoom = c.snd.wnd - seqDiff(c.snd.max, c.snd.una);
  c.tlp.rtx = false;
  if (avail > 0 && wndRoom > 0 && c.snd.nxt === c.snd.max) {
    const seq = c.snd.max;
    const sent = sendData(c, seq, Math.min(avail, mss, wndRoom), false, now);
    c.snd.nxt = c.snd.max = seqAdd(seq, sent);
    if (sent > 0) (c.rec.rack ??= new Rack()).record(c.snd.max, now);
    c.tlp.seq = seq;
  } else {
    // The highest segment (and the FIN when it was sent).
    const finSent = c.snd.finQueued && seqGt(c.snd.max, c.snd.finSeq);
    const dataEnd = finSent ? c.snd.finSeq : c.snd.max;
    const len = Math.max(0, Math.min(mss, seqDiff(dataEnd, c.snd.una)));
    const seq = seqAdd(dataEnd, -len);
    if (retransmitAt(c, seq, len, now) < 0) return;
    c.tlp.rtx = true;
    c.tlp.seq = seq;
  }
  c.tlp.end = c.snd.max;
  c.host.count("tcp-tlp");
  c.arm("rtx", now + c.rtt.rto);
}
