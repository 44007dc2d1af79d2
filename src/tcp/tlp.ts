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
  if (c.sndMax === c.sndUna || c.inRecovery) return;
  const mss = c.mss;
  const avail = seqDiff(c.sndEnd, c.sndMax);
  const wndRoom = c.sndWnd - seqDiff(c.sndMax, c.sndUna);
  c.tlpRtx = false;
  if (avail > 0 && wndRoom > 0 && c.sndNxt === c.sndMax) {
    const seq = c.sndMax;
    const sent = sendData(c, seq, Math.min(avail, mss, wndRoom), false, now);
    c.sndNxt = c.sndMax = seqAdd(seq, sent);
    if (sent > 0) (c.rack ??= new Rack()).record(c.sndMax, now);
    c.tlpSeq = seq;
  } else {
    // The highest segment (and the FIN when it was sent).
    const finSent = c.finQueued && seqGt(c.sndMax, c.finSeq);
    const dataEnd = finSent ? c.finSeq : c.sndMax;
    const len = Math.max(0, Math.min(mss, seqDiff(dataEnd, c.sndUna)));
    const seq = seqAdd(dataEnd, -len);
    if (retransmitAt(c, seq, len, now) < 0) return;
    c.tlpRtx = true;
    c.tlpSeq = seq;
  }
  c.tlpEnd = c.sndMax;
  c.host.count("tcp-tlp");
  c.arm("rtxAt", now + c.rtt.rto);
}

/**
 * RFC 8985 7.4, for each ACK while a probe is out (`advanced`: it moved SND.UNA; `dsack`: its
 * first SACK block reported a duplicate). Returns true when the probe was SACKed above holes:
 * everything un-SACKed below it was sent two round trips before a segment that arrived, so
 * it is lost (RACK's rule) and `c.probeLost` is set for fast recovery to repair it.
 */
export function onProbeAck(
  c: TcpConnection,
  seg: TcpSegment,
  advanced: boolean,
  dsack: boolean,
  now: number,
): boolean {
  if (c.tlpEnd < 0) return false;
  const ack = seg.ack;
  if (seqLt(ack, c.tlpEnd)) {
    const sb = c.sb;
    if (sb !== null && sb.count > 0 && sb.skip(c.tlpSeq) !== c.tlpSeq && seqLt(ack, c.tlpSeq)) {
      c.probeLost = c.tlpSeq;
      c.tlpEnd = -1;
      return true;
    }
    return false;
  }
  // The ACK covers the probe (Linux tcp_process_tlp_ack).
  if (c.tlpRtx && !dsack && advanced && seqGe(ack, c.tlpEnd)) {
    // The probe repaired a loss: respond as to a fast retransmission (RFC 8985 7.4.1): the
    // algorithm's ssthresh from the window, and cwnd down to it (as Linux's CWR state ends).
    c.cc.enterRecovery(c.cc.cwnd, c.mss, now);
    c.cc.cwnd = c.cc.ssthresh;
    c.host.count("tcp-tlp-recovery");
  }
  c.tlpEnd = -1;
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
