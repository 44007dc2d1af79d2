/**
 * Goodput of the TCP performance extensions in deterministic virtual time (harness
 * tests/support/bottleneck.ts): a 100 Mbit/s bottleneck with 10 ms RTT, NewReno (RFC 5681/6582)
 * and CUBIC (RFC 9438), with and without SACK (RFC 2018): byte-exact delivery and sane
 * goodput at loss 0 / 0.1 / 1 / 5 %, burst loss repaired within about one RTT with SACK, no
 * retransmission under reordering inside the duplicate-ACK window. The full table (4 MiB, two
 * seeds) runs with TCPIP_LONG=1; `deno run -A tools/goodput_table.ts` prints it.
 */
import assert from "node:assert/strict";
import {
  type GoodputCase,
  runGoodput,
  TABLE_ROWS,
  type TraceEvent,
} from "../support/bottleneck.ts";
import { runStackGoodput } from "../support/bottleneck_stack.ts";

const LONG = Deno.env.get("TCPIP_LONG") === "1";
const MIB = 1048576;
const VARIANTS = [
  { congestion: "newreno", sack: false },
  { congestion: "newreno", sack: true },
  { congestion: "cubic", sack: false },
  { congestion: "cubic", sack: true },
] as const;

function name(v: { congestion: string; sack: boolean }): string {
  return `${v.congestion}${v.sack ? "+sack" : ""}`;
}

function run(c: GoodputCase): ReturnType<typeof runGoodput> {
  const r = runGoodput(c);
  assert.ok(
    r.exact,
    `not byte-exact: ${
      JSON.stringify(c)
    } (seed ${c.seed}): received ${r.received}, bad at ${r.badAt}`,
  );
  return r;
}

Deno.test("goodput: 0% loss reaches over 80% of a 100 Mbit/s link (4 MiB, 10 ms RTT)", () => {
  for (const v of VARIANTS) {
    const r = run({ ...v, loss: 0, reorder: 0, bytes: 4 * MIB, seed: 1 });
    assert.ok(r.mbit > 80, `${name(v)}: ${r.mbit.toFixed(1)} Mbit/s`);
    assert.equal(r.retransmits, 0, `${name(v)}: retransmissions without loss`);
  }
});

Deno.test("goodput: loss 0.1 / 1 / 5 % byte-exact with sane bounds, SACK resends less", () => {
  // Floors well under the Mathis bound MSS/RTT * 1.22/sqrt(p) (14 Mbit/s at 1%, 6 at 5%)
  // with the queueing RTT; they catch stalls and RTO storms, not small regressions.
  const floor: Record<string, number> = { "0.001": 30, "0.01": 5, "0.05": 1 };
  for (const loss of [0.001, 0.01, 0.05]) {
    const rtx: Record<string, number> = {};
    for (const v of VARIANTS) {
      // Summed over three seeds: which segments a seeded loss hits depends on what was sent,
      // so one run of each can differ by a genuine loss either way.
      let sum = 0;
      for (const seed of [1, 2, 3]) {
        const r = run({ ...v, loss, reorder: 0, bytes: MIB, seed });
        assert.ok(
          r.mbit > floor[String(loss)]!,
          `${name(v)} at ${loss}: ${r.mbit.toFixed(2)} Mbit/s`,
        );
        sum += r.retransmits;
        if (v.sack) {
          // With the scoreboard, data the peer holds is not resent: retransmissions stay near
          // the drops (which count ACKs lost too), and few arrive twice.
          assert.ok(r.retransmits <= r.dropped + 2, `${name(v)}: ${r.retransmits} > ${r.dropped}`);
          const dup = r.receiverCounters["tcp-rcv-duplicate"] ?? 0;
          assert.ok(dup <= 3, `${name(v)} at ${loss} seed ${seed}: ${dup} needless`);
        }
      }
      rtx[name(v)] = sum;
    }
    // Where both resend only what was lost (no duplicate reaches the receiver) the totals
    // differ by the segments the seeded loss happened to hit: a margin of 3.
    assert.ok(
      rtx["newreno+sack"]! <= rtx["newreno"]! + 3,
      `newreno at ${loss}: ${JSON.stringify(rtx)}`,
    );
    assert.ok(rtx["cubic+sack"]! <= rtx["cubic"]! + 3, `cubic at ${loss}: ${JSON.stringify(rtx)}`);
  }
});

