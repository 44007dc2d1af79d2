/**
 * The statistics snapshot of one connection (`TcpConnection.info()`).
 *
 * @module
 */

import { seqDiff } from "../wire/seq.ts";
import type { CongestionControl } from "./congestion.ts";
import type { RttEstimator } from "./rtt.ts";
import type { ConnStats, Recovery, RecvSpace, SendSpace } from "./tcb.ts";
import type { TcpConnInfo, TcpState } from "./types.ts";

/** The parts of a connection's control block that {@link connInfo} reports. */
export interface InfoSource {
  /** RFC 9293 state. */
  readonly st: TcpState;
  /** Send sequence space. */
  readonly snd: SendSpace;
  /** Receive sequence space. */
  readonly rcv: RecvSpace;
  /** Loss recovery. */
  readonly rec: Recovery;
  /** Counters. */
  readonly stats: ConnStats;
  /** RTT estimator. */
  readonly rtt: RttEstimator;
  /** Congestion control. */
  readonly cc: CongestionControl;
  /** Timestamps negotiated. */
  readonly tsOk: boolean;
  /** SACK negotiated. */
  readonly sackOk: boolean;
}

/** A fresh {@link TcpConnInfo} for `c` (allocates: for callers, not for the packet path). */
export function connInfo(c: InfoSource): TcpConnInfo {
  return {
    state: c.st,
    bytesIn: c.stats.bytesIn,
    bytesOut: c.stats.bytesOut,
    segsIn: c.stats.segsIn,
    segsOut: c.stats.segsOut,
    retransmits: c.stats.retransmits,
    srttMs: c.rtt.srtt,
    rttvarMs: c.rtt.rttvar,
    rtoMs: c.rtt.rto,
    cwnd: c.cc.cwnd,
    ssthresh: c.cc.ssthresh,
    sndWnd: c.snd.wnd,
    rcvWnd: Math.max(0, seqDiff(c.rcv.adv, c.rcv.nxt)),
    rcvBuf: c.rcv.buf,
    sndBuf: c.snd.buf,
    mss: c.snd.mss,
    sndWscale: c.snd.wscale,
    rcvWscale: c.rcv.wscale,
    timestamps: c.tsOk,
    sack: c.sackOk,
    congestion: c.cc.name,
    dupAcks: c.rec.dupAcks,
    zeroWindowProbes: c.stats.zeroWindowProbes,
    drops: { ...c.stats.drops },
  };
}
