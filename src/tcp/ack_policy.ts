/**
 * When in-order data is acknowledged: the receive side's ACK rate.
 *
 * RFC 1122 4.2.3.2 and RFC 5681 4.2: an ACK SHOULD go for at least every second full-sized
 * segment, and MUST NOT be delayed more than 0.5 s. Behind segmentation offload (a TAP device
 * hands us the kernel's 64 KiB TSO segments whole, as Linux GRO hands its own receiver merged
 * segments) "every second segment" already means one ACK per large frame: Linux acknowledges
 * each GRO aggregate (`__tcp_ack_snd_check`: more than one receive MSS unacknowledged). We do
 * the same while a connection is young or its reader slow; once a bulk flow has shown it keeps
 * a lot in flight, we stretch further: one ACK per {@link stretchAckBytes} of in-order data.
 *
 * Why that is safe for the sender (the risks RFC 2525 2.13 lists for stretch ACKs):
 * - its window: the threshold is at most a quarter of the window we offered with our last
 *   ACK, so three quarters of it stay open while an ACK is held (RFC 9293 3.8.6.2.2);
 * - its ACK clock: the threshold is at most a quarter of what the reader drained per round
 *   trip in the latest interval of dynamic right-sizing (buf_tune.ts `rttBytes`, the data the sender
 *   kept in flight per round trip), so a sender limited by its congestion window still has
 *   three quarters of a flight out when the ACK arrives, and never waits for it;
 * - its congestion window growth: Linux and this stack count bytes acknowledged (RFC 3465),
 *   so fewer, larger ACKs grow cwnd as fast;
 * - its bursts: at most {@link STRETCH_ACK_MAX} is released by one ACK;
 * - its timers: in-order data held beyond one full segment is acknowledged within
 *   {@link STRETCH_ACK_DELAY_MS} even if nothing more arrives (the end of a burst), before a
 *   tail loss probe (RFC 8985 7.2: 2 SRTT plus, in Linux `tcp_schedule_loss_probe`, 2 ms with
 *   several segments out, 200 ms with one) or an RTO (200 ms at least).
 *
 * Sans-I/O: reads and updates the receive sequence space (`RecvSpace`) only.
 *
 * @module
 */

import { seqAdd, seqDiff, seqLt, seqMax } from "../wire/seq.ts";
import type { RecvSpace } from "./tcb.ts";

/**
 * A pause in the data longer than this (ms) ends stretch ACKs for a round trip's worth: the
 * sender may have restarted from its initial window (Linux `tcp_slow_start_after_idle` after an
 * RTO of idleness, 200 ms at least), and a window-limited slow start must not wait for a held ACK
 * each round (Linux enters quick-ACK mode after such a gap, `tcp_event_data_recv`).
 */
export const STRETCH_IDLE_MS = 100;

/** Most in-order bytes one stretch ACK may cover (a few 64 KiB TSO frames). */
export const STRETCH_ACK_MAX = 256 * 1024;

/**
 * Longest wait (ms) of an ACK owed for more than one full segment but held for a stretch ACK:
 * the end of a burst is acknowledged this soon (the delayed-ACK timer, set this short).
 */
export const STRETCH_ACK_DELAY_MS = 1;

/**
 * In-order bytes that may stay unacknowledged before an ACK is due now: one full-sized segment
 * of the peer (`fullSegment`; "every second segment"), or more for a bulk flow: a quarter of the
 * bytes drained per round trip in the latest interval (`rcv.rttBytes`) and of the window offered with the last ACK, at
 * most {@link STRETCH_ACK_MAX}. The window offered is `rcv.adv - rcv.lastAckSent` (the sender
 * may fill up to `rcv.adv`). One full segment again for a round trip's worth of data after
 * out-of-order data ({@link noStretchAfterLoss}); clears `rcv.stretchAfter` once passed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stretchAckBytes } from "./ack_policy.ts";
 * import { RecvSpace } from "./tcb.ts";
 * const r = new RecvSpace();
 * assert.equal(stretchAckBytes(r, 1448), 1448); // no measure yet: every second segment
 * r.rttBytes = 4 << 20; // 4 MiB drained per round trip
 * r.lastAckSent = 0;
 * r.adv = 6 << 20; // 6 MiB offered
 * assert.equal(stretchAckBytes(r, 1448), 256 * 1024);
 * r.adv = 200_000; // a small window: a quarter of it
 * assert.equal(stretchAckBytes(r, 1448), 50_000);
 * ```
 */
export function stretchAckBytes(r: RecvSpace, fullSegment: number): number {
  if (r.stretchAfter >= 0) {
    if (seqLt(r.nxt, r.stretchAfter)) return fullSegment;
    r.stretchAfter = -1; // passed (and no longer compared, so wraparound cannot revive it)
  }
  const offered = seqDiff(r.adv, r.lastAckSent);
  const t = Math.min(r.rttBytes >> 2, offered >> 2, STRETCH_ACK_MAX);
  return t > fullSegment ? t : fullSegment;
}

/**
 * In-order data arrived at `now`: after a pause of more than {@link STRETCH_IDLE_MS}, no stretch
 * ACKs for the next round trip's worth ({@link noStretchAfterLoss}'s rule).
 */
export function noteDataArrival(r: RecvSpace, now: number): void {
  if (now - r.dataAt > STRETCH_IDLE_MS) noStretchAfterLoss(r);
  r.dataAt = now;
}

/**
 * Out-of-order data, a duplicate or a hole filled (loss or reordering): ACK every second
 * segment again until the next round trip's worth of data (`rcv.space`, at least 64 KiB) is in,
 * as Linux enters quick-ACK mode on out-of-order data (`tcp_data_queue`, `tcp_enter_quickack_mode`):
 * the sender's loss recovery gets every ACK it can use. Also after a pause
 * ({@link noteDataArrival}).
 */
export function noStretchAfterLoss(r: RecvSpace): void {
  const end = seqAdd(r.nxt, Math.max(r.space, 65536));
  r.stretchAfter = r.stretchAfter < 0 ? end : seqMax(r.stretchAfter, end);
}
