/**
 * Neighbour confirmation by TCP forward progress: RFC 1122 2.3.2.1 ("link-layer advice": the
 * transport's evidence that the peer receives what we send may confirm the ARP entry, so that
 * it is not re-validated by a request) and RFC 4861 7.3.1 ("hints from upper-layer protocols":
 * the receipt of a new acknowledgment, or of new non-duplicate data, shows that earlier
 * packets reached the peer, and so its next hop). Linux does the same from tcp_ack
 * (dst_confirm / neigh_confirm).
 *
 * Cheap on the hot path: tcp_input.ts compares `now` with one field of the connection per new
 * ACK or new data; the layer below is asked (a route and a table lookup) at most once per the
 * interval it returns, a quarter of the entry lifetime (7.5 s by default).
 *
 * @module
 */

import type { TcpConnection } from "./connection.ts";

/**
 * `c` saw forward progress at `now` and its confirmation is due (`now >= c.timers.confirmAt`):
 * confirm the neighbour entry toward its peer and note when the next confirmation is due.
 */
export function confirmNeighbor(c: TcpConnection, now: number): void {
  const tx = c.host.tx;
  c.timers.confirmAt = tx.confirmNeighbor === undefined
    ? Infinity
    : tx.confirmNeighbor(c.remoteIp, now);
}
