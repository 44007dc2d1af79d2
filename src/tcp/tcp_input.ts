/**
 * Segment arrival in the synchronized states and SYN-RECEIVED (RFC 9293 3.10.7.4): sequence
 * check, RST and SYN handling with RFC 5961 challenge ACKs, ACK processing (RTT, congestion
 * control, window update), urgent pointer, text and FIN.
 *
 * @module
 */

import { RI_DUPLICATE, RI_OUT_OF_ORDER } from "../kernels/engine.ts";
import { F_ACK, F_FIN, F_PSH, F_RST, F_SYN, F_URG } from "../wire/layout.ts";
import { seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax } from "../wire/seq.ts";
import { SackScoreboard } from "./sack.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import type { TcpConnection } from "./connection.ts";
import { enterEstablished, synSentInput } from "./handshake.ts";
import { output, sendSyn } from "./tcp_output.ts";
import { challengeAck, invalidAck, replyRst } from "./tcp_replies.ts";
import {
  checkScoreboardLoss,
  onAckReneging,
  onDupAck,
  onRecoveryAck,
  prrAck,
  watchRetransmissions,
} from "./recovery.ts";
import { hasDsack, onProbeAck } from "./tlp.ts";
import { armRackTimer, rackDelivered, retransmitted } from "./loss.ts";
import { TcpError, type TcpState } from "./types.ts";
import { rcvSpaceAdjust, sndBufExpand } from "./buf_tune.ts";
import { cwndLimited } from "./congestion.ts";
import { confirmNeighbor } from "./neigh_confirm.ts";
import {
  noStretchAfterLoss,
  noteDataArrival,
  STRETCH_ACK_DELAY_MS,
  stretchAckBytes,
} from "./ack_policy.ts";

/** RFC 7323 5.5: TS.Recent of a connection idle this long is invalid (24 days). */
const PAWS_IDLE_MS = 24 * 86_400_000;

