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
 * Dynamic right-sizing (as Linux tcp_rcv_space_adjust): once per smoothed RTT, compare the
 * bytes the application read in that time with the last measure; when it read more, grow the
 * receive buffer to twice that plus 16 segments, plus twice the growth seen (so a sender in slow
 * start is never held back by the window), up to `rcvBufMax` and the layer's budget. Called
 * with each in-order data segment (the reader's progress is counted by `read`).
 */
export function rcvSpaceAdjust(c: TcpConnection, now: number): void {
  const r = c.rcv;
  // Once per smoothed RTT, at least a millisecond apart (timestamps tick in ms, so a path of a
  // few microseconds measures 0).
  if (now - r.spaceAt < Math.max(c.rtt.srtt, 1) || r.ring < 0) return;
  const copied = r.copied - r.spaceCopied;
  const space = r.space > 0 ? r.space : 10 * r.mss; // Linux: TCP_INIT_CWND segments at first
  if (copied > space) {
    const max = c.opt.rcvBufMax;
    if (r.buf < max) {
      let win = 2 * copied + 16 * r.mss;
      win += 2 * Math.floor(win * (copied - space) / space);
      const target = Math.min(win, max);
      if (target > r.buf) {
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
  r.spaceCopied = r.copied;
  r.spaceAt = now;
}

/**
 * Send-ring growth (as Linux tcp_sndbuf_expand): keep room for twice the congestion window, so
 * the writer can queue a full window while the previous one is in flight, up to `sndBufMax`
 * and the layer's budget. Called when an ACK frees space.
 */
export function sndBufExpand(c: TcpConnection): void {
  const s = c.snd;
  if (s.buf >= c.opt.sndBufMax || s.ring < 0) return;
  const target = Math.min(2 * c.cc.cwnd, c.opt.sndBufMax);
  if (target <= s.buf) return;
  const got = c.host.budget.take(target - s.buf);
  if (got <= 0) return;
  c.host.engine.sndGrow(s.ring, s.buf + got);
  s.buf += got;
  s.grown += got;
}
