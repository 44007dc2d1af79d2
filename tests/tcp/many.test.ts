import assert from "node:assert/strict";
import type { TcpConnection } from "../../src/tcp/tcp_layer.ts";
import { IP_B, TcpPair } from "../support/tcp_pair.ts";
import { Stream } from "../support/tcp_transfer.ts";

const LONG = Deno.env.get("TCPIP_LONG") === "1";

Deno.test("100 connections transfer simultaneously under 1% loss, byte for byte", () => {
  const seed = 21;
  const p = new TcpPair({
    seed,
    faults: { loss: 0.01, reorder: 0.02, dup: 0.01, delayMs: 5, bytesPerMs: 20000 },
    tcpA: { timeWaitMs: 1000 },
    tcpB: { timeWaitMs: 1000 },
  });
  const l = p.b.listen(0, 80, 200);
  const clients: TcpConnection[] = [];
  for (let i = 0; i < 100; i++) clients.push(p.a.connect(IP_B, 80, p.now));
  const servers: TcpConnection[] = [];
  assert.ok(
    p.run(() => {
      for (let s = l.accept(); s; s = l.accept()) servers.push(s);
      return servers.length === 100 && clients.every((c) => c.state === "ESTABLISHED");
    }, 60000),
    `Handshakes did not complete (seed ${seed})`,
  );
  // Pair by port: the server's remote port is the client's local port.
  const byPort = new Map(servers.map((s) => [s.remotePort, s]));
  const size = LONG ? 1 << 20 : 32 << 10;
  const streams = clients.flatMap((c, i) => {
    const s = byPort.get(c.localPort)!;
    return [new Stream(c, s, size, i), new Stream(s, c, size >> 1, 1000 + i)];
  });
  const ok = p.run(
    () => streams.every((st) => st.done),
    600000,
    () => streams.forEach((st) => st.pump()),
  );
  assert.ok(
    ok,
    `Transfers did not finish (seed ${seed}): ${streams.filter((s) => !s.done).length} left`,
  );
  for (const st of streams) assert.equal(st.bad, -1, `corrupt stream (seed ${seed})`);
  for (const c of [...clients, ...servers]) c.close();
  assert.ok(p.run(() => p.a.connectionCount + p.b.connectionCount === 0, 600000));
  l.close();
});