/** Process one segment for connection `c`. */
export function connInput(c: TcpConnection, seg: TcpSegment, now: number): void {
  c.stats.segsIn++;
  if (c.keepAlive && c.st !== "SYN-SENT") {
    c.timers.keepProbes = 0;
    c.arm("keep", now + c.keepIdleMs);
  }
  if (c.st === "SYN-SENT") {
    synSentInput(c, seg, now);
    output(c, now);
    return;
  }
  if (c.st === "CLOSED") return;
  const flags = seg.flags;
  let seq = seg.seq;
  let syn = (flags & F_SYN) !== 0;
  const rst = (flags & F_RST) !== 0;
  let fin = (flags & F_FIN) !== 0;
  let plen = seg.payloadLen;
  const off = seg.payloadOff;

  if (syn && !rst && c.st === "SYN-RECEIVED" && seq === c.rcv.irs) {
    if (!(flags & F_ACK)) {
      // A retransmitted SYN: our SYN+ACK was lost; send it again (as Linux).
      c.stats.retransmits++;
      sendSyn(c, now);
      return;
    }
    // Simultaneous open: the peer's SYN+ACK repeats the SYN we already took; keep the ACK.
    syn = false;
    seq = seqAdd(seq, 1);
  }

  // RFC 7323 5.3 PAWS: a timestamp older than TS.Recent marks an old duplicate.
  // Pure ACKs are exempt: reordered ACKs are harmless (as Linux tcp_disordered_ack). After
  // 24 days idle TS.Recent is stale and the check is skipped (RFC 7323 5.5, as Linux).
  const carries = seg.payloadLen > 0 || (flags & (F_SYN | F_FIN)) !== 0;
  if (
    c.tsOk && seg.hasTs && !rst && carries && seqLt(seg.tsVal, c.rcv.tsRecent) &&
    now - c.rcv.tsRecentAt < PAWS_IDLE_MS
  ) {
    c.drop("tcp-paws");
    invalidAck(c, now, plen + (syn ? 1 : 0) + (fin ? 1 : 0), syn);
    return;
  }

  // First: the sequence number (RFC 9293 3.10.7.4 table of four cases).
  const segLen = plen + (syn ? 1 : 0) + (fin ? 1 : 0);
  let wnd = seqDiff(c.rcv.adv, c.rcv.nxt);
  if (wnd < 0) wnd = 0;
  let ok: boolean;
  if (segLen === 0) ok = wnd === 0 ? seq === c.rcv.nxt : seqInWindow(seq, c.rcv.nxt, wnd);
  else {
    ok = wnd > 0 &&
      (seqInWindow(seq, c.rcv.nxt, wnd) || seqInWindow(seqAdd(seq, segLen - 1), c.rcv.nxt, wnd));
  }
  if (!ok) {
    if (wnd === 0 && seq === c.rcv.nxt && !rst && !syn) {
      // RFC 9293 3.10.7.4: with a zero window still take valid ACKs (window probes).
      plen = 0;
      fin = false;
      c.rcv.ackNow = true;
    } else {
      if (rst) c.drop("tcp-rst-out-of-window");
      else {
        c.drop("tcp-unacceptable");
        // RFC 2883: data we already have is reported in a D-SACK block (as Linux).
        if (plen > 0 && c.sackOk && seqLt(seq, c.rcv.nxt)) noteDsack(c, seq, seqAdd(seq, plen));
        // RFC 5961 4.2: a SYN gets a challenge ACK whatever its sequence number (global
        // budget; TIME-WAIT, time_wait_input.ts, applies the per-connection limit as Linux).
        if (syn) challengeAck(c, now);
        else invalidAck(c, now, segLen, syn); // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
      }
      return;
    }
  }
  // RFC 7323 4.3: remember the timestamp to echo.
  if (
    c.tsOk && seg.hasTs && seqLe(seq, c.rcv.lastAckSent) &&
    (seqGe(seg.tsVal, c.rcv.tsRecent) || now - c.rcv.tsRecentAt >= PAWS_IDLE_MS)
  ) {
    c.rcv.tsRecent = seg.tsVal;
    c.rcv.tsRecentAt = now;
  }

  // Second: RST (RFC 5961 3.2: exact match resets, otherwise a challenge ACK).
  if (rst) {
    if (seq !== c.rcv.nxt) {
      challengeAck(c, now);
      return;
    }
    c.host.count("tcp-rst-received");
    switch (c.st) {
      case "SYN-RECEIVED":
        // Passive open: back to LISTEN, i.e. forget this half-open connection.
        c.toClosed(c.passive ? null : new TcpError("refused", "Connection refused"));
        return;
      case "ESTABLISHED":
      case "FIN-WAIT-1":
      case "FIN-WAIT-2":
      case "CLOSE-WAIT":
        c.toClosed(new TcpError("reset", "Connection reset by peer"));
        return;
      default:
        c.toClosed(null);
        return;
    }
  }
  // Fourth: SYN in a synchronized state (RFC 9293 3.10.7.4, RFC 5961 4.2): challenge ACK.
  if (syn) {
    challengeAck(c, now);
    return;
  }
  // Fifth: ACK.
  if (!(flags & F_ACK)) {
    c.drop("tcp-no-ack");
    return;
  }
  const ack = seg.ack;
  if (c.st === "SYN-RECEIVED") {
    if (seqGt(ack, c.snd.una) && seqLe(ack, c.snd.max)) {
      c.snd.wnd = seg.wnd << c.snd.wscale;
      c.snd.maxWnd = Math.max(c.snd.maxWnd, c.snd.wnd);
      c.snd.wl1 = seq;
      c.snd.wl2 = ack;
      enterEstablished(c, now);
    } else {
      // Unless it acknowledges a cookie SYN+ACK of our listener for this tuple (listener.ts).
      if (c.listener?.cookieOverHalfOpen(c, seg, now)) return;
      replyRst(c.host, seg, now); // <SEQ=SEG.ACK><CTL=RST>
      return;
    }
  }
  if (seqGt(ack, c.snd.max)) {
    c.drop("tcp-ack-unsent"); // acknowledges something not yet sent: ACK and drop
    invalidAck(c, now, plen + (fin ? 1 : 0), false);
    return;
  }
  // RFC 5961 5.2: an ACK older than SND.UNA - MAX.SND.WND gets a challenge ACK.
  if (seqLt(ack, seqAdd(c.snd.una, -Math.max(c.snd.maxWnd, 1)))) {
    challengeAck(c, now);
    return;
  }
  const newWnd = seg.wnd << c.snd.wscale;
  let sacked = 0;
  if (c.sackOk && seg.sackCount > 0) {
    // RFC 2018 section 5: remember what the receiver holds above the cumulative ACK.
    const sb = c.rec.sb ??= new SackScoreboard();
    const una = seqMax(ack, c.snd.una);
    let right = -1;
    for (let i = 0; i < seg.sackCount; i++) {
      const r = seg.sack[2 * i + 1]!;
      const gained = sb.add(seg.sack[2 * i]!, r, una, c.snd.max);
      if (gained > 0) {
        sacked += gained;
        if (right < 0 || seqGt(r, right)) right = r;
      }
    }
    if (right >= 0 && c.rec.rack !== null) rackDelivered(c, right, now);
    if (hasDsack(seg)) c.rec.rack?.widen(now, c.rtt.srtt); // RFC 8985 6.2 step 4
  }
  const advanced = seqGt(ack, c.snd.una);
  const delivered = sacked + (advanced ? seqDiff(ack, c.snd.una) : 0); // RFC 6937 DeliveredData
  if (advanced && onNewAck(c, seg, now)) return;
  if (
    c.snd.max !== c.snd.una &&
    (sacked > 0 || (!advanced && ack === c.snd.una && plen === 0 && !fin && newWnd === c.snd.wnd))
  ) {
    // RFC 5681 section 2 duplicate ACK, or RFC 6675 section 2 DupAck: one carrying new SACK
    // information counts whatever its window or cumulative ACK (Linux moves the window on
    // its duplicates).
    onDupAck(c, now);
  }
  // RFC 8985 7.4: what the ACK says about an outstanding tail loss probe.
  const probeSacked = c.tlp.end >= 0 && onProbeAck(c, seg, advanced, hasDsack(seg), now);
  if (c.rec.state === "sack") watchRetransmissions(c, now);
  else if (sacked > 0 || probeSacked || c.rec.rack !== null) checkScoreboardLoss(c, now); // 6675 s5 (3)
  if (c.rec.state === "sack") prrAck(c, delivered, now); // RFC 6937
  if (c.rec.rack !== null) armRackTimer(c, now);
  // Window update (RFC 9293 3.10.7.4): only from a newer segment.
  if (seqLt(c.snd.wl1, seq) || (c.snd.wl1 === seq && seqLe(c.snd.wl2, ack))) {
    const opened = c.snd.wnd === 0 && newWnd > 0;
    c.snd.wnd = newWnd;
    if (newWnd > c.snd.maxWnd) c.snd.maxWnd = newWnd;
    c.snd.wl1 = seq;
    c.snd.wl2 = ack;
    if (newWnd > 0) {
      c.timers.persistBackoff = 0;
      if (opened || c.timers.persist !== Infinity) c.timers.persist = Infinity;
    }
  }

  // Sixth: URG (RFC 9293 3.8.5, RFC 6093: the pointer is the sequence after the urgent data).
  if ((flags & F_URG) && seg.urg > 0 && receiving(c)) {
    const up = seqAdd(seq, seg.urg);
    if (c.rcv.up < 0 || seqGt(up, c.rcv.up)) c.rcv.up = up;
  }

  // Seventh: segment text.
  let readable = false;
  let urgent = false; // an ACK that must leave before the next segment is read
  if (plen > 0 && receiving(c)) {
    if (c.userClosed) {
      // RFC 1122 4.2.2.13: data after close: reset (as Linux).
      c.host.count("tcp-data-after-close");
      // <SEQ=SEG.ACK><CTL=RST> as Linux: exact for the peer even before it got our FIN (RFC 5961).
      replyRst(c.host, seg, now);
      c.reset(false, null);
      return;
    }
    if (plen > c.rcv.seg && plen <= c.rcv.mss) c.rcv.seg = plen; // for rcvRightEdge
    if (c.sackOk && seqLt(seq, c.rcv.nxt)) noteDsack(c, seq, seqAdd(seq, plen)); // RFC 2883
    const e = c.host.engine;
    const heldBefore = e.rcvHeld(c.rcv.ring);
    const n = e.rcvInsert(c.rcv.ring, seq, off, plen);
    const how = e.rcvLastInsert(c.rcv.ring);
    c.rcv.nxt = e.rcvNext(c.rcv.ring);
    if (
      c.sackOk && (how & RI_DUPLICATE) && (how & RI_OUT_OF_ORDER) &&
      e.rcvHeld(c.rcv.ring) === heldBefore
    ) {
      // RFC 2883 4.1.2: a duplicate of data held out of order: D-SACK block, then its block.
      noteDsack(c, seq, seqAdd(seq, plen));
    }
    if (n > 0) {
      if (now >= c.timers.confirmAt) confirmNeighbor(c, now); // RFC 4861 7.3.1: new data
      c.stats.bytesIn += n;
      readable = true;
      rcvSpaceAdjust(c, now, c.tsOk && seg.hasTs ? seg.tsEcr : 0); // auto-tuning (buf_tune.ts)
    }
    // RFC 5681 4.2: ACK at once for out-of-order data and for data filling a hole;
    // otherwise at least every second full-sized segment (more than one full segment's worth
    // unacknowledged, as Linux __tcp_ack_snd_check), stretched for a bulk flow (ack_policy.ts),
    // or within the delay (RFC 1122 4.2.3.2): 1 ms for a held stretch ACK.
    const unacked = seqDiff(c.rcv.nxt, c.rcv.lastAckSent);
    const full = fullSegment(c);
    if (n > 0) noteDataArrival(c.rcv, now);
    if ((how & (RI_OUT_OF_ORDER | RI_DUPLICATE)) || heldBefore > 0 || n === 0) {
      c.rcv.ackNow = urgent = true;
      noStretchAfterLoss(c.rcv);
    } else if (unacked > full && unacked > stretchAckBytes(c.rcv, full)) c.rcv.ackNow = true;
    else if (unacked > full) {
      const at = now + STRETCH_ACK_DELAY_MS;
      if (c.timers.delack > at) c.arm("delack", at);
    } else if (c.timers.delack === Infinity) c.arm("delack", now + c.opt.delayedAckMs);
    if (n > 0 && (flags & F_PSH)) readable = true; // PSH: deliver at once (we always do)
  }

  // Eighth: FIN, once every byte before it arrived (an early FIN is held like its data).
  if (fin && !c.rcv.peerFin && finStates(c) && c.rcv.finSeq < 0) c.rcv.finSeq = seqAdd(seq, plen);
  if (c.rcv.finSeq >= 0 && !c.rcv.peerFin && c.rcv.finSeq === c.rcv.nxt && finStates(c)) {
    c.rcv.nxt = seqAdd(c.rcv.nxt, 1);
    c.rcv.peerFin = true;
    const owed = c.rcv.ackNow;
    c.rcv.ackNow = true;
    readable = true;
    switch (c.st) {
      case "SYN-RECEIVED":
        c.st = "CLOSE-WAIT";
        break;
      case "ESTABLISHED":
        c.st = "CLOSE-WAIT";
        // As Linux tcp_fin (pingpong mode): the ACK of the FIN is delayed (RFC 1122 4.2.3.2)
        // so that the application's reply or its own FIN, usually right behind, carries it:
        // one segment fewer per connection. A FIN that comes with data is answered at once (a
        // retransmission, a tail loss probe, may carry it).
        if (!owed && plen === 0) {
          c.rcv.ackNow = false;
          if (c.timers.delack === Infinity) c.arm("delack", now + c.opt.delayedAckMs);
        }
        break;
      case "FIN-WAIT-1":
        // Our FIN not yet acknowledged (else we would be in FIN-WAIT-2): simultaneous close.
        c.st = "CLOSING";
        break;
      case "FIN-WAIT-2":
        enterTimeWait(c, now);
        break;
    }
  } else if (fin && !c.rcv.peerFin) c.rcv.ackNow = true;

  // Out-of-order data, and any state but ESTABLISHED, answer at once: each duplicate ACK
  // carries its own SACK news (RFC 5681 4.2, RFC 2018). Otherwise the reply (ACK, and data
  // the ACK released) waits for the layer's poll at the end of the received batch, so one ACK
  // covers every in-order segment of the batch, as Linux's GRO makes its receiver do (a stretch
  // ACK; RFC 5681 4.2 asks for one per two segments, which batches of more break).
  if (urgent || c.st !== "ESTABLISHED") output(c, now);
  else c.touch();
  if (readable && (c.st as TcpState) !== "CLOSED") c.emit("readable");
}

