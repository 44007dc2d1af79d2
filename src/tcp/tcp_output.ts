/**
 * The send side: segment building (options, the window from rcv_window.ts), data transmission
 * with flow control, sender silly-window avoidance and Nagle, FIN, pure ACKs, retransmissions
 * and probes.
 *
 * @module
 */

import { tcpIpOverhead } from "../wire/ip_handle.ts";
import { F_ACK, F_FIN, F_PSH, F_SYN } from "../wire/layout.ts";
import { seqAdd, seqDiff, seqGt, seqLt } from "../wire/seq.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import type { TcpConnection } from "./connection.ts";
import { type NextSeg, nextSeg } from "./loss.ts";
import { initialWindow, noteCwndUse } from "./congestion.ts";
import { tsoGoal } from "./tso.ts";
import { RtxLog } from "./rtx_log.ts";
import { Rack } from "./rack.ts";
import { schedulePto } from "./tlp.ts";
import { advertise } from "./rcv_window.ts";
import { tsSent } from "./buf_tune.ts";
import { goBackFlight } from "./loss.ts";

/** Fill the addressing, numbers, window and options of `c.host.out`. */
function build(c: TcpConnection, seq: number, flags: number, now: number): TcpSegment {
  const s = c.host.out.clear();
  s.srcIp = c.localIp;
  s.dstIp = c.remoteIp;
  s.srcPort = c.localPort;
  s.dstPort = c.remotePort;
  s.seq = seq >>> 0;
  s.flags = flags;
  const syn = (flags & F_SYN) !== 0;
  if (flags & F_ACK) s.ack = c.rcv.nxt;
  const ring = c.rcv.ring;
  const free = ring >= 0 ? c.host.engine.rcvWindow(ring) : -1;
  s.wnd = advertise(c.rcv, free, c.rcv.buf, c.tsOk, syn);
  if (syn) {
    // RFC 9293 3.7.1: MSS on every SYN; RFC 7323/2018 options offered (or echoed when the
    // peer offered them in its SYN).
    s.mss = c.rcv.mss;
    const active = (flags & F_ACK) === 0;
    if (active ? c.opt.windowScale : c.wsOk) s.ws = c.rcv.wscale;
    if (active ? c.opt.sack : c.sackOk) s.sackOk = true;
    if (active ? c.opt.timestamps : c.tsOk) {
      s.hasTs = true;
      s.tsVal = now >>> 0;
      s.tsEcr = active ? 0 : c.rcv.tsRecent;
      if (s.tsVal !== c.rcv.tsSent) tsSent(c.rcv, s.tsVal, now);
    }
    return s;
  }
  if (c.tsOk) {
    s.hasTs = true;
    s.tsVal = now >>> 0; // RFC 7323 5.4: a 1 ms clock
    if (s.tsVal !== c.rcv.tsSent) tsSent(c.rcv, s.tsVal, now); // finer RTT (buf_tune.ts)
    s.tsEcr = c.rcv.tsRecent;
  }
  if (c.sackOk && c.rcv.ring >= 0 && (flags & F_ACK)) {
    // RFC 2018 section 4: SACK blocks while data is held out of order, at most 3 with timestamps;
    // RFC 2883: a pending D-SACK block goes first, reported once.
    const max = c.tsOk ? 3 : 4;
    const dsack = c.rcv.dsackL !== c.rcv.dsackR;
    const e = c.host.engine;
    let n = e.rcvHeld(c.rcv.ring) > 0 ? e.rcvSack(c.rcv.ring, s.sack, dsack ? max - 1 : max) : 0;
    if (dsack) {
      for (let i = 2 * n - 1; i >= 0; i--) s.sack[i + 2] = s.sack[i]!;
      s.sack[0] = c.rcv.dsackL;
      s.sack[1] = c.rcv.dsackR;
      c.rcv.dsackL = c.rcv.dsackR;
      n++;
    }
    s.sackCount = n;
  }
  return s;
}

/** After sending a segment that carries an ACK: cancel any delayed ACK (RFC 1122 4.2.3.2). */
function acked(c: TcpConnection): void {
  c.rcv.ackNow = c.rcv.ackHeld = false;
  c.rcv.unacked = 0;
  c.timers.delack = Infinity;
  c.rcv.lastAckSent = c.rcv.nxt;
}

