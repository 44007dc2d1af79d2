/**
 * Ending connections without a RST where RFC 9293 3.10.5 says none goes: TIME-WAIT at stack
 * shutdown, ABORT in LAST-ACK or CLOSING.
 */

import assert from "node:assert/strict";
import { F_RST } from "../../src/wire/layout.ts";
import { TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

Deno.test("closeAll(reset): no RST from TIME-WAIT, the connection is released silently", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 2 } });
  const [c, s] = openPair(p);
  c.close();
  p.advance(20);
  s.close();
  p.advance(20);
  assert.equal(c.state, "TIME-WAIT");
  assert.equal(s.state, "CLOSED");
  const [c2] = openPair(p, 81); // a live one is still reset
  p.captured.length = 0;
  const rstBefore = p.a.stats()["tcp-rst-sent"] ?? 0;
  p.a.closeAll("reset", p.now);
  const rsts = p.captured.filter((r) => r.from === "a" && r.flags & F_RST);
  assert.equal(rsts.length, 1, "only the established connection sends RST");
  assert.equal(rsts[0]!.srcPort, c2.localPort);
  assert.equal((p.a.stats()["tcp-rst-sent"] ?? 0) - rstBefore, 1);
  assert.equal(c.state, "CLOSED");
  assert.equal(c.error, null);
  assert.equal(c2.error?.code, "aborted");
  assert.equal(p.a.connectionCount, 0);
});

Deno.test("abort in LAST-ACK or CLOSING sends no RST (RFC 9293 3.10.5)", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 2 } });
  const [c, s] = openPair(p);
  c.close();
  p.advance(20);
  p.blackhole.b = true; // s's FIN is never acknowledged: s stays in LAST-ACK
  s.close();
  p.advance(5);
  assert.equal(s.state, "LAST-ACK");
  p.captured.length = 0;
  s.abort();
  p.advance(5);
  assert.equal(p.captured.filter((r) => r.flags & F_RST).length, 0);
  assert.equal(s.state, "CLOSED");
});
