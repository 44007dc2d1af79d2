/**
 * The bottleneck harness through whole stacks (interface, TCP, driver, socket API): two stacks
 * over a memory link pair wrapped in the fault injector, in virtual time; the TCP-only
 * harness is bottleneck.ts.
 *
 * @module
 */

import { createMemoryLinkPair, createStack } from "../../mod.ts";
import { Simulation, VirtualClock, withFaults } from "../../testing.ts";
import { type GoodputCase, type GoodputResult, pat } from "./bottleneck.ts";

/**
 * The same transfer through two whole stacks (interface, TCP, driver, socket API) over a
 * memory link pair wrapped in the fault injector (`withFaults`: rate, delay, drop, reorder),
 * in virtual time. Burst loss and tracing are not supported here.
 */
export async function runStackGoodput(c: GoodputCase): Promise<GoodputResult> {
  const clock = new VirtualClock(1000);
  const [la, lb] = createMemoryLinkPair({ queueLimit: 4096 });
  const faults = (l: typeof la, seed: number) =>
    withFaults(l, {
      seed,
      drop: c.loss,
      reorder: c.reorder,
      reorderMs: c.reorderMs ?? 0.3,
      delayMs: (c.rttMs ?? 10) / 2,
      rateBitsPerSec: (c.rateMbit ?? 100) * 1e6,
      clock: () => clock.now(),
    });
  const tcp = { congestion: c.congestion, sack: c.sack, timestamps: c.timestamps ?? true };
  const a = await createStack({
    link: faults(la, c.seed),
    address: "10.9.0.1/24",
    engine: "js",
    clock,
    tcp,
  });
  const b = await createStack({
    link: faults(lb, c.seed + 1),
    address: "10.9.0.2/24",
    engine: "js",
    clock,
    tcp,
  });
  const sim = new Simulation(clock, [a, b]);
  const lis = b.listen({ port: 9200 });
  const data = new Uint8Array(c.bytes);
  for (let i = 0; i < c.bytes; i++) data[i] = pat(i);
  try {
    const run = (async () => {
      const accepted = lis.accept();
      const conn = await a.connect({ hostname: "10.9.0.2", port: 9200 });
      const t0 = clock.now();
      const server = await accepted;
      const buf = new Uint8Array(65536);
      let got = 0, bad = -1;
      const reader = (async () => {
        for (;;) {
          const n = await server.read(buf);
          if (n === null) return;
          for (let i = 0; i < n; i++) if (bad < 0 && buf[i] !== data[got + i]) bad = got + i;
          got += n;
        }
      })();
      await conn.write(data);
      await conn.closeWrite();
      await reader;
      const ms = clock.now() - t0;
      const info = conn.info();
      conn.close();
      server.close();
      return { got, bad, ms, info };
    })();
    const r = await sim.run(run, { maxVirtualMs: c.maxMs ?? 600_000 });
    return {
      exact: r.got === c.bytes && r.bad < 0,
      badAt: r.bad,
      received: r.got,
      ms: r.ms,
      mbit: (r.got * 8) / r.ms / 1000,
      retransmits: r.info.retransmits,
      rtos: a.stats()["tcp-rto"] ?? 0,
      dropped: NaN,
      reordered: NaN,
      counters: a.stats(),
      receiverCounters: b.stats(),
      srttMs: r.info.srttMs,
      burstRecoveryMs: NaN,
      burstRepairMs: NaN,
      burstSrttMs: NaN,
      burstPathRttMs: NaN,
    };
  } finally {
    lis.close();
    await a.close();
    await b.close();
  }
}
