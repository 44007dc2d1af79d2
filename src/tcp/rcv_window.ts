/**
 * The receive window, owned by the receive side: which right edge we may offer (receiver
 * silly-window avoidance), the window field of an outgoing segment, and when reading frees
 * enough room for a window update. Works on the receive sequence space only (`RecvSpace`,
 * tcb.ts) and the free space of the receive ring, which the caller reads from the engine.
 *
 * @module
 */

import { seqAdd, seqDiff, seqGt, seqLt } from "../wire/seq.ts";
import type { RecvSpace } from "./tcb.ts";

/**
 * The peer's segment size (as Linux icsk_ack.rcv_mss): the largest seen when it looks like a
 * full segment (536 bytes or more), else what our MSS lets the peer send with its options.
 */
function peerSegment(rcv: RecvSpace, tsOk: boolean): number {
  return rcv.seg >= 536 ? rcv.seg : rcv.mss - (tsOk ? 12 : 0);
}

/**
 * Whether the window we offered leaves the peer less than min(RCV.BUFF / 2, one of its
 * segments): its sender SWS avoidance (RFC 9293 3.8.6.2.1) then holds it until our window
 * update, so an update that reading made due must not wait for the delayed-ACK timer.
 */
export function peerWindowBlocked(rcv: RecvSpace, rcvBuf: number, tsOk: boolean): boolean {
  return seqDiff(rcv.adv, rcv.nxt) < Math.min(rcvBuf >> 1, peerSegment(rcv, tsOk));
}

/**
 * The right window edge we may offer now, with `free` bytes free in the receive ring.
 * Receiver SWS avoidance (RFC 9293 3.8.6.2.2, RFC 1122 4.2.3.3 MUST): keep RCV.NXT + RCV.WND
 * fixed until the edge can move by min(RCV.BUFF / 2, Eff.snd.MSS); never shrink the window
 * (RFC 9293 3.8.6.2.2, RFC 7323 2.4). As Linux (__tcp_select_window), a window offered anew is
 * a whole number of the peer's segments, so full-sized segments use it up exactly and no window
 * smaller than a segment is left over. `tsOk`: the peer's segments carry timestamps.
 */
export function rcvRightEdge(rcv: RecvSpace, free: number, rcvBuf: number, tsOk: boolean): number {
  const right = seqAdd(rcv.nxt, free);
  if (!seqGt(right, rcv.adv)) return rcv.adv;
  const seg = peerSegment(rcv, tsOk);
  if (
    seqDiff(right, rcv.adv) < Math.min(rcvBuf >> 1, seg) &&
    (seqLt(rcv.nxt, rcv.adv) || free < seg)
  ) return rcv.adv;
  const edge = seqAdd(rcv.nxt, free >= seg ? free - free % seg : free);
  return seqGt(edge, rcv.adv) ? edge : rcv.adv;
}

/**
 * The window field to send, unscaled, moving `rcv.adv` to the edge it offers (RFC 9293
 * 3.8.6.2.2, RFC 7323 2.3). `free` is the ring's free space, or -1 when there is no ring yet;
 * on a SYN (`syn`) the window is never scaled (RFC 7323 2.2).
 */
export function advertise(
  rcv: RecvSpace,
  free: number,
  rcvBuf: number,
  tsOk: boolean,
  syn: boolean,
): number {
  if (free < 0 || syn) {
    const w = Math.min(rcvBuf, 65535);
    rcv.adv = seqAdd(rcv.nxt, w);
    return w;
  }
  let span = seqDiff(rcvRightEdge(rcv, free, rcvBuf, tsOk), rcv.nxt);
  if (span < 0) span = 0;
  const w = Math.min(span >>> rcv.wscale, 65535);
  rcv.adv = seqAdd(rcv.nxt, w << rcv.wscale);
  return w;
}

/**
 * After the reader took bytes: whether a window update is due (RFC 9293 3.8.6.2.2; as Linux
 * tcp_cleanup_rbuf: the offered window is at most half the buffer and would at least double;
 * none after the peer's FIN).
 */
export function windowUpdateDue(
  rcv: RecvSpace,
  free: number,
  rcvBuf: number,
  tsOk: boolean,
): boolean {
  if (rcv.peerFin) return false;
  const cur = Math.max(seqDiff(rcv.adv, rcv.nxt), 0);
  const next = seqDiff(rcvRightEdge(rcv, free, rcvBuf, tsOk), rcv.nxt);
  return 2 * cur <= rcvBuf && next > 0 && next >= 2 * cur;
}
