import assert from "node:assert/strict";
import { TcpPair } from "../support/tcp_pair.ts";
import { rng } from "../support/rng.ts";
import { openPair, Stream } from "../support/tcp_transfer.ts";

const LONG = Deno.env.get("TCPIP_LONG") === "1";

/** One randomized scenario: faults, options on both sides, write sizes, a slow reader. */
function scenario(seed: number): void {
  const r = rng(seed * 7919);
  const faults = {
    loss: r() * 0.15,
    reorder: r() * 0.2,
    dup: r() * 0.1,
    delayMs: 1 + Math.floor(r() * 20),
    jitterMs: r() * 3,
    bytesPerMs: r() < 0.3 ? 500 + r() * 5000 : 0,
  };
  const side = () => ({
    rcvBuf: r() < 0.3 ? 4096 + Math.floor(r() * 20000) : 262144,
    sndBuf: r() < 0.3 ? 4096 : 262144,
    noDelay: r() < 0.5,
    timestamps: r() < 0.8,
    sack: r() < 0.8,
    windowScale: r() < 0.8,
    congestion: r() < 0.5 ? "cubic" as const : "newreno" as const,
    timeWaitMs: 1000,
    mss: r() < 0.2 ? 300 : 65495,
  });
  const tcpA = side(), tcpB = side();
  const why = () => `seed ${seed}: ${JSON.stringify({ faults, tcpA, tcpB })}`;
  const p = new TcpPair({ seed, faults, tcpA, tcpB });
  const [c, s] = openPair(p);
  const up = new Stream(c, s, 50000 + Math.floor(r() * 100000), 1, 1 + Math.floor(r() * 20000));
  const down = new Stream(s, c, Math.floor(r() * 50000), 2, 1 + Math.floor(r() * 20000));
  const slow = r() < 0.4 ? r() * 0.5 : 1;
  const ok = p.run(() => up.done && down.done, 3_600_000, () => {
    const idle = p.inFlight === 0;
    if (idle || r() < slow) up.pump();
    if (idle || r() < slow) down.pump();
  });
  assert.ok(
    ok,
    `Transfer did not finish (${up.received}/${up.total}, ${down.received}/${down.total}) ${why()}`,
  );
  assert.equal(up.bad, -1, why());
  assert.equal(down.bad, -1, why());
  assert.equal(p.sackViolations, 0, why());
  c.close();
  s.close();
  assert.ok(
    p.run(() => p.a.connectionCount + p.b.connectionCount === 0, 3_600_000),
    `No close: ${why()}`,
  );
}

Deno.test("randomized scenarios: faults, options, buffer sizes, slow readers", () => {
  const n = LONG ? 3000 : 150;
  for (let seed = 1; seed <= n; seed++) scenario(seed);
});
