/**
 * Loss detection shared by ACK processing, the timers and the send loop: the duplicate-ACK
 * threshold in force (RFC 5681 3.2, RFC 5827 early retransmit, a reordering-raised threshold as
 * Linux `tp->reordering`), RFC 6675's IsLost, NextSeg and SetPipe over the SACK scoreboard, and
 * RACK (RFC 8985 6.2). Most functions only read the control block; two change it:
 * `armRackTimer` arms or cancels the RACK reordering timer, and `rackDelivered` records a
 * delivery in the RACK state. `nextSeg` writes into the scratch it is given.
 *
 * @module
 */

import { seqAdd, seqDiff, seqGt, seqLt, seqMax } from "../wire/seq.ts";
import type { TcpConnection } from "./connection.ts";

/** Linux tcp_max_reordering: the highest duplicate-ACK threshold reordering may raise. */
export const MAX_REORDERING = 300;

/**
 * The duplicate-ACK threshold (DupThresh) for the data outstanding now. RFC 5827 early
 * retransmit: with fewer than four segments outstanding and nothing new to send, one less
 * than the outstanding segments. A threshold raised by measured reordering never exceeds
 * what the outstanding segments can produce.
 */
export function dupThreshold(c: TcpConnection): number {
  const oseg = Math.ceil(seqDiff(c.snd.max, c.snd.una) / c.snd.mss);
  if (oseg < 4 && seqDiff(c.snd.end, c.snd.max) <= 0) return Math.max(oseg - 1, 1);
  return Math.max(3, Math.min(c.rec.dupThresh, oseg - 1));
}

/**
 * RFC 6675 IsLost(SND.UNA), or RACK (RFC 8985 6.2): the segment at SND.UNA is taken as lost.
 */
export function headLost(c: TcpConnection, now: number): boolean {
  const sb = c.rec.sb;
  if (sb === null || sb.count === 0) return false;
  return seqGt(lostEdge(c, now), c.snd.una);
}

/**
 * Un-SACKed data below the returned sequence is lost: RFC 6675 IsLost (more than
 * (DupThresh - 1) * SMSS SACKed above), RACK (sent before a delivered segment, more than an
 * RTT plus the reordering window ago), or below a tail loss probe that arrived (tlp.ts).
 */
function lostEdge(c: TcpConnection, now: number): number {
  const una = c.snd.una, sb = c.rec.sb!;
  const thresh = dupThreshold(c);
  let edge = sb.lostEdge(una, thresh, c.snd.mss);
  if (c.tlp.lost >= 0 && seqGt(c.tlp.lost, edge)) edge = c.tlp.lost;
  const rack = c.rec.rack;
  if (rack !== null && c.opt.rack) {
    const r = rack.lostBelow(una, now, rackReoWnd(c));
    if (seqGt(r, edge)) edge = r;
  }
  return edge;
}

/** RACK.reo_wnd for `c` now (RFC 8985 6.2 step 4). */
function rackReoWnd(c: TcpConnection): number {
  const sb = c.rec.sb;
  const dupSacked = sb !== null && sb.sacked >= dupThreshold(c) * c.snd.mss;
  return c.rec.rack!.reoWnd(c.rec.fastRecovery, dupSacked, c.rtt.srtt);
}

/**
 * Arm the RACK reordering timer (RFC 8985 6.2 step 5) for the first segment sent before the
 * RACK segment that has not waited long enough yet; cancel it when there is none.
 */
export function armRackTimer(c: TcpConnection, now: number): void {
  const rack = c.rec.rack, sb = c.rec.sb;
  if (rack === null || !c.opt.rack || sb === null || sb.count === 0) {
    c.timers.rack = Infinity;
    return;
  }
  const at = rack.nextTimeout(c.snd.una, now, rackReoWnd(c));
  if (at < 0) c.timers.rack = Infinity;
  else if (at !== c.timers.rack) c.arm("rack", Math.ceil(at));
}

