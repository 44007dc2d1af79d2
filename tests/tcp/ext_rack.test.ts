/**
 * RACK (RFC 8985 section 6): the send-time log and its rules as a unit, and in the goodput
 * harness (tests/support/bottleneck.ts) a loss found by time, sooner than by counting duplicates,
 * with no needless retransmission under reordering inside the reordering window.
 */
import assert from "node:assert/strict";
import { Rack } from "../../src/tcp/rack.ts";
import { runGoodput } from "../support/bottleneck.ts";

Deno.test("RACK: sent-before and expiry follow send time, then sequence (6.2 step 5)", () => {
  const r = new Rack();
  // Segments of 1000 bytes from sequence 0; the first three share one millisecond.
  const at = [10, 10, 10, 11, 12, 13];
  at.forEach((t, i) => r.record(1000 * (i + 1), t));
  assert.equal(r.sentAt(0), 10);
  assert.equal(r.sentAt(3500), 11);
  assert.equal(r.sentAt(6000), -1, "beyond the log");
  // The segment ending at 2000 arrives (the first is missing): RACK.rtt 20 ms.
  r.delivered(2000, r.sentAt(1999), 30);
  assert.equal(r.rtt, 20);
  assert.equal(r.lostBelow(0, 29, 0), 0, "RACK.rtt has not passed since the first was sent");
  assert.equal(r.nextTimeout(0, 29, 0), 30);
  // Sent in the same millisecond but before it (sequence order): lost once 20 ms passed. The
  // edge reaches the delivered segment itself, which the scoreboard holds as SACKed; the
  // third segment, sent after it, is not included.
  assert.equal(r.lostBelow(0, 30, 0), 2000);
  // A later segment arrives: everything before it that waited RTT + reo_wnd is lost.
  r.delivered(5000, r.sentAt(4999), 35);
  assert.equal(r.xmitTs, 12);
  assert.equal(r.lostBelow(0, 35, 2), 3000, "sent at 10 (expired at 33), 11 not until 36");
  assert.equal(r.nextTimeout(0, 35, 2), 36);
  r.prune(3000);
  assert.equal(r.sentAt(2999), 11, "pruned entries are gone; the next one answers");
});

Deno.test("RACK: the reordering window (6.2 step 4): zero, min_RTT / 4, widened, reset", () => {
  const r = new Rack();
  r.record(1000, 0);
  r.delivered(1000, 0, 40); // min_RTT 40 ms
  assert.equal(r.reoWnd(true, false, 50), 0, "no reordering seen, in recovery: 0");
  assert.equal(r.reoWnd(false, true, 50), 0, "no reordering seen, DupThresh SACKed: 0");
  assert.equal(r.reoWnd(false, false, 50), 10, "else min_RTT / 4");
  r.noteReordering();
  assert.equal(r.reoWnd(true, true, 50), 10, "reordering seen: never 0");
  r.widen(100, 50);
  r.widen(120, 50); // the same round trip: once
  assert.equal(r.reoWndMult, 2);
  r.widen(200, 50);
  assert.equal(r.reoWnd(false, false, 25), 25, "capped at SRTT");
  for (let i = 0; i < 16; i++) r.recoveryDone();
  assert.equal(r.reoWndMult, 1, "after 16 recoveries the multiplier resets");
});

Deno.test("RACK: the log is bounded; past the bound detection pauses until it drains", () => {
  const r = new Rack();
  for (let i = 1; i <= 70000; i++) r.record(i * 10, i);
  r.delivered(700000, 70000, 70010);
  assert.equal(r.lostBelow(0, 80000, 0), 0, "full: no verdicts");
  r.prune(700000);
  r.record(700010, 80000);
  r.delivered(700010, 80000, 80010);
  assert.equal(r.rtt, 10);
});

Deno.test("RACK: on a slow link a loss is found by time, a segment sooner than by DupThresh", () => {
  // 1 Mbit/s (a full segment every 11.6 ms): the third duplicate comes two segment times
  // after the first SACK, while RACK only needs the segment sent after the hole to arrive an
  // RTT plus the reordering window after the hole was sent.
  for (const at of [20, 30]) {
    const c = {
      congestion: "cubic" as const,
      sack: true,
      loss: 0,
      reorder: 0,
      bytes: 200_000,
      seed: 1,
      rateMbit: 1,
      burst: { at, count: 1 },
    };
    const on = runGoodput(c);
    const off = runGoodput({ ...c, tcp: { rack: false } });
    assert.ok(on.exact && off.exact);
    assert.equal(on.retransmits, 1);
    assert.equal(off.retransmits, 1);
    assert.ok(
      on.burstRepairMs < off.burstRepairMs - 5,
      `at ${at}: ${on.burstRepairMs.toFixed(1)} ms with RACK, ${
        off.burstRepairMs.toFixed(1)
      } without`,
    );
  }
});

Deno.test("RACK: reordering inside the window causes no needless retransmission", () => {
  // 5% of segments held 0.3 ms at 100 Mbit/s, 10 ms RTT: far inside min_RTT / 4.
  for (const congestion of ["newreno", "cubic"] as const) {
    for (const seed of [1, 2, 3]) {
      const r = runGoodput({
        congestion,
        sack: true,
        loss: 0,
        reorder: 0.05,
        bytes: 2 << 20,
        seed,
      });
      assert.ok(r.exact && r.reordered > 50);
      assert.equal(r.retransmits, 0, `${congestion} seed ${seed}: ${JSON.stringify(r.counters)}`);
    }
  }
});