/** Send a SYN (active) or SYN+ACK (passive or simultaneous open) at ISS. */
export function sendSyn(c: TcpConnection, now: number): void {
  const ack = c.st === "SYN-RECEIVED";
  const s = build(c, c.snd.iss, ack ? F_SYN | F_ACK : F_SYN, now);
  c.host.tx.sendTcp(s, -1, now);
  c.stats.segsOut++;
  if (ack) acked(c);
  if (seqLt(c.snd.nxt, seqAdd(c.snd.iss, 1))) c.snd.nxt = seqAdd(c.snd.iss, 1);
  if (seqLt(c.snd.max, c.snd.nxt)) c.snd.max = c.snd.nxt;
  if (c.timers.rtx === Infinity) c.arm("rtx", now + c.rtt.rto);
}

/** Send a pure ACK now (RFC 9293 3.10.7.4). */
export function sendAck(c: TcpConnection, now: number): void {
  // SEQ is the highest sequence sent, not a SND.NXT pulled back by a timeout: a pure ACK with
  // an old SEQ would be unacceptable to the peer (RFC 9293 3.10.7.4) and its ACK lost (as
  // Linux, whose snd_nxt never moves back).
  const s = build(c, c.snd.max, F_ACK, now);
  payloadRoom(c, s, false, now);
  c.host.tx.sendTcp(s, -1, now);
  c.stats.segsOut++;
  acked(c);
}

/**
 * Payload room of the segment `s` being built, and the one place where its SACK blocks are
 * fitted: the effective MSS (timestamps already taken out, RFC 6691: the MSS counts no options)
 * less the SACK option it carries, never more than the path MTU allows (as Linux
 * tcp_current_mss). SACK blocks that would leave less than half the MSS for data are left out
 * (they are advisory, RFC 2018 section 4). A segment without data (`data` false: a pure ACK or
 * a probe) only loses the blocks that would not fit the path MTU.
 */
function payloadRoom(c: TcpConnection, s: TcpSegment, data: boolean, now: number): number {
  let room = c.snd.mss;
  const path = c.host.tx.pathMtu(c.remoteIp, now) - tcpIpOverhead(c.remoteIp) - (c.tsOk ? 12 : 0);
  if (!data) {
    while (s.sackCount > 0 && 4 + 8 * s.sackCount > path) s.sackCount--;
    return 0;
  }
  if (path > 0 && path < room) room = path;
  while (s.sackCount > 1 && room - (4 + 8 * s.sackCount) < (room >> 1)) s.sackCount--;
  if (s.sackCount > 0) room -= 4 + 8 * s.sackCount; // NOP, NOP, kind, length, 8 per block
  return room > 1 ? room : 1;
}

/**
 * Send up to `len` bytes (and FIN when `fin` and every byte fits) from the ring at `seq`.
 * Returns the bytes sent: fewer than `len` when this segment's options leave less room.
 * `large`: `len` was sized by tsoGoal (tso.ts) and may exceed one segment's room: the link
 * carries the segment whole.
 */
export function sendData(
  c: TcpConnection,
  seq: number,
  len: number,
  fin: boolean,
  now: number,
  large = false,
): number {
  const s = build(c, seq, F_ACK, now);
  const room = payloadRoom(c, s, true, now);
  if (len > room && !large) {
    len = room;
    fin = false;
  }
  let flags = F_ACK;
  if (fin) flags |= F_FIN;
  // PSH on the last segment of what is queued (RFC 9293 3.9.1, as Linux).
  if (len > 0 && seqAdd(seq, len) === c.snd.end) flags |= F_PSH;
  s.flags = flags;
  s.payloadLen = len;
  c.host.tx.sendTcp(s, len > 0 ? c.snd.ring : -1, now);
  c.stats.segsOut++;
  c.stats.bytesOut += len;
  if (len > 0) {
    c.snd.lastDataAt = now;
    if (c.rec.fastRecovery) c.rec.prrOut += len; // RFC 6937 prr_out
  }
  if (c.rcv.ackHeld) c.rcv.ackCarried = true; // the handshake ACK rode on it (ack_hold.ts)
  else if (c.rcv.ackAloneAt >= 0) firstAfterAck(c, now);
  acked(c);
  return len;
}

