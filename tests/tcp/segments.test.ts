/**
 * What a data segment carries and when it leaves (src/tcp/tcp_output.ts): its size with
 * options within the path MTU and the peer's MSS (payloadRoom, as Linux tcp_current_mss),
 * Nagle's algorithm (RFC 9293 3.7.4) and PSH on the last segment of a write (RFC 9293 3.9.1).
 */

import assert from "node:assert/strict";
import { F_PSH, F_SYN } from "../../src/wire/layout.ts";
import { type Captured, TcpPair } from "../support/tcp_pair.ts";
import { openPair, Stream } from "../support/tcp_transfer.ts";

/** Length of a non-SYN segment's TCP options as the encoder lays them out. */
function optionBytes(r: Captured): number {
  const blocks = r.hasTs && r.sackCount > 3 ? 3 : r.sackCount;
  return (r.hasTs ? 12 : 0) + (blocks > 0 ? 4 + 8 * blocks : 0);
}

for (const engine of ["js", "wasm"] as const) {
  Deno.test(`segment size (${engine}): IP length within the MTU with timestamps and SACK`, () => {
    for (const seed of [1, 2, 3]) {
      const p = new TcpPair({ seed, engine, capture: true, faults: { loss: 0.05, delayMs: 3 } });
      const [c, s] = openPair(p);
      const up = new Stream(c, s, 300_000, 1);
      const down = new Stream(s, c, 300_000, 2);
      const ok = p.run(() => up.done && down.done, 600_000, () => {
        up.pump();
        down.pump();
      });
      assert.ok(ok && up.bad < 0 && down.bad < 0, `transfer failed (seed ${seed})`);
      let withSack = 0, full = 0;
      for (const r of p.captured) {
        if (r.flags & F_SYN) continue;
        const ipLen = 20 + 20 + optionBytes(r) + r.len;
        assert.ok(ipLen <= 1500, `${ipLen}-byte IP datagram (seed ${seed}, sack ${r.sackCount})`);
        if (r.len > 0 && r.sackCount > 0) withSack++;
        if (ipLen === 1500) full++;
      }
      assert.ok(withSack > 0, `no data segment carried SACK blocks (seed ${seed})`);
      assert.ok(full > 0, `no segment filled the MTU (seed ${seed})`);
    }
  });
}

Deno.test("segment size: a smaller path MTU bounds data segments with their options", () => {
  const p = new TcpPair({ capture: true, mtu: 576, faults: { loss: 0.05, delayMs: 3 } });
  const [c, s] = openPair(p);
  const up = new Stream(c, s, 100_000, 3);
  const down = new Stream(s, c, 100_000, 4);
  assert.ok(p.run(() => up.done && down.done, 600_000, () => (up.pump(), down.pump())));
  const sizes = p.captured.filter((r) => !(r.flags & F_SYN)).map((r) =>
    40 + optionBytes(r) + r.len
  );
  assert.ok(Math.max(...sizes) <= 576, `largest datagram ${Math.max(...sizes)} bytes`);
});

Deno.test("segments never exceed the peer's MSS or the path MTU", () => {
  const p = new TcpPair({ capture: true, tcpB: { mss: 500 }, mtu: 1500, faults: { delayMs: 2 } });
  const [c, s] = openPair(p);
  c.write(new Uint8Array(20000));
  const buf = new Uint8Array(30000);
  p.advance(500, () => s.read(buf));
  const syn = p.captured.find((r) => r.from === "b" && r.flags & F_SYN)!;
  assert.equal(syn.mss, 500);
  const max = Math.max(...p.captured.filter((r) => r.from === "a").map((r) => r.len));
  assert.ok(max <= 500 - 12, `max ${max}`); // 12 bytes of timestamp option
  const q = new TcpPair({ capture: true, mtu: 600 });
  const [c2] = openPair(q);
  c2.write(new Uint8Array(5000));
  q.advance(100);
  assert.ok(Math.max(...q.captured.map((r) => r.len)) <= 560);
});

Deno.test("Nagle holds small segments while data is in flight; noDelay sends them", () => {
  for (const noDelay of [false, true]) {
    const p = new TcpPair({ capture: true, tcpA: { noDelay }, faults: { delayMs: 10 } });
    const [c] = openPair(p);
    p.captured.length = 0;
    c.write(new Uint8Array(10));
    p.poll();
    c.write(new Uint8Array(10));
    p.poll();
    c.write(new Uint8Array(10));
    p.poll();
    const sent = p.captured.filter((r) => r.from === "a" && r.len > 0).length;
    assert.equal(sent, noDelay ? 3 : 1);
    p.advance(100);
    const total = p.captured.filter((r) => r.from === "a").reduce((n, r) => n + r.len, 0);
    assert.equal(total, 30);
  }
});

Deno.test("PSH on the last segment of each write", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 1 } });
  const [c, s] = openPair(p);
  p.captured.length = 0;
  c.write(new Uint8Array(5000));
  const buf = new Uint8Array(8192);
  p.advance(50, () => s.read(buf));
  const data = p.captured.filter((r) => r.from === "a" && r.len > 0);
  assert.ok(data.length >= 4);
  data.forEach((r, i) => assert.equal((r.flags & F_PSH) !== 0, i === data.length - 1));
});
