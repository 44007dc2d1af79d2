/**
 * Segment arrival in TIME-WAIT, on a compact record (time_wait.ts). The same rules as a whole
 * connection in TIME-WAIT followed through tcp_input.ts (RFC 9293 3.10.7.4 with RFC 7323 PAWS
 * and RFC 5961 challenge ACKs): a retransmitted FIN is acknowledged again and restarts 2 MSL;
 * other text is ignored but acknowledged (as Linux); an exact RST ends the record (RFC 9293
 * 3.10.7.4; an inexact one in the window gets a challenge ACK, RFC 5961 3.2); a SYN that is not
 * a new incarnation (tcp_layer.ts decides, RFC 6191) gets an ACK. ACKs carry the window the
 * connection last offered and timestamps when negotiated; no SACK blocks (as Linux
 * `tcp_v4_timewait_ack`). `timeWaitAck` is also what a full connection would send.
 *
 * @module
 */

import { F_ACK, F_FIN, F_RST, F_SYN } from "../wire/layout.ts";
import { seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt } from "../wire/seq.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import type { TcpTransmit } from "./contract.ts";
import { type TimeWaitTable, TW_SACK, TW_TS } from "./time_wait.ts";

/** RFC 7323 5.5: TS.Recent of a connection idle this long is invalid (24 days). */
const PAWS_IDLE_MS = 24 * 86_400_000;
/** Linux tcp_invalid_ratelimit (as tcp_replies.ts invalidAck). */
const INVALID_ACK_INTERVAL_MS = 500;

/** What TIME-WAIT input needs from its layer. */
export interface TimeWaitHost {
  /** The layer below. */
  readonly tx: TcpTransmit;
  /** The reusable outgoing segment. */
  readonly out: TcpSegment;
  /** Count one layer event or drop reason. */
  count(name: string): void;
  /** Challenge ACK budget (RFC 5961 section 7): true when one may be sent now. */
  challengeAllowed(now: number): boolean;
}

/**
 * Process `seg` for the record in `slot`. Returns false when the record ended (an exact RST):
 * the caller frees it.
 */
export function timeWaitInput(
  t: TimeWaitTable,
  slot: number,
  seg: TcpSegment,
  h: TimeWaitHost,
  now: number,
): boolean {
  const flags = seg.flags, seq = seg.seq;
  const syn = (flags & F_SYN) !== 0, rst = (flags & F_RST) !== 0;
  let fin = (flags & F_FIN) !== 0;
  let plen = seg.payloadLen;
  const tsOk = (t.flags[slot]! & TW_TS) !== 0;
  const rcvNxt = t.rcvNxt[slot]!;
  // RFC 7323 5.3 PAWS; pure ACKs exempt, skipped after 24 days idle (as tcp_input.ts).
  const carries = plen > 0 || (flags & (F_SYN | F_FIN)) !== 0;
  if (
    tsOk && seg.hasTs && !rst && carries && seqLt(seg.tsVal, t.tsRecent[slot]!) &&
    now - t.tsRecentAt[slot]! < PAWS_IDLE_MS
  ) {
    h.count("tcp-paws");
    invalidAck(t, slot, h, now, plen + (syn ? 1 : 0) + (fin ? 1 : 0), syn);
    return true;
  }
  // The sequence number (RFC 9293 3.10.7.4 table of four cases), against the window offered.
  const segLen = plen + (syn ? 1 : 0) + (fin ? 1 : 0);
  const wnd = t.rcvWnd[slot]!;
  let ackNow = false;
  let ok: boolean;
  if (segLen === 0) ok = wnd === 0 ? seq === rcvNxt : seqInWindow(seq, rcvNxt, wnd);
  else {
    ok = wnd > 0 &&
      (seqInWindow(seq, rcvNxt, wnd) || seqInWindow(seqAdd(seq, segLen - 1), rcvNxt, wnd));
  }
  if (!ok) {
    if (wnd === 0 && seq === rcvNxt && !rst && !syn) {
      plen = 0; // a zero window still takes a valid ACK
      fin = false;
      ackNow = true;
    } else {
      if (rst) h.count("tcp-rst-out-of-window");
      else {
        h.count("tcp-unacceptable");
        // A duplicate of data we had (RFC 2883 counts it; no D-SACK block from TIME-WAIT).
        if (plen > 0 && (t.flags[slot]! & TW_SACK) && seqLt(seq, rcvNxt)) {
          h.count("tcp-rcv-duplicate");
        }
        if (fin) t.expiry[slot] = now + t.twMs[slot]!; // restart 2 MSL
        invalidAck(t, slot, h, now, segLen, syn);
      }
      return true;
    }
  }
  // RFC 7323 4.3: remember the timestamp to echo (our last ACK acknowledged RCV.NXT).
  if (
    tsOk && seg.hasTs && seqLe(seq, rcvNxt) &&
    (seqGe(seg.tsVal, t.tsRecent[slot]!) || now - t.tsRecentAt[slot]! >= PAWS_IDLE_MS)
  ) {
    t.tsRecent[slot] = seg.tsVal;
    t.tsRecentAt[slot] = now;
  }
  if (rst) {
    // RFC 5961 3.2: only an exact RST ends it; RFC 9293 3.10.7.4: TIME-WAIT goes to CLOSED.
    if (seq !== rcvNxt) {
      challengeAck(t, slot, h, now);
      return true;
    }
    h.count("tcp-rst-received");
    return false;
  }
  if (syn) { // not a new incarnation (tcp_layer.ts): RFC 5961 4.2 challenge ACK
    challengeAck(t, slot, h, now);
    return true;
  }
  if (!(flags & F_ACK)) {
    h.count("tcp-no-ack");
    return true;
  }
  const sndNxt = t.sndNxt[slot]!;
  if (seqGt(seg.ack, sndNxt)) {
    h.count("tcp-ack-unsent"); // acknowledges something never sent: ACK and drop
    invalidAck(t, slot, h, now, plen + (fin ? 1 : 0), false);
    return true;
  }
  // RFC 5961 5.2: an ACK older than SND.UNA - MAX.SND.WND gets a challenge ACK.
  if (seqLt(seg.ack, seqAdd(sndNxt, -Math.max(t.maxWnd[slot]!, 1)))) {
    challengeAck(t, slot, h, now);
    return true;
  }
  if (fin || plen > 0) {
    // Text is ignored in TIME-WAIT (RFC 9293 3.10.7.4) but acknowledged, as Linux does; a
    // retransmitted FIN restarts 2 MSL.
    ackNow = true;
    if (fin) t.expiry[slot] = now + t.twMs[slot]!;
  }
  if (ackNow) timeWaitAck(t, slot, h, now);
  return true;
}

