/**
 * Whole stack (interface + TCP + driver + API over a memory link with loss): data segments
 * carrying timestamps and SACK blocks fit the 1500-byte MTU by themselves (payloadRoom), so the
 * interface never drops a datagram as too big (nor, as it once did, trims SACK blocks).
 */
import assert from "node:assert/strict";
import { createMemoryLinkPair, createStack, type Link } from "../../mod.ts";
import { Simulation, VirtualClock, withFaults } from "../../testing.ts";
import type { Conn } from "../../src/api/conn.ts";

async function readAll(conn: Conn, n: number): Promise<number> {
  const buf = new Uint8Array(65536);
  let got = 0;
  while (got < n) {
    const r = await conn.read(buf);
    if (r === null) break;
    got += r;
  }
  return got;
}

for (const engine of ["js", "wasm"] as const) {
  Deno.test(`tcp over the stack (${engine}): no SACK trimming at the interface, 3% loss each way`, async () => {
    const seed = 5;
    const clock = new VirtualClock(1000);
    const [la0, lb0] = createMemoryLinkPair({ queueLimit: 4096 });
    const lossy = (l: Link, s: number): Link =>
      withFaults(l, { seed: s, drop: 0.03, clock: () => clock.now() });
    const a = await createStack({ link: lossy(la0, seed), address: "10.9.0.1/24", engine, clock });
    const b = await createStack({
      link: lossy(lb0, seed + 1),
      address: "10.9.0.2/24",
      engine,
      clock,
    });
    const sim = new Simulation(clock, [a, b]);
    const listener = b.listen({ port: 9000 });
    const size = 400_000;
    try {
      const run = (async () => {
        const accepted = listener.accept();
        const conn = await a.connect({ hostname: "10.9.0.2", port: 9000 });
        const server = await accepted;
        const data = new Uint8Array(size).fill(7);
        const [, , up, down] = await Promise.all([
          conn.write(data).then(() => conn.closeWrite()),
          server.write(data).then(() => server.closeWrite()),
          readAll(server, size),
          readAll(conn, size),
        ]);
        const info = conn.info();
        conn.close();
        server.close();
        return { up, down, info };
      })();
      const r = await sim.run(run, { maxVirtualMs: 3_600_000 });
      assert.deepEqual([r.up, r.down], [size, size], `transfer incomplete (seed ${seed})`);
      assert.ok(r.info.retransmits > 0 && r.info.sack && r.info.timestamps);
      for (const s of [a.stats(), b.stats()]) {
        assert.equal(s["tcp-sack-trimmed"] ?? 0, 0, `SACK blocks trimmed (seed ${seed})`);
        assert.equal(s["tx-too-big"] ?? 0, 0, `datagrams over the MTU (seed ${seed})`);
      }
    } finally {
      listener.close();
      await a.close();
      await b.close();
    }
  });
}