/**
 * Within this many ms of a handshake ACK sent alone, the first data or FIN counts as sent "at
 * once" (ack_hold.ts): the application's turn normally takes microseconds, but its first one
 * runs cold code (compilation), and a late write that a hold would not have caught only costs
 * one hold that goes alone.
 */
const AT_ONCE_MS = 5;

/**
 * The first data or FIN after a handshake ACK that went alone: at once, with nothing from the
 * peer since (RCV.NXT still IRS + 1), the ACK was avoidable (ack_hold.ts).
 */
function firstAfterAck(c: TcpConnection, now: number): void {
  if (now - c.rcv.ackAloneAt <= AT_ONCE_MS && c.rcv.nxt === seqAdd(c.rcv.irs, 1)) {
    c.host.ackAvoidable();
  }
  c.rcv.ackAloneAt = -1;
}

/** Whether our FIN is queued and not yet sent at or after `c.snd.nxt`. */
function finPending(c: TcpConnection): boolean {
  return c.snd.finQueued && !seqGt(c.snd.nxt, c.snd.finSeq);
}

/** Send what flow control, congestion control, SWS avoidance and Nagle allow; then ACK if owed. */
export function output(c: TcpConnection, now: number): void {
  const st = c.st;
  if (st === "CLOSED" || st === "LISTEN") return;
  if (c.keepAlive && c.timers.keep === Infinity && st === "ESTABLISHED") {
    c.arm("keep", now + c.keepIdleMs);
  } else if (!c.keepAlive) c.timers.keep = Infinity;
  if (st === "SYN-SENT") {
    if (c.snd.nxt === c.snd.iss) sendSyn(c, now);
    return;
  }
  if (
    st === "ESTABLISHED" || st === "CLOSE-WAIT" || st === "FIN-WAIT-1" || st === "CLOSING" ||
    st === "LAST-ACK"
  ) {
    const high = c.snd.max;
    sendLoop(c, now);
    schedulePto(c, now, high !== c.snd.max);
  }
  if (c.rcv.ackNow && !c.rcv.ackHeld) sendAck(c, now);
}

/** Scratch for {@link nextSeg} (one connection is served at a time). */
const NEXT: NextSeg = { room: 0, lost: -1, hole: -1, resend: -1 };

