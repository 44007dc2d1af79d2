/**
 * The tail loss probe and what its acknowledgment shows (RFC 8985 sections 7.3 and 7.4).
 * The timer is scheduled by pto.ts.
 *
 * @module
 */

import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from "../wire/seq.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import type { TcpConnection } from "./connection.ts";
import { retransmitAt, sendData } from "./tcp_output.ts";
import { Rack } from "./rack.ts";

/**
 * The probe timer expired (RFC 8985 7.3): send one new segment if the windows allow, else the
 * last segment sent again; remember TLP.end_seq; re-arm the RTO (not another probe).
 */
export function onPto(c: TcpConnection, now: number): void {
  if (c.snd.max === c.snd.una || c.rec.fast) return;
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