/** Report [left, right) in a D-SACK block on the next ACK, sent at once (cut at RCV.NXT if it straddles it). */
function noteDsack(c: TcpConnection, left: number, right: number): void {
  c.host.count("tcp-rcv-duplicate"); // a retransmission we did not need (or a network duplicate)
  c.rcv.dsackL = left;
  c.rcv.dsackR = seqLt(left, c.rcv.nxt) && seqGt(right, c.rcv.nxt) ? c.rcv.nxt : right;
  c.rcv.ackNow = true;
}

/** The peer's full-sized segment: the largest seen when it looks full (as rcvRightEdge). */
function fullSegment(c: TcpConnection): number {
  return c.rcv.seg >= 536 ? c.rcv.seg : c.rcv.mss - (c.tsOk ? 12 : 0);
}

function receiving(c: TcpConnection): boolean {
  const s = c.st;
  return s === "ESTABLISHED" || s === "FIN-WAIT-1" || s === "FIN-WAIT-2";
}

function finStates(c: TcpConnection): boolean {
  const s = c.st;
  return s === "SYN-RECEIVED" || receiving(c);
}

/**
 * Enter TIME-WAIT for 2 MSL (RFC 9293 3.10.7.4). The layer then keeps a compact record of the
 * connection instead (time_wait.ts), which handles its later segments (time_wait_input.ts) and
 * its expiry: the deadline is noted, not armed.
 */
