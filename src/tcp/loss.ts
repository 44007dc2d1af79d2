/**
 * Loss detection arithmetic shared by ACK processing and the send loop, with no side
 * effects: the duplicate-ACK threshold in force (RFC 5681 3.2, RFC 5827 early retransmit, a
 * reordering-raised threshold as Linux `tp->reordering`), and RFC 6675's IsLost and SetPipe
 * over the SACK scoreboard.
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
  const oseg = Math.ceil(seqDiff(c.sndMax, c.sndUna) / c.mss);
  if (oseg < 4 && seqDiff(c.sndEnd, c.sndMax) <= 0) return Math.max(oseg - 1, 1);
  return Math.max(3, Math.min(c.dupThresh, oseg - 1));
}

/**
 * RFC 6675 IsLost(SND.UNA), or RACK (RFC 8985 6.2): the segment at SND.UNA is taken as lost.
 */
export function headLost(c: TcpConnection, now: number): boolean {
  const sb = c.sb;
  if (sb === null || sb.count === 0) return false;
  return seqGt(lostEdge(c, now), c.sndUna);
}

/**
 * Un-SACKed data below the returned sequence is lost: RFC 6675 IsLost (more than
 * (DupThresh - 1) * SMSS SACKed above), RACK (sent before a delivered segment, more than an
 * RTT plus the reordering window ago), or below a tail loss probe that arrived (tlp.ts).
 */
function lostEdge(c: TcpConnection, now: number): number {
  const una = c.sndUna, sb = c.sb!;
  const thresh = dupThreshold(c);
  let edge = sb.lostEdge(una, thresh, c.mss);
  if (c.probeLost >= 0 && seqGt(c.probeLost, edge)) edge = c.probeLost;
  const rack = c.rack;
  if (rack !== null && c.opt.rack) {
    const r = rack.lostBelow(una, now, rackReoWnd(c));
    if (seqGt(r, edge)) edge = r;
  }
  return edge;
}

/** RACK.reo_wnd for `c` now (RFC 8985 6.2 step 4). */
function rackReoWnd(c: TcpConnection): number {
  const sb = c.sb;
  const dupSacked = sb !== null && sb.sacked >= dupThreshold(c) * c.mss;
  return c.rack!.reoWnd(c.inRecovery, dupSacked, c.rtt.srtt);
}

/**
 * Arm the RACK reordering timer (RFC 8985 6.2 step 5) for the first segment sent before the
 * RACK segment that has not waited long enough yet; cancel it when there is none.
 */
export function armRackTimer(c: TcpConnection, now: number): void {
  const rack = c.rack, sb = c.sb;
  if (rack === null || !c.opt.rack || sb === null || sb.count === 0) {
    c.rackAt = Infinity;
    return;
  }
  const at = rack.nextTimeout(c.sndUna, now, rackReoWnd(c));
  if (at < 0) c.rackAt = Infinity;
  else if (at !== c.rackAt) c.arm("rackAt", Math.ceil(at));
}

/** What SACK-based recovery (RFC 6675 section 5) may send next. */
export interface NextSeg {
  /** cwnd - pipe in bytes: what may be sent now. */
  room: number;
  /** The first lost hole above HighRxt (NextSeg rule 1), or -1. */
  lost: number;
  /** The first un-SACKed hole above HighRxt below the highest SACKed byte (rule 3), or -1. */
  hole: number;
  /** Index in `c.rtxLog` of a retransmission presumed lost, to send again first, or -1. */
  resend: number;
}

/**
 * RFC 6675 section 5 step (C) for one transmission: SetPipe, then the candidates of NextSeg
 * rules 1 and 3 (rule 2 is new data, which the send loop knows about). Writes into `out`.
 */
export function nextSeg(c: TcpConnection, out: NextSeg, now: number): NextSeg {
  const sb = c.sb!;
  const una = c.sndUna;
  const highRxt = seqGt(sb.highRxt, una) ? sb.highRxt : una;
  const lost = sb.count > 0 ? lostEdge(c, now) : una;
  const log = c.rtxLog;
  out.resend = log !== null && log.lostBytes > 0 ? log.firstLost() : -1;
  out.room = c.cc.cwnd - pipeWith(c, highRxt, lost);
  const hole = sb.nextHole(highRxt, c.sndMax);
  out.hole = hole;
  out.lost = hole >= 0 && seqLt(hole, lost) ? hole : -1;
  return out;
}

/** RFC 6675 SetPipe for a SACK recovery of `c` now (the bytes presumed in the network). */
export function pipe(c: TcpConnection, now: number): number {
  const sb = c.sb!, una = c.sndUna;
  const highRxt = seqGt(sb.highRxt, una) ? sb.highRxt : una;
  return pipeWith(c, highRxt, sb.count > 0 ? lostEdge(c, now) : una);
}

function pipeWith(c: TcpConnection, highRxt: number, lost: number): number {
  const sb = c.sb!, una = c.sndUna;
  // The FIN's sequence number is not data in the network (Linux counts packets).
  const high = c.finQueued && seqGt(c.sndMax, c.finSeq) ? c.finSeq : c.sndMax;
  const p = sb.count > 0
    ? sb.pipe(una, high, highRxt, seqMax(lost, una))
    : Math.max(0, seqDiff(high, una));
  // A retransmission presumed lost has left the network: it no longer counts (RFC 6675's
  // SetPipe would count it until an RTO).
  return c.rtxLog !== null ? p - c.rtxLog.lostBytes : p;
}

/** Whether `seq` may have been sent more than once (a go-back after an RTO, or a recovery). */
export function retransmitted(c: TcpConnection, seq: number): boolean {
  if (c.retries > 0) return true;
  return c.sb !== null && (c.inRecovery || c.sndNxt !== c.sndMax) && seqLt(seq, c.sb.highRxt);
}

/**
 * RACK (RFC 8985 6.2 steps 1-2): data up to `end` arrived now; the segment before `end` was
 * sent at a logged time unless it was retransmitted (ambiguous: left out, as step 2 asks).
 */
export function rackDelivered(c: TcpConnection, end: number, now: number): void {
  const last = seqAdd(end, -1);
  if (retransmitted(c, last)) return;
  const rack = c.rack!;
  rack.delivered(end, rack.sentAt(last), now);
}