function sendLoop(c: TcpConnection, now: number): void {
  const mss = c.snd.mss;
  const tso = tsoGoal(c, now); // > mss: new data goes in large segments (tso.ts)
  for (let guard = 0; guard < 100000; guard++) {
    const flight = seqDiff(c.snd.nxt, c.snd.una);
    let room = Math.min(c.snd.wnd, c.cc.cwnd + c.rec.limitedTx * c.snd.mss) -
      goBackFlight(c, flight);
    const sackRec = c.rec.state === "sack" && c.rec.sb !== null;
    if (sackRec) {
      // RFC 6675 section 5 (C): while cwnd - pipe >= 1 SMSS, send NextSeg: (1) a lost hole,
      // (2) new data, (3) a hole not yet deemed lost.
      const n = nextSeg(c, NEXT, now);
      if (n.room < c.snd.mss) break;
      if (n.resend >= 0) {
        // A retransmission that was lost too (rtx_log.ts): it goes first.
        const log = c.rec.rtxLog!, from = log.seqOf(n.resend);
        const seq = seqGt(c.snd.una, from) ? c.snd.una : from; // partly acknowledged since
        const end = seqAdd(from, log.lenOf(n.resend));
        const hole = c.rec.sb!.holeEnd(seq);
        let limit = Math.min(seqDiff(end, seq), c.snd.mss);
        if (seqGt(hole, seq) && seqDiff(hole, seq) < limit) limit = seqDiff(hole, seq);
        if (limit <= 0) {
          log.drop(n.resend);
          continue;
        }
        log.drop(n.resend); // sent again below, it is logged afresh
        retransmitAt(c, seq, limit, now);
        continue;
      }
      if (n.lost >= 0) {
        if (!retransmitHead(c, now)) break;
        continue;
      }
      room = Math.min(c.snd.wnd - flight, n.room);
    }
    let avail = seqDiff(c.snd.end, c.snd.nxt);
    if (avail < 0) avail = 0;
    // New data may go in a large segment; what was sent before goes again per MSS.
    const large = tso > mss && !seqLt(c.snd.nxt, c.snd.max);
    let len = Math.min(avail, large ? tso : mss, room > 0 ? room : 0);
    // A large segment ends on an MSS boundary unless it carries the last bytes queued (Linux
    // tcp_mss_split_point): the rest goes by the sender SWS and Nagle rules below.
    if (len > mss && len < avail) len -= len % mss;
    const fin = finPending(c) && len === avail;
    let blocked = len === 0 && !fin;
    if (blocked) {
      // Nothing new may go.
    } else if (len < c.snd.mss && len < avail) {
      // Sender SWS avoidance (RFC 9293 3.8.6.2.1): a partial segment only when it is at least
      // half the largest window the peer offered; else wait for the window to grow.
      if (len < c.snd.maxWnd / 2) blocked = true;
    } else if (len > 0 && len < c.snd.mss && !fin) {
      // Nagle (RFC 9293 3.7.4): one small segment in flight at most, unless no-delay.
      if (!c.noDelay && flight > 0) blocked = true;
    }
    if (blocked) {
      if (sackRec && NEXT.hole >= 0 && retransmitHead(c, now)) continue; // NextSeg rule (3)
      break;
    }
    const seq = c.snd.nxt;
    if (flight === 0) {
      c.timers.progressAt = now; // the user timeout counts from here
      if (c.opt.slowStartAfterIdle && now - c.snd.lastDataAt > c.rtt.rto) restartAfterIdle(c, now);
    }
    if (c.rec.sb && c.rec.sb.count > 0 && seqLt(seq, c.snd.max)) {
      // Going back after a timeout: skip what the receiver SACKed, stop at the next range
      // (RFC 6675 5.1, as Linux: only the holes; the FIN waits for the segment that ends there).
      const sk = c.rec.sb.skip(seq);
      if (sk !== seq) {
        c.snd.nxt = seqLt(sk, c.snd.max) ? sk : c.snd.max;
        c.host.count("tcp-rto-sacked-skipped");
        continue;
      }
      const end = c.rec.sb.holeEnd(seq);
      if (end !== seq && seqDiff(end, seq) < len) {
        c.snd.nxt = seqAdd(seq, sendData(c, seq, seqDiff(end, seq), false, now));
        c.stats.retransmits++;
        if (c.timers.rtx === Infinity) c.arm("rtx", now + c.rtt.rto);
        continue;
      }
    }
    if (seqLt(seq, c.snd.max)) {
      c.stats.retransmits++;
      if (c.snd.rttStart >= 0 && !seqLt(c.snd.rttSeq, seq)) c.snd.rttStart = -1; // Karn's rule
    } else if (c.snd.rttStart < 0 && len > 0) {
      c.snd.rttSeq = seq;
      c.snd.rttStart = now;
    }
    const sent = sendData(c, seq, len, fin, now, len > mss);
    // RACK (RFC 8985 6.1) keeps the send time of each fresh segment.
    if (sent > 0 && c.sackOk && !seqLt(seq, c.snd.max)) {
      (c.rec.rack ??= new Rack()).record(seqAdd(seq, sent), now);
    }
    const finSent = fin && sent === len;
    c.snd.nxt = seqAdd(seq, sent + (finSent ? 1 : 0));
    if (seqGt(c.snd.nxt, c.snd.max)) c.snd.max = c.snd.nxt;
    if (c.timers.rtx === Infinity) c.arm("rtx", now + c.rtt.rto);
    c.timers.persist = Infinity;
    if (finSent) break;
  }
  // How much of cwnd this pass used (congestion.ts, RFC 7661): cwnd grows only when it limits.
  const flight = seqDiff(c.snd.nxt, c.snd.una);
  noteCwndUse(c.snd, flight, flight + mss > c.cc.cwnd);
  // Data waits on a window too small to use and nothing is in flight: the persist timer
  // (RFC 9293 3.8.6.1) probes the window so a lost update cannot deadlock us.
  const waiting = seqDiff(c.snd.end, c.snd.nxt) > 0 || finPending(c);
  if (waiting && c.snd.nxt === c.snd.una && c.timers.persist === Infinity) {
    c.timers.rtx = Infinity;
    if (c.timers.persistBackoff === 0) c.timers.progressAt = now;
    const t = Math.min(c.rtt.rto * 2 ** Math.min(c.timers.persistBackoff, 20), c.opt.rtoMaxMs);
    c.arm("persist", now + Math.max(t, c.opt.rtoMinMs));
  }
}