export function enterTimeWait(c: TcpConnection, now: number): void {
  c.st = "TIME-WAIT";
  c.timers.rtx = c.timers.persist = c.timers.keep = Infinity;
  c.timers.timeWait = now + c.opt.timeWaitMs;
}

/** An ACK that advances SND.UNA. Returns true when the connection closed. */
function onNewAck(c: TcpConnection, seg: TcpSegment, now: number): boolean {
  const ack = seg.ack;
  let dataAcked = seqDiff(ack, c.snd.una);
  if (c.snd.una === c.snd.iss) dataAcked--; // the SYN
  const finAcked = c.snd.finQueued && seqGt(ack, c.snd.finSeq);
  if (finAcked && !seqGt(c.snd.una, c.snd.finSeq)) dataAcked--;
  // How far above the old SND.UNA the receiver held data: the reordering degree when the
  // segment filling this hole turns out to be the original (Eifel undo below).
  const sackSpan = c.rec.sb !== null && c.rec.sb.count > 0
    ? seqDiff(c.rec.sb.highest, c.snd.una)
    : 0;
  const rack = c.rec.rack;
  if (rack !== null) {
    rackDelivered(c, ack, now);
    // A hole filled without a retransmission: the network reordered (RFC 8985 6.2 step 3).
    if (sackSpan > 0 && !retransmitted(c, c.snd.una)) rack.noteReordering();
    rack.prune(ack);
  }
  c.snd.una = ack;
  if (seqLt(c.snd.nxt, ack)) c.snd.nxt = ack;
  // The go-back after a timeout ends when everything sent before it is acknowledged.
  if (c.rec.state === "rto" && !seqLt(ack, c.rec.recover)) c.rec.state = "open";
  if (c.snd.ring >= 0) c.host.engine.sndRelease(c.snd.ring, ack);
  c.rec.sb?.prune(ack);
  // RTT: timestamps (RFC 7323 4.1) or one timed segment (RFC 6298 3, Karn's rule). While
  // holes are being repaired the echoed timestamp is that of the segment before the hole
  // (RFC 7323 4.3), which would inflate the RTT by the recovery time: use timing then.
  const clean = !c.rec.fastRecovery && (!c.rec.sb || c.rec.sb.count === 0) &&
    c.timers.retries === 0;
  if (clean && c.tsOk && seg.hasTs && seg.tsEcr !== 0 && seqGe(now >>> 0, seg.tsEcr)) {
    c.rtt.sample(seqDiff(now >>> 0, seg.tsEcr));
    c.snd.rttStart = -1;
  } else if (c.snd.rttStart >= 0 && seqGt(ack, c.snd.rttSeq)) {
    c.rtt.sample(now - c.snd.rttStart);
    c.snd.rttStart = -1;
  }
  if (c.timers.retries > 0) c.rtt.undoBackoff();
  c.timers.retries = 0;
  c.timers.progressAt = now;
  if (now >= c.timers.confirmAt) confirmNeighbor(c, now); // RFC 1122 2.3.2.1 (neigh_confirm.ts)
  const mss = c.snd.mss;
  if (c.rec.fastRecovery) onRecoveryAck(c, seg, dataAcked, sackSpan, now);
  // RFC 7661 4.3 / Linux tcp_is_cwnd_limited: cwnd grows only while it limits sending.
  else if (dataAcked > 0 && cwndLimited(c.snd, c.cc.cwnd, c.cc.ssthresh)) {
    c.cc.onAck(dataAcked, mss, now);
  }
  if (dataAcked > 0) sndBufExpand(c); // send buffer auto-tuning (buf_tune.ts)
  c.rec.dupAcks = 0;
  c.rec.limitedTx = 0;
  // RFC 6298 5.2 / 5.3: stop the timer when all is acknowledged, else restart it.
  if (c.snd.una === c.snd.max) c.timers.rtx = Infinity;
  else c.arm("rtx", now + c.rtt.rto);
  onAckReneging(c, now); // RFC 2018 section 8: the ACK stopped at SACKed data
  c.timers.pto = Infinity; // output() schedules the probe afresh (RFC 8985 7.2)
  if (c.snd.writeBlocked && c.snd.ring >= 0 && c.host.engine.sndFree(c.snd.ring) > 0) {
    c.snd.writeBlocked = false;
    c.emit("writable");
  }
  if (finAcked) {
    switch (c.st) {
      case "FIN-WAIT-1":
        c.st = "FIN-WAIT-2";
        // An orphaned FIN-WAIT-2 (owner closed) times out like Linux tcp_fin_timeout.
        if (c.userClosed) c.arm("timeWait", now + c.opt.timeWaitMs);
        break;
      case "CLOSING":
        enterTimeWait(c, now);
        break;
      case "LAST-ACK":
        c.toClosed(null);
        return true;
    }
  }
  return false;
}
