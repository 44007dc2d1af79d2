/**
 * The loopback path: TCP and UDP to the stack's own address and to 127.0.0.0/8 stay inside
 * the stack (nothing reaches the link), with the right local and remote addresses, counted in
 * stats; `listen({ port: 0 })` and `listenDatagram({ port: 0 })` pick a free port.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createMemoryLinkPair, createStack, type NetStack } from "../../mod.ts";

async function lone(engine: "js" | "wasm" = "js"): Promise<NetStack> {
  const [link] = createMemoryLinkPair();
  return await createStack({ link, address: "10.9.0.2/24", engine });
}

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

async function readAll(r: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(r).arrayBuffer());
}

for (const engine of ["js", "wasm"] as const) {
  for (const host of ["127.0.0.1", "10.9.0.2", "127.3.4.5"]) {
    Deno.test(`loopback: TCP to ${host} (${engine}) carries 1 MiB both ways, addresses right`, async () => {
      await using s = await lone(engine);
      const framesOut0 = s.stats()["frames-out"] ?? 0;
      using listener = s.listen({ port: 0 });
      const port = listener.addr.port;
      assert.ok(port >= 49152 && port <= 65535, `port ${port}`);
      const accepted = listener.accept();
      const conn = await s.connect({ hostname: host, port });
      const peer = await accepted;
      const local = host.startsWith("127.") ? "127.0.0.1" : "10.9.0.2";
      assert.deepEqual(conn.remoteAddr, { transport: "tcp", hostname: host, port });
      assert.equal(conn.localAddr.hostname, local);
      assert.deepEqual(peer.localAddr, { transport: "tcp", hostname: host, port });
      assert.deepEqual(peer.remoteAddr, conn.localAddr);
      const data = new Uint8Array(1 << 20).map((_, i) => (i * 7 + 3) & 255);
      const [, got] = await Promise.all([
        (async () => {
          const w = conn.writable.getWriter();
          await w.write(data);
          await w.close();
        })(),
        readAll(peer.readable),
      ]);
      assert.equal(sha(got), sha(data));
      await peer.write(new TextEncoder().encode("bye"));
      peer.close();
      assert.equal(new TextDecoder().decode(await readAll(conn.readable)), "bye");
      const st = s.stats();
      assert.ok(st["loopback-frames"]! > 700, `loopback-frames ${st["loopback-frames"]}`);
      assert.ok(st["loopback-bytes"]! > 1 << 20);
      assert.ok(st["tcp-in"]! > 350 && st["tcp-out"]! > 350);
      // Only the gratuitous ARP at start left on the link.
      assert.equal((st["frames-out"] ?? 0) - framesOut0, 0);
    });
  }
}

Deno.test("loopback: refused port gives ConnectionRefused; other 127/8 bind works", async () => {
  await using s = await lone();
  await assert.rejects(
    s.connect({ hostname: "127.0.0.1", port: 9 }),
    Deno.errors.ConnectionRefused,
  );
  using l = s.listen({ hostname: "127.0.0.1", port: 8080 });
  assert.equal(l.addr.hostname, "127.0.0.1");
  // Bound to 127.0.0.1 only: our other address is refused.
  await assert.rejects(
    s.connect({ hostname: "10.9.0.2", port: 8080 }),
    Deno.errors.ConnectionRefused,
  );
  const accepted = l.accept();
  const c = await s.connect({ hostname: "127.0.0.1", port: 8080 });
  (await accepted).close();
  c.close();
  assert.throws(() => s.listen({ hostname: "10.9.0.7", port: 1 }), Deno.errors.AddrNotAvailable);
  assert.throws(
    () => s.listenDatagram({ hostname: "10.9.0.7", port: 1 }),
    Deno.errors.AddrNotAvailable,
  );
});

Deno.test("loopback: UDP to 127.0.0.1 and to our address, port 0 bound and reported", async () => {
  await using s = await lone();
  using a = s.listenDatagram({ port: 0 });
  using b = s.listenDatagram({ port: 0, hostname: "127.0.0.1" });
  assert.ok(a.addr.port >= 49152 && b.addr.port >= 49152 && a.addr.port !== b.addr.port);
  assert.equal(b.addr.hostname, "127.0.0.1");
  await a.send(new Uint8Array([1, 2, 3]), {
    transport: "udp",
    hostname: "127.0.0.1",
    port: b.addr.port,
  });
  const [d1, from1] = await b.receive();
  assert.deepEqual([...d1], [1, 2, 3]);
  assert.deepEqual(from1, { transport: "udp", hostname: "127.0.0.1", port: a.addr.port });
  await b.send(new Uint8Array([4]), from1);
  const [d2, from2] = await a.receive();
  assert.deepEqual([...d2], [4]);
  assert.deepEqual(from2, { transport: "udp", hostname: "127.0.0.1", port: b.addr.port });
  // To our own address; a datagram of 20000 bytes is fragmented and reassembled.
  const big = new Uint8Array(20000).map((_, i) => i & 255);
  await b.send(big, { transport: "udp", hostname: "10.9.0.2", port: a.addr.port });
  const [d3, from3] = await a.receive();
  assert.equal(sha(d3), sha(big));
  assert.equal(from3.hostname, "127.0.0.1"); // b is bound to 127.0.0.1
  const st = s.stats();
  assert.ok(st["udp-in"]! >= 3 && st["udp-out"]! >= 3 && st["loopback-frames"]! >= 16);
});

Deno.test("listen port 0: many listeners get distinct free ports; taken ports are skipped", async () => {
  await using s = await lone();
  const ls = Array.from({ length: 50 }, () => s.listen({ port: 0 }));
  const ports = new Set(ls.map((l) => l.addr.port));
  assert.equal(ports.size, 50);
  for (const l of ls) l.close();
  assert.throws(() => s.listen({ port: -1 }), RangeError);
  assert.throws(() => s.listen({ port: 65536 }), RangeError);
});

Deno.test("loopback: a stack's 127.0.0.1 is its own, never its neighbour's", async () => {
  const [la, lb] = createMemoryLinkPair();
  await using a = await createStack({ link: la, address: "10.9.0.1/24", engine: "js" });
  await using b = await createStack({ link: lb, address: "10.9.0.2/24", engine: "js" });
  using l = b.listen({ port: 7 });
  // a connecting to its own 127.0.0.1 never reaches b.
  await assert.rejects(
    a.connect({ hostname: "127.0.0.1", port: 7 }),
    Deno.errors.ConnectionRefused,
  );
  assert.equal(b.stats()["tcp-in"] ?? 0, 0);
  const acc = l.accept();
  const c = await a.connect({ hostname: "10.9.0.2", port: 7 });
  (await acc).close();
  c.close();
});

Deno.test("loopback queue limit: a burst beyond loopbackQueueFrames is dropped and counted", async () => {
  const [link] = createMemoryLinkPair();
  await using s = await createStack({
    link,
    address: "10.9.0.2/24",
    engine: "js",
    limits: { loopbackQueueFrames: 4, udpQueueDatagrams: 64 },
  });
  using a = s.listenDatagram({ port: 0 });
  using b = s.listenDatagram({ port: 0 });
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port: b.addr.port };
  // Sent in one go, before the driver runs: 4 fit the queue, 6 are dropped.
  await Promise.all(Array.from({ length: 10 }, (_, i) => a.send(new Uint8Array([i]), to)));
  for (let i = 0; i < 4; i++) assert.deepEqual([...(await b.receive())[0]], [i]);
  const st = s.stats();
  assert.equal(st["loopback-queue-full"], 6);
  assert.equal(st["loopback-frames"], 4);
  // The queue drains: the next datagram goes through.
  await a.send(new Uint8Array([42]), to);
  assert.deepEqual([...(await b.receive())[0]], [42]);
});
