/** RFC 6056 algorithm 4 ephemeral ports: unpredictable, spread, collisions skipped, exhaustion. */

import assert from "node:assert/strict";
import fc from "fast-check";
import { EPHEMERAL_LO, EPHEMERAL_N, EphemeralPorts } from "../../src/tcp/ports.ts";
import { IP_A, IP_B, TcpPair } from "../support/tcp_pair.ts";

Deno.test("ports: in range, not consecutive toward one destination, unrelated across destinations", () => {
  const ports = new EphemeralPorts();
  const seq = Array.from({ length: 200 }, () => ports.pick(IP_A, IP_B, 80, () => false));
  for (const p of seq) assert.ok(p >= EPHEMERAL_LO && p <= 65535);
  const steps = seq.slice(1).map((p, i) => (p - seq[i]! + EPHEMERAL_N) % EPHEMERAL_N);
  assert.ok(steps.filter((s) => s === 1).length < 60, "mostly not +1");
  assert.ok(new Set(steps).size >= 5, "steps vary");
  // Another destination starts somewhere else (its own offset F and counter G).
  const other = ports.pick(IP_A, IP_B, 81, () => false);
  assert.ok(!seq.includes(other) || seq.indexOf(other) > 0);
  // Two layers (two secrets) pick different ports for the same destination.
  const a = new EphemeralPorts().pick(IP_A, IP_B, 80, () => false);
  const b = new EphemeralPorts().pick(IP_A, IP_B, 80, () => false);
  const c = new EphemeralPorts().pick(IP_A, IP_B, 80, () => false);
  assert.ok(new Set([a, b, c]).size >= 2, "secrets differ");
});

Deno.test("ports: a collision moves on to the next free port; all taken gives 0", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: EPHEMERAL_N - 1 }), { maxLength: 500 }),
      (used) => {
        const taken = new Set(used.map((u) => EPHEMERAL_LO + u));
        const ports = new EphemeralPorts(new Uint32Array([1, 2, 3, 4, 5, 6, 7, 8]));
        for (let i = 0; i < 50; i++) {
          const p = ports.pick(IP_A, IP_B, 80, (x) => taken.has(x));
          assert.ok(p !== 0 && !taken.has(p));
          taken.add(p);
        }
      },
    ),
    { numRuns: 50 },
  );
  const ports = new EphemeralPorts();
  assert.equal(ports.pick(IP_A, IP_B, 80, () => true), 0);
});

Deno.test("ports: the layer gives every connection to one server its own port", () => {
  const p = new TcpPair();
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) seen.add(p.a.connect(IP_B, 80, p.now).localPort);
  assert.equal(seen.size, 2000);
});
