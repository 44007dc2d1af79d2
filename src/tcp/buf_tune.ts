/**
 * Buffer auto-tuning: the receive buffer grows with what the application drains per round trip
 * (dynamic right-sizing, as Linux tcp_rcv_space_adjust), the send ring grows with the
 * congestion window (as Linux tcp_sndbuf_expand), each up to its maximum (`rcvBufMax`,
 * `sndBufMax`), and all growth of one TCP layer draws on one budget (`bufferBudget`, as Linux
 * tcp_mem) so that many connections cannot grow without bound: once the budget is spent,
 * buffers stay at the size they have. Buffers never shrink while the connection lives (the
 * window must not shrink, RFC 9293 3.8.6, RFC 7323 2.4); a connection's growth returns to the
 * budget when its buffer is freed.
 *
 * The window scale is chosen at SYN time for the maximum (RFC 7323 2.2: it cannot change
 * later), as Linux does with tcp_rmem[2]; handshake.ts asks {@link scaleBuffer} for it.
 *
 * @module
 */

import type { TcpConnection } from "./connection.ts";
import type { RecvSpace } from "./tcb.ts";
import { seqDiff } from "../wire/seq.ts";

/** Bytes of buffer growth beyond the initial sizes, shared by every connection of a layer. */
export class BufferBudget {
  /** Bytes taken now. */
  used = 0;
  /** Growths refused (wholly or in part) because the budget was spent. */
  refused = 0;
  /** A budget of `limit` bytes. */
  constructor(readonly limit: number) {}

  /** Take up to `want` bytes; returns what was granted (0 when the budget is spent). */
  take(want: number): number {
    const got = Math.max(0, Math.min(want, this.limit - this.used));
    if (got < want) this.refused++;
    this.used += got;
    return got;
  }

  /** Give back `n` bytes taken before. */
  give(n: number): void {
    this.used -= n;
  }
}

/** The buffer size the window scale is chosen for: the maximum it may grow to. */
export function scaleBuffer(c: TcpConnection): number {
  return Math.max(c.opt.rcvBuf, c.opt.rcvBufMax);
}

/**
 * Our segments now carry TSval `ts` (a whole millisecond of `now`), first sent at `now`: keep
 * when the first segment with each of the last two TSvals left, so that a TSecr echoing one of
 * them measures the round trip on the driver's clock (fractional milliseconds from
 * `performance.now()`) rather than in whole timestamp ticks. Called by tcp_output.ts when the
 * TSval changes.
 */
export function tsSent(r: RecvSpace, ts: number, now: number): void {
  r.tsPrev = r.tsSent;
  r.tsPrevAt = r.tsSentAt;
  r.tsSent = ts;
  r.tsSentAt = now;
}

/**
 * The receiver-side RTT of data echoing `tsEcr` arriving `now` (as Linux
 * tcp_rcv_rtt_measure_ts, RFC 7323 4.1): from the first segment we sent with that TSval when
 * it is one of the last two, else in whole ticks. The peer echoes the TSval of the latest of
 * our segments it had, which left no earlier than the first with that TSval: the measure is
 * never shorter than the round trip it covers.
 */
export function rcvRttSample(r: RecvSpace, tsEcr: number, now: number): number {
  if (tsEcr === r.tsSent) return now - r.tsSentAt;
  if (tsEcr === r.tsPrev) return now - r.tsPrevAt;
  return seqDiff(now >>> 0, tsEcr);
}

/** The shortest measurement interval, ms: a few driver turns, whatever the round trip. */
export const DRS_MIN_INTERVAL_MS = 0.05;