Deno.test("goodput: a burst of 8 lost segments is repaired within about one RTT with SACK", () => {
  for (const seed of [1, 2, 3]) {
    for (const congestion of ["newreno", "cubic"] as const) {
      const c = { congestion, loss: 0, reorder: 0, bytes: MIB, seed };
      const burst = { at: 200 + 50 * seed, count: 8 };
      const s = run({ ...c, sack: true, burst });
      // From the first ACK reporting the hole to the ACK covering all 8: one round trip of
      // the path as it is then (propagation + bottleneck queue) plus the duplicate-ACK wait.
      const rtt = s.burstPathRttMs;
      assert.ok(rtt > 0, `seed ${seed}: the hole was never reported`);
      assert.ok(
        s.burstRepairMs <= 1.25 * rtt + 2,
        `${congestion} seed ${seed}: repair ${s.burstRepairMs.toFixed(1)} ms, RTT ${
          rtt.toFixed(1)
        }`,
      );
      assert.equal(s.retransmits, 8, `${congestion} seed ${seed}: only the holes are resent`);
      // Without SACK, NewReno (RFC 6582) learns of one hole per round trip.
      const n = run({ ...c, sack: false, burst });
      assert.ok(
        n.burstRepairMs >= 3 * n.burstPathRttMs,
        `${congestion} seed ${seed} no SACK: ${n.burstRepairMs.toFixed(1)} ms`,
      );
      assert.equal(n.retransmits, 8);
    }
  }
});

Deno.test("goodput: a lost retransmission is sent again within the recovery, not by an RTO", () => {
  // Three segments lost early (while the window is small enough for new data to flow during
  // recovery), and the first retransmission lost as well. With SACK, data sent after the
  // retransmission arrives while it does not: it is lost too (RFC 8985 6.2's rule, rtx_log.ts).
  for (const congestion of ["newreno", "cubic"] as const) {
    for (const at of [20, 40, 80]) {
      const c = { congestion, loss: 0, reorder: 0, bytes: MIB, seed: 1, dropRetransmits: 1 };
      const s = run({ ...c, sack: true, burst: { at, count: 3 } });
      assert.equal(s.rtos, 0, `${congestion} at ${at}: ${JSON.stringify(s.counters)}`);
      assert.equal(s.counters["tcp-lost-retransmit"], 1);
      assert.equal(s.retransmits, 4, "three holes and the lost retransmission once more");
      // Without SACK nothing shows the retransmission's loss: the RTO (200 ms) repairs it.
      const n = run({ ...c, sack: false, burst: { at, count: 3 } });
      assert.equal(n.rtos, 1);
      assert.ok(s.burstRecoveryMs < n.burstRecoveryMs / 3, `${s.burstRecoveryMs} ms`);
    }
  }
});

Deno.test("goodput: no retransmission under reordering within the duplicate-ACK window", () => {
  // 5% of data segments held 0.3 ms: at 100 Mbit/s (0.12 ms per full segment) at most two
  // segments overtake a held one, so fewer than three duplicate ACKs (RFC 5681 3.2) follow.
  for (const v of VARIANTS) {
    for (const seed of [1, 2]) {
      const r = run({ ...v, loss: 0, reorder: 0.05, reorderMs: 0.3, bytes: 2 * MIB, seed });
      assert.ok(r.reordered > 50, `seed ${seed}: only ${r.reordered} reordered`);
      assert.equal(r.retransmits, 0, `${name(v)} seed ${seed}: spurious retransmissions`);
      assert.ok(r.mbit > 75, `${name(v)} seed ${seed}: ${r.mbit.toFixed(1)} Mbit/s`);
    }
  }
});

Deno.test("goodput: deep reordering (+2 ms, ~16 segments) keeps the rate (Eifel undo)", () => {
  for (const v of VARIANTS) {
    const r = run({ ...v, loss: 0, reorder: 0.05, reorderMs: 2, bytes: 4 * MIB, seed: 1 });
    assert.ok(r.mbit > 75, `${name(v)}: ${r.mbit.toFixed(1)} Mbit/s`);
    // Spurious fast retransmits happen (the threshold then adapts, below) but stay a few percent of
    // the reordered segments.
    assert.ok(r.retransmits < 0.3 * r.reordered, `${name(v)}: ${r.retransmits} retransmissions`);
  }
});

Deno.test("goodput: once the threshold adapts to ~16-segment reordering, no more retransmits", () => {
  // 5% of data segments held 2 ms (~16 segments at 100 Mbit/s): the first episodes are
  // spurious fast retransmits that Eifel (RFC 3522) undoes while raising the duplicate-ACK
  // threshold (as Linux `reordering`); after the first MiB there are none.
  for (const v of VARIANTS) {
    const c = { ...v, loss: 0, reorder: 0.05, reorderMs: 2, seed: 1 };
    const short = run({ ...c, bytes: MIB });
    const long = run({ ...c, bytes: 4 * MIB });
    assert.ok(long.reordered > 3 * short.reordered);
    assert.ok(long.retransmits <= short.retransmits + 2, `${name(v)}: ${long.retransmits}`);
  }
});

Deno.test({
  name:
    "goodput: after the reordering threshold adapts, deep reordering causes no more retransmits",
  // 5% of segments held 3 ms (~25 segments of displacement at 100 Mbit/s): each Eifel undo
  // (RFC 3522) raises the threshold to the measured degree (SACKed span above the hole, or
  // the duplicates seen), as Linux raises `reordering` up to tcp_max_reordering (300).
  fn() {
    for (const v of VARIANTS) {
      const c = { ...v, loss: 0, reorder: 0.05, reorderMs: 3, seed: 1 };
      const short = run({ ...c, bytes: MIB });
      const long = run({ ...c, bytes: 8 * MIB });
      assert.ok(long.retransmits <= short.retransmits + 2, `${name(v)}: ${long.retransmits}`);
    }
  },
});