/** <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> with the window last offered and timestamps. */
export function timeWaitAck(t: TimeWaitTable, slot: number, h: TimeWaitHost, now: number): void {
  const s = h.out.clear();
  s.srcIp = t.lip[slot]!;
  s.dstIp = t.rip[slot]!;
  s.srcPort = t.lport[slot]!;
  s.dstPort = t.rport[slot]!;
  s.seq = t.sndNxt[slot]!;
  s.ack = t.rcvNxt[slot]!;
  s.flags = F_ACK;
  s.wnd = Math.min(t.rcvWnd[slot]! >>> t.wscale[slot]!, 65535);
  if (t.flags[slot]! & TW_TS) {
    s.hasTs = true;
    s.tsVal = now >>> 0; // RFC 7323 5.4: a 1 ms clock, as every segment of the layer
    s.tsEcr = t.tsRecent[slot]!;
  }
  h.tx.sendTcp(s, -1, now);
}

/** RFC 5961 section 7: a challenge ACK, subject to the layer's rate limit. */
function challengeAck(t: TimeWaitTable, slot: number, h: TimeWaitHost, now: number): void {
  if (h.challengeAllowed(now)) {
    h.count("tcp-challenge-ack");
    timeWaitAck(t, slot, h, now);
  } else h.count("tcp-challenge-ack-limited");
}

/** An ACK to an invalid segment, rate limited per record (tcp_replies.ts invalidAck). */
function invalidAck(
  t: TimeWaitTable,
  slot: number,
  h: TimeWaitHost,
  now: number,
  segLen: number,
  syn: boolean,
): void {
  if (segLen === 0 || syn) {
    if (now - t.oowAckAt[slot]! < INVALID_ACK_INTERVAL_MS) {
      h.count("tcp-ack-rate-limited");
      return;
    }
    t.oowAckAt[slot] = now;
  }
  timeWaitAck(t, slot, h, now);
}

/** The window in bytes a connection last offered: RCV.NXT to the advertised right edge. */
export function offeredWindow(adv: number, rcvNxt: number): number {
  const w = seqDiff(adv, rcvNxt);
  return w > 0 ? w : 0;
}
