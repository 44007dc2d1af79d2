/**
 * cwnd validation (RFC 7661, Linux tcp_is_cwnd_limited): when the peer's window, not cwnd,
 * limits what is in flight, ACKs do not grow cwnd, so it stays near the flight instead of
 * drifting to gigabytes.
 */

import assert from "node:assert/strict";
import { createMemoryLinkPair, createStack } from "../../mod.ts";
import { cwndLimited, noteCwndUse } from "../../src/tcp/congestion.ts";

Deno.test("cwnd bound: a receiver pinned at 64 KiB keeps the sender's cwnd within a few windows", async () => {
  for (const tso of [true, false]) {
    const [la, lb] = createMemoryLinkPair({ tso });
    const a = await createStack({ link: la, address: "10.9.0.1/24" });
    const b = await createStack({
      link: lb,
      address: "10.9.0.2/24",
      tcp: { rcvBuf: 65536, autotune: false },
    });
    try {
      const listener = b.listen({ port: 7001 });
      const accepted = listener.accept();
      const client = await a.connect({ hostname: "10.9.0.2", port: 7001 });
      const server = await accepted;
      listener.close();
      const total = 32 << 20;
      const writer = (async () => {
        const chunk = new Uint8Array(262144);
        for (let off = 0; off < total;) off += await client.write(chunk);
        client.close();
      })();
      const buf = new Uint8Array(262144);
      let n = 0;
      const deadline = performance.now() + 60_000;
      while (performance.now() < deadline) {
        const r = await server.read(buf);
        if (r === null) break;
        n += r;
      }
      await writer;
      const cwnd = client.info().cwnd;
      server.close();
      assert.equal(n, total);
      // Slow start may reach twice the largest flight (64 KiB of window) and one ACK more;
      // without the bound cwnd grew by every byte acknowledged: 32 MiB and beyond.
      assert.ok(cwnd <= 4 * 65536, `cwnd ${cwnd} with tso ${tso}`);
    } finally {
      await a.close();
      await b.close();
    }
  }
});

Deno.test("cwnd bound: growth only while cwnd limits (slow start: below twice the flight)", () => {
  const u = { una: 1000, max: 1000, maxFlight: 0, cwndLimited: false, usageSeq: 0 };
  // A pass that filled cwnd (30000 in flight of 30000): limited.
  u.max = 31000;
  noteCwndUse(u, 30000, true);
  assert.equal(u.maxFlight, 30000);
  assert.equal(cwndLimited(u, 30000, 0x7fffffff), true);
  assert.equal(cwndLimited(u, 30000, 20000), true); // avoidance: cwnd limited this window
  // The window is acknowledged; the next one is window-limited at 10000 in flight.
  u.una = 31000;
  u.max = 41000;
  noteCwndUse(u, 10000, false);
  assert.equal(u.maxFlight, 10000);
  assert.equal(u.cwndLimited, false);
  assert.equal(cwndLimited(u, 30000, 0x7fffffff), false); // 30000 >= 2 x 10000
  assert.equal(cwndLimited(u, 30000, 20000), false);
  // Within the same window, a larger flight counts at once.
  noteCwndUse(u, 20000, false);
  assert.equal(cwndLimited(u, 30000, 0x7fffffff), true);
});
