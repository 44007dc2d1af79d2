/**
 * The recovery state of the control block (src/tcp/tcb.ts `Recovery.state`): "fast" for
 * NewReno recovery (RFC 6582), "sack" for recovery on the scoreboard (RFC 6675), "rto" after a
 * retransmission timeout until SND.UNA passes the recovery point, "open" otherwise.
 */

import assert from "node:assert/strict";
import { TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

/** Lose the first segment of a 20-segment write; return the recovery states seen. */
function loseOne(sack: boolean): Set<string> {
  const p = new TcpPair({ faults: { delayMs: 5 }, tcpA: { sack }, tcpB: { sack } });
  const [c, s] = openPair(p);
  const seen = new Set<string>([c.rec.state]);
  p.blackhole.a = true;
  c.write(new Uint8Array(1000));
  p.poll(); // the first segment is lost
  p.blackhole.a = false;
  c.write(new Uint8Array(19 * 1000));
  const buf = new Uint8Array(65536);
  let got = 0;
  p.run(() => got === 20_000 && c.rec.state === "open", 10_000, () => {
    seen.add(c.rec.state);
    got += s.read(buf);
  });
  assert.equal(got, 20_000);
  assert.equal(c.rec.state, "open");
  return seen;
}

Deno.test("recovery state: a lost segment is repaired in sack (with SACK) or fast recovery", () => {
  const withSack = loseOne(true);
  assert.ok(withSack.has("sack"), [...withSack].join());
  assert.ok(!withSack.has("fast") && !withSack.has("rto"), [...withSack].join());
  const without = loseOne(false);
  assert.ok(without.has("fast"), [...without].join());
  assert.ok(!without.has("sack") && !without.has("rto"), [...without].join());
});

Deno.test("recovery state: rto after a timeout, open once everything sent before it is acked", () => {
  const p = new TcpPair({ faults: { delayMs: 5 } });
  const [c, s] = openPair(p);
  p.blackhole.a = true;
  c.write(new Uint8Array(5000));
  assert.ok(p.run(() => c.rec.state === "rto", 5000), "a retransmission timeout");
  assert.ok(c.info().retransmits > 0);
  assert.equal(c.rec.fastRecovery, false);
  p.blackhole.a = false;
  const buf = new Uint8Array(8192);
  let got = 0;
  p.run(() => got === 5000 && c.rec.state === "open", 10_000, () => {
    got += s.read(buf);
  });
  assert.equal(got, 5000);
  assert.equal(c.rec.state, "open");
});
