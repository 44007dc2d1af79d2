/**
 * The statistics snapshot of one connection (`TcpConnection.info()`).
 *
 * @module
 */

import { seqDiff } from "../wire/seq.ts";
import type { TcpConnection } from "./connection.ts";
import type { TcpConnInfo } from "./types.ts";

/** A fresh {@link TcpConnInfo} for `c` (allocates: for callers, not for the packet path). */
export function connInfo(c: TcpConnection): TcpConnInfo {
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