/**
 * Nothing was sent for longer than the RTO: the ACK clock is gone and cwnd no longer
 * reflects the path (RFC 5681 4.1: restart from RW = min(IW, cwnd); RFC 7661 section 1).
 * As Linux tcp_cwnd_restart: remember 3/4 of cwnd in ssthresh, halve cwnd per RTO idle,
 * never below the restart window.
 */
function restartAfterIdle(c: TcpConnection, now: number): void {
  const cc = c.cc;
  const rw = Math.min(initialWindow(c.snd.mss), cc.cwnd);
  if (cc.cwnd <= rw) return;
  cc.ssthresh = Math.max(cc.ssthresh, (cc.cwnd >> 1) + (cc.cwnd >> 2));
  let cwnd = cc.cwnd;
  for (let idle = now - c.snd.lastDataAt - c.rtt.rto; idle > 0 && cwnd > rw; idle -= c.rtt.rto) {
    cwnd >>= 1;
  }
  cc.cwnd = Math.max(cwnd, rw);
  cc.onRestart();
  c.host.count("tcp-cwnd-restart");
}

/**
 * Retransmit the first unacknowledged segment (fast retransmit, RFC 5681 3.2 step 2), or with a
 * scoreboard the next hole above HighRxt. Returns whether a segment went out.
 */
export function retransmitHead(c: TcpConnection, now: number): boolean {
  let seq = c.snd.una;
  let limit = c.snd.mss;
  const sb = c.rec.sb && c.rec.sb.count > 0 ? c.rec.sb : null;
  if (sb) {
    // SACK-guided: the next hole above what this recovery already resent (RFC 6675 NextSeg).
    const from = seqGt(sb.highRxt, c.snd.una) ? sb.highRxt : c.snd.una;
    const hole = sb.nextHole(from);
    if (hole < 0) return false;
    seq = hole;
    limit = Math.min(limit, seqDiff(sb.holeEnd(hole), hole));
    sb.highRxt = seqAdd(hole, limit);
  }
  const sent = retransmitAt(c, seq, limit, now);
  if (sent < 0) return false;
  if (sb && sent < limit) sb.highRxt = seqAdd(seq, sent); // the options left less room
  return true;
}

/**
 * Send [seq, seq + limit) again (and the FIN when it ends there). Returns the bytes sent, -1
 * when there was nothing to send. In SACK recovery the retransmission is logged, so that its
 * own loss can be seen (rtx_log.ts).
 */
export function retransmitAt(c: TcpConnection, seq: number, limit: number, now: number): number {
  let avail = seqDiff(c.snd.end, seq);
  if (avail < 0) avail = 0;
  const len = Math.min(avail, limit);
  const fin = c.snd.finQueued && seqAdd(seq, len) === c.snd.finSeq &&
    seqGt(c.snd.max, c.snd.finSeq);
  if (len === 0 && !fin) return -1;
  if (c.snd.rttStart >= 0 && !seqLt(c.snd.rttSeq, seq)) c.snd.rttStart = -1; // Karn's rule
  c.snd.rttStart = -1;
  c.stats.retransmits++;
  const sent = sendData(c, seq, len, fin, now);
  if (c.rec.state === "sack" && sent > 0) {
    (c.rec.rtxLog ??= new RtxLog()).record(seq, sent, now, c.snd.max);
  }
  if (c.timers.rtx === Infinity) c.arm("rtx", now + c.rtt.rto);
  return sent;
}

/**
 * A probe <SEQ=SND.UNA-1><ACK=RCV.NXT> with no data: an old sequence number the peer must
 * answer with an ACK carrying its window. Used for zero-window probes (RFC 9293 3.8.6.1, as
 * Linux) and keepalives (RFC 1122 4.2.3.6).
 */
export function sendProbe(c: TcpConnection, now: number): void {
  const s = build(c, seqAdd(c.snd.una, -1), F_ACK, now);
  payloadRoom(c, s, false, now);
  c.host.tx.sendTcp(s, -1, now);
  c.stats.segsOut++;
  acked(c);
}