/**
 * Dynamic right-sizing (as Linux tcp_rcv_space_adjust): once per round trip, compare the
 * bytes the application read per round trip with the last measure; when it read more, grow the
 * receive buffer to twice that plus 16 segments (doubled, or x1.5, while the count still grows
 * fast: a sender in slow start), up to `rcvBufMax` and the layer's budget. Called with each
 * in-order data segment (the reader's progress is counted by `read`). Both rules below leave
 * the buffer as it is while the reader leaves bytes unread (as recent Linux does), when the
 * reader took more than twice the buffer in the interval, or when round trips measure 0 (a
 * clock in whole milliseconds, such as a virtual one, on a path shorter than a tick).
 *
 * The network rule (default; TAP, TUN): the round trip is the smoothed receiver-side RTT
 * ({@link rcvRttSample} on the driver's clock, one sample per echoed TSval, gain 1/8, as Linux
 * tcp_rcv_rtt_measure_ts), else srtt. It includes the queue the window fills (the device's
 * queue, our own backlog), so a sender kept waiting by our window sees it grow, as a Linux
 * receiver's does on loopback or veth.
 *
 * The strict rule (`sameThreadPeer`: the memory link, whose "round trip" is the other stack's
 * turn on our thread and grows with the window, so the network rule would grow it to the
 * maximum and copies turn cache-cold; also a connection to our own address, whose peer is this
 * stack): the round trip is the least receiver-side RTT seen, and the buffer grows only when
 * the sender filled the window we offer in the interval, and not while a standing queue
 * lengthens this interval's round trips to 1.5x the least. Either way never past what the
 * window can advertise (65535 << scale).
 */
export function rcvSpaceAdjust(c: TcpConnection, now: number, tsEcr = 0): void {
  const r = c.rcv;
  // A connection to one of our own addresses (the loopback path: both ends are this stack,
  // so local and remote address are the same) has a same-thread peer on any link.
  const strict = c.opt.sameThreadPeer || c.localIp === c.remoteIp;
  if (tsEcr !== 0) {
    // The least such time is the path's round trip without the queueing a growing window adds
    // itself.
    const rtt = rcvRttSample(r, tsEcr, now);
    if (rtt >= 0 && rtt < r.rttMin) r.rttMin = rtt;
    if (rtt >= 0 && rtt < r.rttNow) r.rttNow = rtt;
    // The smoothed one takes the first data echoing each TSval (RFC 7323 4.1; later segments
    // echoing it answer later ACKs and would measure longer than their round trip).
    if (rtt >= 0 && tsEcr !== r.rttEcr) {
      r.rttEcr = tsEcr;
      r.rttAvg = r.rttAvg > 0 ? r.rttAvg + (rtt - r.rttAvg) / 8 : rtt;
    }
  }
  // Window-limited (strict rule): some segment of the interval reached (within a segment) the
  // right edge we offer, before the reader took it. A sender that never did was limited by
  // itself (its application, its CPU, cwnd), or the reader kept the window open ahead of it.
  // (The memory link's sender, which shares one thread with its reader, never does; growing
  // its window to 2-3 MiB there made copies cache-cold and goodput lower.)
  if (seqDiff(r.adv, r.nxt) < r.mss) r.full = true;
  // Once per round trip. Strict rule: not the smoothed RTT, which on a path whose queue is our
  // own window grows with the window, so each larger window would count more per "round trip"
  // and grow again, up to the maximum.
  let rtt: number;
  if (strict) rtt = r.rttMin !== Infinity ? r.rttMin : c.rtt.srtt;
  else rtt = r.rttAvg > 0 ? r.rttAvg : c.rtt.srtt;
  if (now - r.spaceAt < Math.max(rtt, DRS_MIN_INTERVAL_MS) || r.ring < 0) return;
  // Receive-queue awareness: bytes the application's latest read left behind show that it,
  // not the window, is the bottleneck; they do not count as drained, so a reader that cannot
  // keep up (a slow one, or one sharing the CPU with its sender: the memory link) does not
  // grow the buffer into a longer queue.
  const drained = r.copied - r.spaceCopied - r.unread;
  // Per round trip: an interval ends with the first segment after a round trip, which may come
  // much later (driver turns, a busy CPU); counting all of a longer interval as one round trip
  // would read each late turn as more data per round trip and ratchet the buffer up.
  const copied = Math.floor(drained * Math.min(1, rtt / (now - r.spaceAt)));
  // At first (Linux tcp_init_buffer_space): TCP_INIT_CWND segments, at most the buffer.
  const space = r.space > 0 ? r.space : Math.min(10 * r.mss, r.buf);
  // More than twice the buffer in one interval: the interval holds several round trips' data
  // and the window already holds more than one round trip's worth. Growing on that count would
  // only fill queues (the memory link's, the send ring) with data that waits: the buffer stays.
  // Likewise when the round trip measured 0 (a clock in whole milliseconds on a sub-ms path).
  const unmeasured = strict
    ? r.rttMin === 0 || (r.rttMin === Infinity && c.rtt.hasSample && c.rtt.srtt === 0)
    : rtt <= 0;
  // Strict rule, a standing queue: this interval's least round trip is half again the least
  // ever seen, so the window already holds more than the path needs and the extra waits in a
  // queue; growing would only lengthen it (the signal delay-based controllers such as BBR read).
  const held = strict && (!r.full || (r.rttNow !== Infinity && r.rttNow > 1.5 * r.rttMin));
  if (copied > space && copied <= 2 * r.buf && !unmeasured && !held) {
    // Never past what the window can say (RFC 7323 2.3: 65535 << scale; without window
    // scaling 64 KiB): more buffer would hold memory no sender is offered.
    const max = Math.min(c.opt.rcvBufMax, 65535 * 2 ** r.wscale);
    if (r.buf < max) {
      // Twice what was drained plus 16 segments; up to twice that again while the drained
      // amount still grows fast (a sender in slow start), as Linux's earlier, bounded rule.
      let win = 2 * copied + 16 * r.mss;
      if (4 * copied >= 5 * space) win = 2 * copied >= 3 * space ? 2 * win : win + (win >> 1);
      if (win > r.buf) {
        const target = growStep(r.buf, win, max);
        const got = c.host.budget.take(target - r.buf);
        if (got > 0) {
          c.host.engine.rcvGrow(r.ring, r.buf + got);
          r.buf += got;
          r.grown += got;
        }
      }
    }
    r.space = copied;
  }
  // Per round trip in the latest two intervals (ack_policy.ts): down within two round trips
  // when the sender's flight shrinks, and one late turn of a busy CPU does not pull it down.
  const latest = unmeasured ? 0 : copied;
  r.rttBytes = Math.max(latest, r.rttBytesLast);
  r.rttBytesLast = latest;
  r.spaceCopied = r.copied;
  r.spaceAt = now;
  r.rttNow = Infinity;
  r.full = false;
}

