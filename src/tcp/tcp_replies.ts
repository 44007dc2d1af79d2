/**
 * Replies to segments that are not part of the normal flow: challenge ACKs (RFC 5961 section
 * 7), rate-limited ACKs to invalid segments (RFC 9293 3.10.7.4, as Linux), and RSTs to
 * segments that belong to no connection (RFC 9293 3.10.7.1) and of aborted connections.
 *
 * @module
 */

import { F_ACK, F_FIN, F_RST, F_SYN } from "../wire/layout.ts";
import { seqAdd } from "../wire/seq.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import type { ConnHost, TcpConnection } from "./connection.ts";
import { sendAck } from "./tcp_output.ts";

/** RFC 5961 section 7: a challenge ACK, subject to the layer's rate limit. */
export function challengeAck(c: TcpConnection, now: number): void {
  if (c.host.challengeAllowed(now)) {
    c.host.count("tcp-challenge-ack");
    sendAck(c, now);
  } else c.drop("tcp-challenge-ack-limited");
}

/** Linux tcp_invalid_ratelimit: at most one ACK per 500 ms answers invalid segments. */
const INVALID_ACK_INTERVAL_MS = 500;

/**
 * An ACK in reply to an invalid segment (out of window, PAWS, ACK of unsent data), which RFC
 * 9293 3.10.7.4 asks for. Rate limited per connection as Linux does (tcp_oow_rate_limited,
 * RFC 5961 section 7 asks for such limits): two ends that each find the other's segments
 * unacceptable (a half-open connection facing TIME-WAIT) would otherwise trade ACKs forever.
 * Segments carrying data or FIN without SYN are not part of such a loop and always answered.
 */
export function invalidAck(c: TcpConnection, now: number, segLen: number, syn: boolean): void {
  if (segLen === 0 || syn) {
    if (now - c.oowAckAt < INVALID_ACK_INTERVAL_MS) {
      c.drop("tcp-ack-rate-limited");
      return;
    }
    c.oowAckAt = now;
  }
  sendAck(c, now);
}

/**
 * The RST of an aborted connection (RFC 9293 3.10.5, RFC 1122 4.2.2.13):
 * <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>.
 */
export function connRst(c: TcpConnection, now: number): void {
  const s = c.host.out.clear();
  s.srcIp = c.localIp;
  s.dstIp = c.remoteIp;
  s.srcPort = c.localPort;
  s.dstPort = c.remotePort;
  s.seq = c.snd.nxt;
  s.ack = c.rcv.nxt;
  s.flags = F_RST | F_ACK;
  c.host.tx.sendTcp(s, -1, now);
  c.stats.segsOut++;
  c.host.count("tcp-rst-sent");
}

/**
 * Reply with RST to a segment that belongs to no connection (RFC 9293 3.10.7.1): never to a
 * RST; <SEQ=SEG.ACK><CTL=RST> when it has ACK, else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
 */
export function replyRst(host: ConnHost, seg: TcpSegment, now: number): void {
  if (seg.flags & F_RST) return;
  const srcIp = seg.dstIp, dstIp = seg.srcIp, srcPort = seg.dstPort, dstPort = seg.srcPort;
  const hasAck = (seg.flags & F_ACK) !== 0;
  const seq = seg.seq, ack = seg.ack, flags = seg.flags, len = seg.payloadLen;
  const s = host.out.clear();
  s.srcIp = srcIp;
  s.dstIp = dstIp;
  s.srcPort = srcPort;
  s.dstPort = dstPort;
  if (hasAck) {
    s.seq = ack;
    s.flags = F_RST;
  } else {
    s.seq = 0;
    s.ack = seqAdd(seq, len + (flags & F_SYN ? 1 : 0) + (flags & F_FIN ? 1 : 0));
    s.flags = F_RST | F_ACK;
  }
  host.tx.sendTcp(s, -1, now);
  host.count("tcp-rst-sent");
}