Deno.test({
  name: "goodput: full table (4 MiB, two seeds, every row) is byte-exact (TCPIP_LONG=1)",
  ignore: !LONG,
  fn() {
    for (const row of TABLE_ROWS) {
      for (const v of VARIANTS) {
        for (const seed of [1, 2]) {
          const reorderMs = row.label.includes("2 ms") ? 2 : 0.3;
          const r = run({ ...v, ...row, reorderMs, bytes: 4 * MIB, seed });
          assert.ok(r.mbit > 0.5, `${row.label} ${name(v)} seed ${seed}: ${r.mbit} Mbit/s`);
        }
      }
    }
  },
});

Deno.test("limited transmit: the first two duplicate ACKs each send new data (RFC 3042)", () => {
  for (const v of VARIANTS) {
    const ev: TraceEvent[] = [];
    const r = run({
      ...v,
      loss: 0,
      reorder: 0,
      bytes: 200000,
      seed: 1,
      burst: { at: 12, count: 1 }, // one segment lost in the second flight (cwnd-limited)
      trace: (e) => ev.push(e),
    });
    assert.equal(r.retransmits, 1);
    const rtx = ev.findIndex((e) => e.kind === "send" && !e.fresh);
    assert.ok(rtx > 0, "a retransmission");
    const hole = ev[rtx]!.seq;
    // Duplicate ACKs (RFC 5681 2): same ACK number and window, at the hole.
    const seen: string[] = [];
    let prev: TraceEvent | null = null;
    for (const e of ev.slice(0, rtx + 1)) {
      if (e.kind === "ack") {
        const dup = prev !== null && e.ack === hole && prev.ack === hole && prev.wnd === e.wnd;
        if (e.ack === hole && (dup || seen.length > 0)) seen.push(dup ? "dup" : "ack");
        prev = e;
      } else if (seen.length > 0) seen.push(e.fresh ? "new" : "rtx");
    }
    if (!v.sack) {
      // The first ACK at the hole, then dup, new, dup, new, dup, rtx (fast retransmit on the
      // third duplicate, RFC 5681 3.2).
      assert.deepEqual(seen.slice(-6), ["dup", "new", "dup", "new", "dup", "rtx"], name(v));
    } else {
      // RFC 6675 section 2: the ACK that first reports the hole carries new SACK information,
      // so it is itself the first DupAck (and releases a limited-transmit segment with what
      // its cumulative ACK opened); two duplicates later comes the retransmission.
      assert.deepEqual(seen, ["dup", "new", "dup", "rtx"], name(v));
      const first = ev.findIndex((e) => e.kind === "ack" && e.ack === hole);
      assert.ok(ev[first]!.sackCount > 0 && ev[first + 1]?.kind === "send", name(v));
    }
  }
});

Deno.test("goodput: whole stacks over withFaults agree (0% > 75 Mbit/s, reordering, 1% loss)", async () => {
  for (const v of VARIANTS) {
    const base = { ...v, bytes: 2 * MIB, seed: 3, loss: 0, reorder: 0 };
    const clean = await runStackGoodput({ ...base, bytes: 4 * MIB });
    assert.ok(clean.exact && clean.mbit > 75, `${name(v)}: ${clean.mbit.toFixed(1)} Mbit/s`);
    assert.equal(clean.retransmits, 0);
    const reordered = await runStackGoodput({ ...base, reorder: 0.05, reorderMs: 0.3 });
    assert.ok(reordered.exact, `${name(v)} reordered: not byte-exact`);
    assert.equal(reordered.retransmits, 0, `${name(v)}: spurious retransmissions`);
    const lossy = await runStackGoodput({ ...base, loss: 0.01 });
    assert.ok(lossy.exact && lossy.mbit > 5, `${name(v)} at 1%: ${lossy.mbit.toFixed(1)} Mbit/s`);
  }
});

Deno.test({
  name: "goodput: SACK duplicate ACKs whose window moves (as Linux's do) still fast-retransmit",
  // Deterministic twin of the kernel test in tcp_ext_kernel.test.ts: the receiver's window
  // field moves by 0..3 units on successive ACKs (as Linux's does while it SACKs). RFC 6675
  // section 2 counts every ACK carrying new SACK information as a DupAck, whatever its window.
  fn() {
    for (const congestion of ["newreno", "cubic"] as const) {
      const c = { congestion, sack: true, loss: 0.01, reorder: 0, bytes: 4 * MIB, seed: 1 };
      const steady = run(c);
      const moving = run({ ...c, wobbleWindow: true });
      assert.ok(moving.rtos <= steady.rtos + 2, `${congestion}: ${moving.rtos} RTOs`);
    }
  },
});