/**
 * The size a buffer of `cur` bytes grows to when it needs `want`: at least half again its size
 * (each growth copies the ring into a new allocation, so a ring that grows with every ACK by a
 * few segments would copy megabytes per ACK and leave a trail of slightly smaller
 * allocations), at most `max`.
 */
export function growStep(cur: number, want: number, max: number): number {
  return Math.min(max, Math.max(want, cur + (cur >> 1)));
}

/**
 * Send-ring growth (as Linux tcp_sndbuf_expand): keep room for twice the congestion window
 * (never more than twice the peer's largest window), so the writer can queue a full window
 * while the previous one is in flight, up to `sndBufMax` and the layer's budget, in steps of
 * {@link growStep}. Called when an ACK frees space.
 */
export function sndBufExpand(c: TcpConnection): void {
  const s = c.snd;
  if (s.buf >= c.opt.sndBufMax || s.ring < 0) return;
  // What can be in flight is the smaller of cwnd and the peer's largest window (cwnd keeps
  // growing while the receiver's window limits, congestion.ts): room beyond twice that would
  // only hold data waiting to be sent.
  const flight = Math.min(c.cc.cwnd, Math.max(s.maxWnd, c.snd.mss));
  if (2 * flight <= s.buf) return;
  const target = growStep(
    s.buf,
    2 * flight,
    Math.min(c.opt.sndBufMax, 2 * Math.max(s.maxWnd, s.mss)),
  );
  if (target <= s.buf) return;
  const got = c.host.budget.take(target - s.buf);
  if (got <= 0) return;
  c.host.engine.sndGrow(s.ring, s.buf + got);
  s.buf += got;
  s.grown += got;
}
