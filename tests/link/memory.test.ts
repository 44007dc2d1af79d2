import assert from "node:assert/strict";
import { createMemoryLinkPair } from "../../src/link/memory.ts";

function frame(tag: number, len = 60): Uint8Array {
  const f = new Uint8Array(len);
  f.fill(tag);
  return f;
}

Deno.test("memory: frames arrive on the other end, in order, back to back", () => {
  const [a, b] = createMemoryLinkPair();
  for (let i = 0; i < 10; i++) a.send(frame(i, 60 + i), 0, 60 + i);
  b.send(frame(99), 0, 60);
  assert.equal(b.pending, 10);
  const buf = new Uint8Array(1 << 16);
  const meta = new Int32Array(64);
  assert.equal(b.receive(buf, meta, 4), 4);
  assert.deepEqual([...meta.subarray(0, 8)], [0, 60, 60, 61, 121, 62, 183, 63]);
  assert.equal(buf[60], 1);
  assert.equal(buf[183], 3);
  assert.equal(b.receive(buf, meta, 32), 6);
  assert.equal(buf[meta[0]!], 4);
  assert.equal(meta[11], 69);
  assert.equal(b.receive(buf, meta, 32), 0);
  assert.equal(a.receive(buf, meta, 32), 1);
  assert.equal(buf[0], 99);
  assert.deepEqual(a.stats, { sent: 10, received: 1, dropped: 0 });
  a.close();
  b.close();
});

Deno.test("memory: the bounded queue drops and counts frames beyond the limit", () => {
  const [a, b] = createMemoryLinkPair({ queueLimit: 3 });
  for (let i = 0; i < 5; i++) a.send(frame(i), 0, 60);
  assert.equal(a.stats.sent, 3);
  assert.equal(a.stats.dropped, 2);
  const buf = new Uint8Array(1600); // room for 1518 + 60 bytes, not 1518 + 120
  const meta = new Int32Array(16);
  assert.equal(b.receive(buf, meta, 8), 2, "stops when buf has no room for an mtu-sized frame");
  assert.equal(b.receive(buf, meta, 8), 1);
  assert.equal(buf[0], 2, "the first three were kept, the last two dropped");
  a.send(frame(7), 0, 60);
  assert.equal(b.pending, 1, "the ring wraps and reuses its slots");
  a.close();
  b.close();
});

Deno.test("memory: frames are copied when sent; misuse throws clear errors", () => {
  const [a, b] = createMemoryLinkPair({ mtu: 100 });
  const f = frame(5);
  a.send(f, 0, 60);
  f.fill(6);
  const buf = new Uint8Array(4096);
  const meta = new Int32Array(2);
  b.receive(buf, meta, 1);
  assert.equal(buf[0], 5);
  assert.throws(() => a.send(new Uint8Array(200), 0, 119), {
    name: "RangeError",
    message: "Frame of 119 bytes does not fit memory-a (14 to 118 bytes, TCP segments to 65549)",
  });
  assert.throws(() => a.send(f, 30, 60), RangeError);
  assert.throws(() => createMemoryLinkPair({ queueLimit: 0 }), RangeError);
  a.close();
  assert.throws(() => a.send(f, 0, 60), Deno.errors.BadResource);
  b.send(f, 0, 60);
  assert.equal(b.stats.dropped, 1, "frames to a closed end are dropped");
  b.close();
});

Deno.test("memory: wait() wakes when the peer sends, times out otherwise, resolves on close", async () => {
  const [a, b] = createMemoryLinkPair();
  const t0 = performance.now();
  const waiting = b.wait(Infinity);
  queueMicrotask(() => a.send(frame(1), 0, 60));
  await waiting;
  assert.ok(performance.now() - t0 < 50);
  assert.equal(b.pending, 1);
  await b.wait(1000); // frames waiting: resolves at once
  const buf = new Uint8Array(4096);
  b.receive(buf, new Int32Array(2), 1);
  const t1 = performance.now();
  await b.wait(30);
  assert.ok(performance.now() - t1 >= 25, "timed out after about 30 ms");
  const slow = b.wait(10_000); // its timer must be cleared when the peer sends
  a.send(frame(2), 0, 60);
  await slow;
  const parked = a.wait(Infinity);
  a.close();
  await parked;
  b.close();
});

Deno.test("memory offload: two stacks move 8 MiB byte-exact in merged frames", async () => {
  const { createStack } = await import("../../mod.ts");
  const [la, lb] = createMemoryLinkPair({ offload: true });
  assert.equal(la.maxFrame, 65549);
  const a = await createStack({ link: la, address: "10.9.0.1/24" });
  const b = await createStack({ link: lb, address: "10.9.0.2/24" });
  try {
    const listener = b.listen({ port: 7000 });
    const accepted = listener.accept();
    const client = await a.connect({ hostname: "10.9.0.2", port: 7000 });
    const server = await accepted;
    const total = 8 << 20;
    const data = new Uint8Array(total);
    for (let i = 0; i < total; i++) data[i] = (i * 7 + (i >>> 11)) & 0xff;
    const writer = (async () => {
      for (let off = 0; off < total;) off += await client.write(data.subarray(off, off + 262144));
      client.close();
    })();
    const got = new Uint8Array(total + 1); // room for one more byte: EOF is a read of null
    let n = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const r = await server.read(got.subarray(n));
      if (r === null) break;
      n += r;
    }
    await writer;
    server.close();
    listener.close();
    assert.equal(n, total);
    assert.deepEqual(got.subarray(0, total), data);
    // Far fewer frames than 1448-byte segments: they travelled merged, checksums completed
    // by the receiver (a bad one would be dropped and the transfer would stall).
    assert.ok(la.stats.sent < total / 1448 / 4, `${la.stats.sent} frames for ${total} bytes`);
    assert.equal(b.stats()["tcp-bad-checksum"] ?? 0, 0);
  } finally {
    await a.close();
    await b.close();
  }
});
