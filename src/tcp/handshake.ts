/**
 * Connection setup: send-side initialisation, option negotiation on the SYN (MSS RFC 9293
 * 3.7.1 and RFC 6691, window scale RFC 7323 s2, timestamps RFC 7323 s3, SACK-permitted RFC
 * 2018), the SYN-SENT arrival rules (RFC 9293 3.10.7.3) and entry into ESTABLISHED.
 *
 * @module
 */

import { F_ACK, F_RST, F_SYN } from "../wire/layout.ts";
import { tcpIpOverhead } from "../wire/ip_handle.ts";
import { seqAdd, seqGt, seqLe } from "../wire/seq.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import { scaleBuffer } from "./buf_tune.ts";
import { NewReno } from "./congestion.ts";
import { Cubic } from "./cubic.ts";
import type { TcpConnection } from "./connection.ts";
import { sendSyn } from "./tcp_output.ts";
import { replyRst } from "./tcp_replies.ts";
import { TcpError } from "./types.ts";

/** The window-scale shift for a receive buffer: the smallest that fits 16 bits, at most 14. */
export function scaleFor(rcvBuf: number): number {
  let s = 0;
  while (s < 14 && rcvBuf >>> s > 65535) s++;
  return s;
}

/** Pick the ISS, create the send ring after the SYN, and choose what the SYN offers. */
export function initSend(c: TcpConnection, iss: number, now: number): void {
  const e = c.host.engine;
  c.snd.iss = iss >>> 0;
  c.snd.una = c.snd.nxt = c.snd.max = c.snd.iss;
  c.snd.end = seqAdd(c.snd.iss, 1); // the SYN occupies ISS; data starts at ISS + 1
  c.rec.recover = c.snd.iss;
  c.snd.ring = e.sndCreate(c.opt.sndBuf, c.snd.end);
  const mtu = c.host.tx.pathMtu(c.remoteIp, now);
  c.rcv.mss = Math.max(Math.min(c.opt.mss, mtu - tcpIpOverhead(c.remoteIp)), 88);
  c.rcv.wscale = c.opt.windowScale ? scaleFor(scaleBuffer(c)) : 0; // for rcvBufMax (buf_tune.ts)
}

/** Record the peer's SYN options and sequence number; create the receive buffer. */
export function negotiate(c: TcpConnection, seg: TcpSegment, now: number): void {
  c.rcv.irs = seg.seq;
  c.rcv.nxt = seqAdd(seg.seq, 1);
  // RFC 9293 3.7.1: without an MSS option assume 536.
  c.snd.peerMss = seg.mss > 0 ? seg.mss : 536;
  c.wsOk = c.opt.windowScale && seg.ws >= 0;
  if (c.wsOk) {
    c.snd.wscale = Math.min(seg.ws, 14); // RFC 7323 2.3: larger shifts are treated as 14
  } else {
    c.snd.wscale = 0;
    c.rcv.wscale = 0;
  }
  c.sackOk = c.opt.sack && seg.sackOk;
  c.tsOk = c.opt.timestamps && seg.hasTs;
  if (c.tsOk) {
    c.rcv.tsRecent = seg.tsVal;
    c.rcv.tsRecentAt = now;
  }
  const mtu = c.host.tx.pathMtu(c.remoteIp, now);
  // RFC 6691: the MSS counts neither IP nor TCP options; subtract the timestamp option we
  // will carry on every segment (RFC 7323 section 3).
  const room = mtu - tcpIpOverhead(c.remoteIp); // RFC 8201 section 4: IPv6 MSS = MTU - 60
  c.snd.mss = Math.max(Math.min(c.snd.peerMss, room, c.opt.mss) - (c.tsOk ? 12 : 0), 32);
  // Congestion control chosen per connection (RFC 5681 NewReno, or CUBIC RFC 9438).
  c.cc = c.opt.congestion === "cubic" ? new Cubic(c.snd.mss) : new NewReno(c.snd.mss);
  if (c.rcv.ring < 0) c.rcv.ring = c.host.engine.rcvCreate(c.opt.rcvBuf, c.rcv.nxt);
  c.rcv.adv = c.rcv.nxt;
}

/** Take the peer's first window (never scaled on a SYN, RFC 7323 2.2). */
export function firstWindow(c: TcpConnection, seg: TcpSegment): void {
  c.snd.wnd = seg.wnd;
  c.snd.maxWnd = Math.max(c.snd.maxWnd, seg.wnd);
  c.snd.wl1 = seg.seq;
  c.snd.wl2 = seg.ack;
}

/** Enter ESTABLISHED (or FIN-WAIT-1 when the owner already shut the write side). */
export function enterEstablished(c: TcpConnection, now: number): void {
  c.st = c.snd.finQueued ? "FIN-WAIT-1" : "ESTABLISHED";
  c.timers.retries = 0;
  c.timers.progressAt = now;
  c.rtt.rto = Math.max(c.rtt.rto, 0);
  if (c.passive) c.host.established(c);
  c.emit("established");
}

/** Segment arrival in SYN-SENT (RFC 9293 3.10.7.3). */
export function synSentInput(c: TcpConnection, seg: TcpSegment, now: number): void {
  const f = seg.flags;
  if (f & F_ACK) {
    // An ACK outside (ISS, SND.NXT] is not for this connection: RST unless it is a RST.
    if (seqLe(seg.ack, c.snd.iss) || seqGt(seg.ack, c.snd.max)) {
      if (!(f & F_RST)) replyRst(c.host, seg, now);
      c.drop("tcp-bad-ack");
      return;
    }
  }
  if (f & F_RST) {
    // RFC 9293 3.10.7.3 and RFC 5961 3.2: a RST with an acceptable ACK refuses the connection.
    if (f & F_ACK) c.toClosed(new TcpError("refused", "Connection refused"));
    else c.drop("tcp-rst-no-ack");
    return;
  }
  if (!(f & F_SYN)) {
    c.drop("tcp-no-syn");
    return;
  }
  negotiate(c, seg, now);
  firstWindow(c, seg);
  if (f & F_ACK) {
    c.snd.una = seg.ack;
    if (c.snd.rttStart >= 0) c.rtt.sample(now - c.snd.rttStart);
    c.snd.rttStart = -1;
    c.timers.rtx = Infinity;
    c.rcv.ackNow = true; // RFC 9293 3.10.7.3: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    // Held for the application's first turn when the layer is told to (its driver runs the
    // application between passes): data or a FIN sent meanwhile carries this ACK, as Linux
    // defers it when a write is pending (tcp_rcv_synsent_state_process). RFC 9293 3.10.7.3
    // permits it ("Data or controls that were queued for transmission MAY be included");
    // RFC 1122 4.2.3.2 bounds any delay, and the layer releases the hold within a turn.
    c.rcv.ackHeld = c.host.holdAck(c);
    if (!c.rcv.ackHeld) c.rcv.ackAloneAt = now; // goes now: was it avoidable? (tcp_output.ts)
    enterEstablished(c, now);
    return;
  }
  // Simultaneous open (RFC 9293 figure 8): SYN-RECEIVED, send SYN+ACK.
  c.st = "SYN-RECEIVED";
  c.timers.rtx = Infinity;
  sendSyn(c, now);
}
