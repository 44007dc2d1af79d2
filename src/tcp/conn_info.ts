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
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
    segsIn: c.segsIn,
    segsOut: c.segsOut,
    retransmits: c.retransmits,
    srttMs: c.rtt.srtt,
    rttvarMs: c.rtt.rttvar,
    rtoMs: c.rtt.rto,
    cwnd: c.cc.cwnd,
    ssthresh: c.cc.ssthresh,
    sndWnd: c.sndWnd,
    rcvWnd: Math.max(0, seqDiff(c.rcvAdv, c.rcvNxt)),
    mss: c.mss,
    sndWscale: c.sndWscale,
    rcvWscale: c.rcvWscale,
    timestamps: c.tsOk,
    sack: c.sackOk,
    congestion: c.cc.name,
    dupAcks: c.dupAcks,
    zeroWindowProbes: c.zeroWindowProbes,
    drops: { ...c.drops },
  };
}
