/**
 * A burst of connections against a listener whose application accepts with `for await`: the
 * driver lets the accept loop run between batches (stack.ts `deferToApp`), so the accept queue
 * does not fill and no handshake is dropped for it (issue 17: accept-queue draining).
 */
import assert from "node:assert/strict";
import { createMemoryLinkPair, createStack } from "../../mod.ts";

const A = "10.9.1.1";
const B = "10.9.1.2";

Deno.test("api: 2,000 concurrent connects, accept loop with for await, no accept-queue drop", async () => {
  const [la, lb] = createMemoryLinkPair();
  const a = await createStack({ link: la, address: `${A}/24` });
  // An accept queue of 256: what a batch completes fits, what a run of batches completes not.
  const b = await createStack({ link: lb, address: `${B}/24`, tcp: { acceptBacklog: 256 } });
  try {
    const listener = b.listen({ port: 80 });
    const N = 2000;
    let accepted = 0;
    const serving = (async () => {
      for await (const conn of listener) {
        accepted++;
        (async () => {
          const buf = new Uint8Array(4);
          const n = await conn.read(buf);
          if (n !== null) await conn.write(buf.subarray(0, n));
          conn.close();
        })().catch(() => {});
        if (accepted === N) break;
      }
    })();
    const clients = Array.from({ length: N }, async (_, i) => {
      const c = await a.connect({ hostname: B, port: 80 });
      await c.write(new Uint8Array([i & 0xff]));
      const got = new Uint8Array(4);
      const n = await c.read(got);
      c.close();
      return n === 1 && got[0] === (i & 0xff);
    });
    const ok = await Promise.all(clients);
    await serving;
    listener.close();
    assert.equal(ok.filter((x) => x).length, N);
    assert.equal(accepted, N);
    const s = b.stats();
    assert.equal(s["tcp-accept-queue-full"] ?? 0, 0, JSON.stringify(s));
  } finally {
    await a.close();
    await b.close();
  }
});

/** Driver passes so far (the `driver-services` counter). */
const passes = (s: { stats(): Record<string, number> }) => s.stats()["driver-services"]!;
const hops = async (n: number) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};
const turn = () => new Promise<void>((r) => setImmediate(r));

Deno.test("api: with 64 connections waiting for accept, the stack's passes wait for the application", async () => {
  const [la, lb] = createMemoryLinkPair();
  const a = await createStack({ link: la, address: `${A}/24` });
  const b = await createStack({ link: lb, address: `${B}/24` });
  try {
    const listener = b.listen({ port: 80 });
    const conns = await Promise.all(
      Array.from({ length: 70 }, () => a.connect({ hostname: B, port: 80 })),
    );
    await turn();
    // Nothing accepted: a kick (what the application's writes do) runs no pass until the
    // application's queued continuations have had their turn.
    let before = passes(b);
    b.driver.kick();
    await hops(20);
    assert.equal(passes(b), before, "a pass ran while the application was behind");
    await turn();
    await turn();
    assert.ok(passes(b) > before);
    const accepted = [];
    for (let i = 0; i < 70; i++) accepted.push(await listener.accept());
    await turn();
    await turn();
    // Caught up: kicks run in a microtask again.
    before = passes(b);
    b.driver.kick();
    await hops(20);
    assert.ok(passes(b) > before, "no pass after a kick");
    for (const c of [...conns, ...accepted]) c.close();
    listener.close();
  } finally {
    await a.close();
    await b.close();
  }
});
