/**
 * Proportional rate reduction (RFC 6937) in SACK recovery, in the goodput harness
 * (tests/support/bottleneck.ts: 100 Mbit/s, 10 ms RTT, 4 MiB buffers so that the window, not the
 * buffer, limits the flight): after a burst loss the sender keeps sending new data at
 * ssthresh / RecoverFS of the rate the receiver reports deliveries, spread evenly over the
 * recovery, instead of RFC 6675's half round trip of silence followed by the rest.
 */
import assert from "node:assert/strict";
import { runGoodput, type TraceEvent } from "../support/bottleneck.ts";

Deno.test("PRR: new data flows through the recovery at ssthresh / RecoverFS, no burst", () => {
  // NewReno halves (beta 0.5), CUBIC keeps 0.7 (RFC 9438).
  for (const [congestion, beta] of [["newreno", 0.5], ["cubic", 0.7]] as const) {
    const ev: TraceEvent[] = [];
    const r = runGoodput({
      congestion,
      sack: true,
      loss: 0,
      reorder: 0,
      bytes: 16 << 20,
      seed: 1,
      burst: { at: 1500, count: 8 },
      tcp: { sndBuf: 4 << 20, rcvBuf: 4 << 20 },
      trace: (e) => ev.push(e),
    });
    assert.ok(r.exact);
    assert.equal(r.retransmits, 8);
    // From the fast retransmission to the ACK that covers every retransmitted byte.
    const first = ev.findIndex((e) => e.kind === "send" && !e.fresh);
    const rtx = ev.filter((e) => e.kind === "send" && !e.fresh);
    const end = Math.max(...rtx.map((e) => e.seq + e.len)) >>> 0;
    const last = ev.findIndex((e, i) => i > first && e.kind === "ack" && ((e.ack - end) | 0) >= 0);
    const span = ev.slice(first, last);
    const acks = span.filter((e) => e.kind === "ack").length;
    let seen = 0, fresh = 0, early = 0, run = 0, burst = 0;
    for (const e of span) {
      if (e.kind === "ack") {
        seen++;
        run = 0;
      } else if (e.fresh) {
        fresh++;
        if (seen <= acks / 2) early++;
        burst = Math.max(burst, ++run);
      }
    }
    const why =
      `${congestion}: ${fresh} new segments over ${acks} ACKs, ${early} in the first half`;
    assert.ok(Math.abs(fresh / acks - beta) < 0.05, why);
    assert.ok(early >= 0.4 * fresh, why); // RFC 6675 alone: 1 (NewReno) or 302 of 1056 (CUBIC)
    assert.ok(burst <= 2, `${why}; ${burst} segments after one ACK`);
  }
});
