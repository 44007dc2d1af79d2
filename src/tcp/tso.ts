/**
 * TCP segmentation offload on send: when the link takes TCP segments larger than the MTU
 * (`maxSendFrame`, src/link/link.ts), new data goes out in segments of several MSS, each
 * carried whole (a memory link's peer takes it as one segment, as Linux GRO would hand it up).
 * One header, one copy call and one frame per 64 KiB instead of per MSS.
 *
 * The size follows Linux `tcp_tso_autosize`: about 1 ms of the pacing rate (2 cwnd / SRTT in
 * slow start, 1.2 cwnd / SRTT after, as `tcp_update_pacing_rate`), at least two segments, at
 * most what one IP datagram holds, always a whole number of MSS. Sequence space, SACK, RACK
 * and the retransmission timer stay per byte; retransmissions are cut at the MSS again
 * (tcp_output.ts), as Linux re-segments them (`tcp_fragment`).
 *
 * @module
 */

import { tcpIpOverhead } from "../wire/ip_handle.ts";
import type { TcpConnection } from "./connection.ts";

/** Room for the IP header (40 for IPv6) and the largest TCP header (60) within a datagram. */
const HEADERS = 100;

/**
 * The largest payload of one new-data segment of `c` now: a multiple of the MSS when the link
 * takes large segments, else the MSS.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tsoGoal } from "./tso.ts";
 * import type { TcpConnection } from "./connection.ts";
 * const c = {
 *   remoteIp: 1,
 *   snd: { mss: 1000 },
 *   tsOk: false,
 *   cc: { cwnd: 100000, ssthresh: 0x7fffffff },
 *   rtt: { srtt: 1 },
 *   host: { tx: { tsoMax: () => 65535, pathMtu: () => 1040 } },
 * } as unknown as TcpConnection;
 * assert.equal(tsoGoal(c, 0), 65000); // 1 ms of 2 cwnd / 1 ms, up to 65 MSS in 64 KiB
 * c.cc.cwnd = 1500;
 * assert.equal(tsoGoal(c, 0), 3000); // 3000 bytes per ms: at least two segments anyway
 * c.host.tx.pathMtu = () => 1500; // the peer's MSS (1000) is below what the MTU allows (1460):
 * assert.equal(tsoGoal(c, 0), 1000); // a device's cut at the MTU would be too large: no TSO
 * ```
 */
export function tsoGoal(c: TcpConnection, now: number): number {
  const mss = c.snd.mss;
  const tx = c.host.tx;
  const max = tx.tsoMax?.(c.remoteIp, now) ?? 0;
  if (max - HEADERS < 2 * mss) return mss;
  // A device cuts a large segment into segments as large as the link MTU allows with its
  // headers (gso.ts tsoFrame): only when that is our MSS (the peer's MSS option did not lower
  // it) is every cut a segment we could have sent (RFC 9293 3.7.1).
  if (mss < tx.pathMtu(c.remoteIp, now) - tcpIpOverhead(c.remoteIp) - (c.tsOk ? 12 : 0)) {
    return mss;
  }
  const cc = c.cc;
  const srtt = c.rtt.srtt > 1 ? c.rtt.srtt : 1; // ms; the clock ticks per ms
  const perMs = (cc.cwnd * (cc.cwnd < cc.ssthresh ? 2 : 1.2)) / srtt;
  let segs = Math.floor(perMs / mss);
  if (segs < 2) segs = 2;
  const most = Math.floor((max - HEADERS) / mss);
  return (segs < most ? segs : most) * mss;
}
