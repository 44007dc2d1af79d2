import assert from "node:assert/strict";
import type { TcpConnection } from "../../src/tcp/tcp_layer.ts";
import { IP_B, TcpPair } from "../support/tcp_pair.ts";

Deno.test("10,000 idle connections fit in a bounded amount of memory", () => {
  const p = new TcpPair({ faults: { delayMs: 1 }, tcpB: { synBacklog: 20000 } });
  const l = p.b.listen(0, 80, 20000);
  const n = 10000;
  const gc = (globalThis as { gc?: () => void }).gc; // present under --v8-flags=--expose-gc
  gc?.();
  const before = Deno.memoryUsage().heapUsed;
  const clients: TcpConnection[] = [];
  const servers: TcpConnection[] = [];
  for (let i = 0; i < n; i++) clients.push(p.a.connect(IP_B, 80, p.now));
  p.run(() => {
    for (let s = l.accept(); s; s = l.accept()) servers.push(s);
    return servers.length === n;
  }, 60000);
  assert.equal(servers.length, n);
  assert.equal(p.a.connectionCount, n);
  assert.equal(p.b.connectionCount, n);
  p.advance(3000);
  gc?.();
  const after = Deno.memoryUsage().heapUsed;
  const perConn = (after - before) / (2 * n);
  console.log(
    `heap per idle connection: ${perConn.toFixed(0)} bytes (${
      ((after - before) / 2 / 1e6).toFixed(1)
    } MB per 10,000)`,
  );
  assert.ok(perConn < 8192, `heap per idle connection ${perConn}`);
  // Idle: after one (possibly stale) wake-up no timers are pending (no keepalive by default).
  assert.equal(p.a.pollAt(), Infinity);
  assert.equal(p.b.pollAt(), Infinity);
  for (const c of [...clients, ...servers]) c.abort();
  assert.equal(p.a.connectionCount + p.b.connectionCount, 0);
  l.close();
});