/** What SACK-based recovery (RFC 6675 section 5) may send next. */
export interface NextSeg {
  /** cwnd - pipe in bytes: what may be sent now. */
  room: number;
  /** The first lost hole above HighRxt (NextSeg rule 1), or -1. */
  lost: number;
  /** The first un-SACKed hole above HighRxt below the highest SACKed byte (rule 3), or -1. */
  hole: number;
  /** Index in `c.rec.rtxLog` of a retransmission presumed lost, to send again first, or -1. */
  resend: number;
}

/**
 * RFC 6675 section 5 step (C) for one transmission: SetPipe, then the candidates of NextSeg
 * rules 1 and 3 (rule 2 is new data, which the send loop knows about). Writes into `out`.
 */
export function nextSeg(c: TcpConnection, out: NextSeg, now: number): NextSeg {
  const sb = c.rec.sb!;
  const una = c.snd.una;
  const highRxt = seqGt(sb.highRxt, una) ? sb.highRxt : una;
  const lost = sb.count > 0 ? lostEdge(c, now) : una;
  const log = c.rec.rtxLog;
  out.resend = log !== null && log.lostBytes > 0 ? log.firstLost() : -1;
  out.room = c.cc.cwnd - pipeWith(c, highRxt, lost);
  const hole = sb.nextHole(highRxt);
  out.hole = hole;
  out.lost = hole >= 0 && seqLt(hole, lost) ? hole : -1;
  return out;
}

/** RFC 6675 SetPipe for a SACK recovery of `c` now (the bytes presumed in the network). */
export function pipe(c: TcpConnection, now: number): number {
  const sb = c.rec.sb!, una = c.snd.una;
  const highRxt = seqGt(sb.highRxt, una) ? sb.highRxt : una;
  return pipeWith(c, highRxt, sb.count > 0 ? lostEdge(c, now) : una);
}

function pipeWith(c: TcpConnection, highRxt: number, lost: number): number {
  const sb = c.rec.sb!, una = c.snd.una;
  // The FIN's sequence number is not data in the network (Linux counts packets).
  const high = c.snd.finQueued && seqGt(c.snd.max, c.snd.finSeq) ? c.snd.finSeq : c.snd.max;
  const p = sb.count > 0
    ? sb.pipe(una, high, highRxt, seqMax(lost, una))
    : Math.max(0, seqDiff(high, una));
  // A retransmission presumed lost has left the network: it no longer counts (RFC 6675's
  // SetPipe would count it until an RTO).
  return c.rec.rtxLog !== null ? p - c.rec.rtxLog.lostBytes : p;
}

/**
 * The bytes in flight that the send loop counts against cwnd, given `flight` = SND.NXT -
 * SND.UNA. While going back after a timeout (SND.NXT below SND.MAX) with a scoreboard, SACKed
 * ranges below SND.NXT were skipped, not sent: only the un-SACKed bytes resent since the
 * timeout are in the network (RFC 6675 5.1 keeps the scoreboard; as Linux's
 * tcp_packets_in_flight after tcp_enter_loss marks every un-SACKed segment lost), so the holes
 * are repaired at the pace of slow start, not slowed by the SACKed data between them.
 */
export function goBackFlight(c: TcpConnection, flight: number): number {
  const sb = c.rec.sb;
  if (sb === null || sb.count === 0 || c.snd.nxt === c.snd.max) return flight;
  return sb.unsackedBelow(c.snd.una, c.snd.nxt);
}

/** Whether `seq` may have been sent more than once (a go-back after an RTO, or a recovery). */
export function retransmitted(c: TcpConnection, seq: number): boolean {
  if (c.timers.retries > 0) return true;
  return c.rec.sb !== null && (c.rec.fastRecovery || c.snd.nxt !== c.snd.max) &&
    seqLt(seq, c.rec.sb.highRxt);
}

/**
 * RACK (RFC 8985 6.2 steps 1-2): data up to `end` arrived now; the segment before `end` was
 * sent at a logged time unless it was retransmitted (ambiguous: left out, as step 2 asks).
 */
export function rackDelivered(c: TcpConnection, end: number, now: number): void {
  const last = seqAdd(end, -1);
  if (retransmitted(c, last)) return;
  const rack = c.rec.rack!;
  rack.delivered(end, rack.sentAt(last), now);
}
