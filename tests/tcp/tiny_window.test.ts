/**
 * A receive buffer smaller than one segment (`rcvBuf` of a few hundred bytes, as the seed
 * note's window examples use) still moves data at the pace of round trips: when reading opens
 * a window the peer was stopped on, the update goes at once (RFC 1122 4.2.3.3, RFC 9293
 * 3.8.6.2.2), not after the delayed-ACK timer.
 */

import { equal, ok } from "node:assert/strict";
import { TcpPair } from "../support/tcp_pair.ts";
import { openPair, Stream } from "../support/tcp_transfer.ts";

for (const rcvBuf of [100, 1000]) {
  Deno.test(`tiny window: ${rcvBuf}-byte receive buffer, 20000 bytes go at the pace of round trips`, () => {
    const p = new TcpPair({ faults: { delayMs: 1 }, tcpB: { rcvBuf } });
    const [c, s] = openPair(p);
    const st = new Stream(c, s, 20000, 7);
    const t0 = p.now;
    ok(p.run(() => (st.pump(), st.done), 60000), `transfer did not finish (seed ${p.seed})`);
    equal(st.bad, -1);
    const rounds = Math.ceil(20000 / rcvBuf);
    const ms = p.now - t0;
    // Each window's worth takes about one round trip (2 ms); a delayed ACK per window would
    // take 40 ms or more each.
    ok(ms < rounds * 10, `${ms} ms for ${rounds} windows`);
  });
}
