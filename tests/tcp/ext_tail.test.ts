/**
 * Tail loss probes (RFC 8985 section 7) in the deterministic goodput harness
 * (tests/support/bottleneck.ts: 100 Mbit/s, 10 ms RTT): the last segments of a transfer lost, with
 * no later data to draw duplicate ACKs. With SACK a probe about two round trips after the last
 * ACK exposes the loss and fast recovery repairs it; without SACK (no probe, RFC 8985 7.2) the
 * RTO does.
 */
import assert from "node:assert/strict";
import { type GoodputCase, runGoodput } from "../support/bottleneck.ts";
import { TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

const MIB = 1048576;
/** Data segments of 1 MiB at 1448 bytes each (the last one short). */
const LAST = Math.ceil(MIB / 1448) - 1;

function run(c: GoodputCase): ReturnType<typeof runGoodput> {
  const r = runGoodput(c);
  assert.ok(r.exact, `not byte-exact: ${JSON.stringify(c)}`);
  return r;
}

Deno.test("TLP: the last 2, 3 or 10 segments lost are repaired by a probe, not an RTO", () => {
  for (const congestion of ["newreno", "cubic"] as const) {
    for (const count of [2, 3, 10]) {
      const c = { congestion, loss: 0, reorder: 0, bytes: MIB, seed: 1 };
      const burst = { at: LAST - count + 1, count };
      const s = run({ ...c, sack: true, burst });
      const why = `${congestion}, last ${count}: ${JSON.stringify(s.counters)}`;
      assert.equal(s.rtos, 0, why);
      assert.equal(s.counters["tcp-tlp"], 1, why);
      assert.equal(s.counters["tcp-fast-retransmit"], 1, why);
      // The probe resent the last segment; it and the holes below it are all that went again.
      assert.equal(s.retransmits, count, why);
      const n = run({ ...c, sack: false, burst });
      assert.equal(n.rtos, 1, "without SACK no probe is sent (RFC 8985 7.2) and the RTO repairs");
      assert.equal(n.counters["tcp-tlp"], undefined);
      assert.ok(s.ms < n.ms, `${why}: ${s.ms.toFixed(1)} ms against ${n.ms.toFixed(1)} without`);
    }
  }
});

Deno.test("TLP: a lost last segment is repaired by the probe itself, with a cwnd reduction", () => {
  for (const congestion of ["newreno", "cubic"] as const) {
    const s = run({
      congestion,
      sack: true,
      loss: 0,
      reorder: 0,
      bytes: MIB,
      seed: 1,
      burst: { at: LAST, count: 1 },
    });
    const why = `${congestion}: ${JSON.stringify(s.counters)}`;
    assert.equal(s.rtos, 0, why);
    assert.equal(s.retransmits, 1, why);
    // RFC 8985 7.4.1: the probe's ACK covers it with no D-SACK: a loss was repaired.
    assert.equal(s.counters["tcp-tlp-recovery"], 1, why);
  }
});

Deno.test("TLP: no probe fires on a clean transfer or under mild reordering", () => {
  for (const congestion of ["newreno", "cubic"] as const) {
    for (const reorder of [0, 0.05]) {
      const r = run({ congestion, sack: true, loss: 0, reorder, bytes: 4 * MIB, seed: 2 });
      assert.equal(r.counters["tcp-tlp"], undefined, `${congestion} reorder ${reorder}`);
      assert.equal(r.retransmits, 0);
    }
  }
});

Deno.test("TLP: a probe that was not needed (its ACK carries a D-SACK) keeps cwnd", () => {
  const p = new TcpPair({ faults: { delayMs: 5 }, tcpA: { noDelay: true } });
  const [c, s] = openPair(p);
  const buf = new Uint8Array(65536);
  // Warm up so that the RTT is known, then lose every ACK of the next flight (all of it sent
  // at once, so the probe is a retransmission of its last segment).
  c.write(new Uint8Array(20000));
  p.advance(200, () => s.read(buf));
  const cwnd = c.info().cwnd;
  p.blackhole.b = true;
  c.write(new Uint8Array(4000));
  assert.ok(p.run(() => s.info().bytesIn === 24000, 1000, () => s.read(buf)));
  p.blackhole.b = false; // the probe's ACK gets through
  p.advance(1000, () => s.read(buf));
  const st = p.a.stats();
  assert.equal(st["tcp-tlp"], 1, JSON.stringify(st));
  assert.equal(st["tcp-rto"], undefined, "the probe came before the RTO");
  assert.equal(st["tcp-tlp-recovery"], undefined, "D-SACK: nothing was lost");
  assert.ok(c.info().cwnd >= cwnd, `cwnd ${c.info().cwnd} < ${cwnd}`);
  assert.equal(s.info().bytesIn, 24000);
});

Deno.test("TLP: one probe, then the RTO backs off as before; none when turned off", () => {
  for (const tailLossProbe of [true, false]) {
    const p = new TcpPair({
      capture: true,
      tcpA: { maxRetries: 3, tailLossProbe },
      faults: { delayMs: 5 },
    });
    const [c] = openPair(p);
    p.captured.length = 0;
    p.blackhole.a = true;
    c.write(new Uint8Array(100));
    p.run(() => c.state === "CLOSED", 60000);
    assert.equal(c.error?.code, "timed-out");
    const sends = p.captured.filter((r) => r.from === "a" && r.len === 100).map((r) => r.at);
    const probes = tailLossProbe ? 1 : 0;
    assert.equal(sends.length, 1 + probes + 3, `sends at ${sends}`);
    assert.equal(p.a.stats()["tcp-tlp"], tailLossProbe ? 1 : undefined);
    if (tailLossProbe) {
      // PTO = 2 SRTT + WCDelAckT (one segment in flight), capped by the RTO.
      assert.ok(sends[1]! - sends[0]! <= c.info().rtoMs + 1, `probe at ${sends}`);
    }
    const rto = sends.slice(1 + probes);
    assert.equal(rto[2]! - rto[1]!, 2 * (rto[1]! - rto[0]!), `backoff ${sends}`);
  }
});
