/**
 * TIME-WAIT through the socket API: connections a client closes first end as compact records
 * of its stack (src/tcp/time_wait.ts), counted in `stats()`, and the stack closes with them.
 */

import assert from "node:assert/strict";
import { type Conn, createMemoryLinkPair, createStack } from "../../mod.ts";

Deno.test("stack: connections closed first by the client stay as TIME-WAIT records until the stack closes", async () => {
  const [la, lb] = createMemoryLinkPair();
  const a = await createStack({ link: la, address: "10.9.0.1/24", engine: "js" });
  const b = await createStack({ link: lb, address: "10.9.0.2/24", engine: "js" });
  const listener = b.listen({ port: 7 });
  const served: Promise<void>[] = [];
  const server = (async () => {
    for await (const c of listener) {
      served.push((async () => {
        const buf = new Uint8Array(8);
        while ((await c.read(buf)) !== null) { /* until the client's FIN */ }
        c.close();
      })());
    }
  })();
  const n = 50;
  const conns: Conn[] = [];
  for (let i = 0; i < n; i++) {
    const c = await a.connect({ hostname: "10.9.0.2", port: 7 });
    await c.write(new Uint8Array([i]));
    c.close();
    conns.push(c);
  }
  for (let i = 0; i < 500 && (a.stats()["tcp-time-wait"] ?? 0) < n; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.all(served);
  const s = a.stats();
  assert.equal(s["tcp-time-wait"], n);
  assert.equal(s["tcp-connections"], n, "TIME-WAIT records count as connections");
  assert.equal(b.stats()["tcp-connections"], 0);
  assert.ok(conns.every((c) => c.state === "TIME-WAIT"));
  await assert.rejects(() => conns[0]!.read(new Uint8Array(1)), Deno.errors.BadResource);
  listener.close();
  await server;
  await a.close();
  await b.close();
  assert.ok(conns.every((c) => c.state === "CLOSED"));
});
