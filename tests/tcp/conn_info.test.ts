/** The statistics of one connection (`TcpConnection.info()`, src/tcp/conn_info.ts). */

import assert from "node:assert/strict";
import { TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

Deno.test("statistics: bytes, segments, state, drops", () => {
  const p = new TcpPair({ faults: { delayMs: 5 } });
  const [c, s] = openPair(p);
  c.write(new Uint8Array(1000));
  p.advance(100);
  const i = c.info();
  assert.equal(i.bytesOut, 1000);
  assert.equal(s.info().bytesIn, 1000);
  assert.ok(i.segsOut >= 3 && i.segsIn >= 2);
  assert.equal(i.state, "ESTABLISHED");
  assert.equal(i.congestion, "cubic");
  assert.ok(i.timestamps && i.sack && i.sndWscale > 0);
});
