/**
 * Properties of retransmission with SACK over random loss patterns in the simulator
 * (tests/support/tcp_pair.ts): a pattern of lost segments, random loss, reordering and delay,
 * plus blackouts long enough to force retransmission timeouts. Whatever the pattern, the data arrives intact, and no
 * retransmitted byte was covered by a SACK block the sender had received when it sent it
 * (RFC 6675 5.1 after a timeout, RFC 6675 section 5 in recovery); our receiver never reneges,
 * so the scoreboard is never forgotten. The scoreboard itself is checked against a byte model.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { TcpPair } from "../support/tcp_pair.ts";
import { openPair, Stream } from "../support/tcp_transfer.ts";
import { SackWatch } from "../support/sack_peer.ts";
import { rng } from "../support/rng.ts";
import { MAX_RANGES, SackScoreboard } from "../../src/tcp/sack.ts";

const LONG = Deno.env.get("TCPIP_LONG") === "1";

/** A window of time in which every segment of one direction (or both) is lost. */
const blackout = fc.record({
  at: fc.integer({ min: 0, max: 3000 }),
  len: fc.integer({ min: 50, max: 1500 }),
  dir: fc.constantFrom("a", "b", "both"),
});

const scenario = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  loss: fc.double({ min: 0, max: 0.25, noNaN: true }),
  reorder: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.1, noNaN: true })),
  delayMs: fc.integer({ min: 1, max: 20 }),
  mss: fc.oneof(fc.constant(65495), fc.integer({ min: 200, max: 1460 })),
  bytes: fc.oneof(
    fc.integer({ min: 1_000, max: 20_000 }),
    fc.integer({ min: 20_000, max: 1_000_000 }),
  ),
  chunk: fc.oneof(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 400, max: 65_536 })),
  noDelay: fc.boolean(),
  timestamps: fc.boolean(),
  blackouts: fc.array(blackout, { maxLength: 3 }),
  // The fate of the sender's first data segments, cycled: true is lost.
  // (at most 4 lost in a row, cycle included: more would only wait out backed-off timeouts)
  pattern: fc.array(fc.boolean(), { minLength: 1, maxLength: 48 }).map((a) => {
    let run = 0;
    return [...a.map((lost) => lost && run++ < 4 ? true : (run = 0, false)), false];
  }),
  patterned: fc.integer({ min: 0, max: 600 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

const totals = { rtos: 0, resent: 0, skipped: 0 };

function run(s: Scenario): void {
  const faults = { reorder: s.reorder, delayMs: s.delayMs };
  const side = { mss: s.mss, timestamps: s.timestamps, sack: true };
  const p = new TcpPair({
    seed: s.seed,
    faults,
    capture: true,
    // The property is about what is resent, not when to give up: heavy patterns may need more
    // than the default 15 timeouts in a row.
    tcpA: { ...side, noDelay: s.noDelay, maxRetries: 100 },
    tcpB: side,
  });
  const [c, srv] = openPair(p);
  const watch = new SackWatch(p, c);
  // Losses start once the connection is open: the pattern on side a's data segments, random
  // loss on everything.
  const random = rng(s.seed);
  let nth = 0;
  p.lose = (x) => {
    if (random() < s.loss) return true;
    if (x.from !== "a" || x.len === 0 || nth >= s.patterned) return false;
    return s.pattern[nth++ % s.pattern.length]!;
  };
  const start = p.now;
  const up = new Stream(c, srv, s.bytes, 3, s.chunk);
  // A week of virtual time: without timestamps, a loss pattern may keep every RTT sample from
  // being taken (Karn's rule), and the RTO then stays backed off (up to 120 s) between repairs.
  const ok = p.run(() => up.done, 7 * 86_400_000, () => {
    const t = p.now - start;
    let a = false, b = false;
    for (const w of s.blackouts) {
      if (t >= w.at && t < w.at + w.len) {
        a ||= w.dir !== "b";
        b ||= w.dir !== "a";
      }
    }
    p.blackhole.a = a;
    p.blackhole.b = b;
    watch.scan();
    up.pump();
  });
  watch.scan();
  assert.ok(ok, `transfer stalled at ${up.received}/${up.total} (${c.state} ${c.error?.code})`);
  assert.equal(up.bad, -1, "data corrupted");
  const bad = watch.resent.filter((r) => r.sackedBytes > 0);
  assert.deepEqual(bad, [], "retransmitted bytes the receiver had SACKed");
  const st = p.a.stats();
  assert.equal(st["tcp-sack-reneging"], undefined, "our receiver never reneges");
  totals.rtos += st["tcp-rto"] ?? 0;
  totals.resent += watch.resent.length;
  totals.skipped += st["tcp-rto-sacked-skipped"] ?? 0;
}

Deno.test("property: over random loss and blackouts, data intact and no SACKed byte resent", () => {
  fc.assert(fc.property(scenario, run), { numRuns: LONG ? 2000 : 200 });
  // The patterns did reach the code under test: timeouts with SACKed ranges to skip.
  assert.ok(totals.rtos > 0 && totals.skipped > 0 && totals.resent > 0, JSON.stringify(totals));
});

Deno.test("property: the scoreboard matches a byte model (merge, prune, skip, holes, bound)", () => {
  const op = fc.oneof(
    fc.record({
      kind: fc.constant("add" as const),
      l: fc.integer({ min: 0, max: 2000 }),
      n: fc.integer({ min: 1, max: 200 }),
    }),
    fc.record({ kind: fc.constant("prune" as const), to: fc.integer({ min: 0, max: 300 }) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.array(op, { maxLength: 400 }), (
      base,
      ops,
    ) => {
      const sb = new SackScoreboard();
      const held = new Uint8Array(2400);
      let una = 0;
      const seq = (x: number) => (base + x) >>> 0;
      for (const o of ops) {
        if (o.kind === "add") {
          sb.add(seq(o.l), seq(o.l + o.n), seq(una), seq(2300));
          if (o.l + o.n > una) held.fill(1, Math.max(o.l, una), o.l + o.n);
        } else {
          una = Math.min(una + o.to, 2300);
          sb.prune(seq(una));
          held.fill(0, 0, una);
        }
      }
      // The model's ranges above SND.UNA; the scoreboard keeps the lowest MAX_RANGES of them.
      const ranges: [number, number][] = [];
      for (let i = una; i < held.length; i++) {
        if (!held[i]) continue;
        let j = i;
        while (j < held.length && held[j]) j++;
        ranges.push([i, j]);
        i = j;
      }
      const kept = ranges.slice(0, MAX_RANGES);
      assert.equal(sb.count, kept.length);
      if (ranges.length > MAX_RANGES) return; // which higher range survived depends on order
      assert.equal(sb.sacked, kept.reduce((n, [l, r]) => n + r - l, 0));
      assert.equal(sb.headSacked(seq(una)), kept.length > 0 && kept[0]![0] === una);
      for (let x = una; x < 2300; x += 7) {
        const inRange = kept.find(([l, r]) => x >= l && x < r);
        assert.equal(sb.skip(seq(x)), seq(inRange ? inRange[1] : x));
        const next = kept.find(([l]) => l > x);
        assert.equal(sb.holeEnd(seq(x)), seq(next ? next[0] : x));
      }
    }),
    { numRuns: LONG ? 2000 : 300 },
  );
});
