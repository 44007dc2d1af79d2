/**
 * The Deno-compatible socket API over two stacks on a memory link, with the real clock:
 * connect/accept, streams, backpressure, half-close, refused, reset, abort, addresses in use,
 * datagrams, listener iteration, stack shutdown.
 */
import assert from "node:assert/strict";
import { createMemoryLinkPair, createStack, type NetStack } from "../../mod.ts";
import { pattern } from "../support/rng.ts";

const A = "10.9.0.1";
const B = "10.9.0.2";
const enc = new TextEncoder();
const dec = new TextDecoder();

async function pair(
  engine: "js" | "wasm" = "js",
): Promise<{ a: NetStack; b: NetStack; [Symbol.asyncDispose](): Promise<void> }> {
  const [la, lb] = createMemoryLinkPair();
  const a = await createStack({ link: la, address: `${A}/24`, engine });
  const b = await createStack({ link: lb, address: `${B}/24`, engine });
  return {
    a,
    b,
    async [Symbol.asyncDispose]() {
      await a.close();
      await b.close();
    },
  };
}

async function readAll(conn: { read(p: Uint8Array): Promise<number | null> }): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  let total = 0;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    parts.push(buf.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

for (const engine of ["js", "wasm"] as const) {
  Deno.test(`api(${engine}): connect, accept, echo, addresses`, async () => {
    await using s = await pair(engine);
    using listener = s.b.listen({ port: 7 });
    assert.deepEqual(listener.addr, { transport: "tcp", hostname: "0.0.0.0", port: 7 });
    const accepted = listener.accept();
    using conn = await s.a.connect({ hostname: B, port: 7 });
    using peer = await accepted;
    assert.equal(conn.remoteAddr.hostname, B);
    assert.equal(conn.remoteAddr.port, 7);
    assert.equal(conn.localAddr.hostname, A);
    assert.equal(peer.remoteAddr.port, conn.localAddr.port);
    assert.equal(peer.localAddr.hostname, B);
    assert.equal(await conn.write(enc.encode("hello")), 5);
    const buf = new Uint8Array(100);
    const n = await peer.read(buf);
    assert.equal(dec.decode(buf.subarray(0, n!)), "hello");
    await peer.write(buf.subarray(0, n!));
    const m = await conn.read(buf);
    assert.equal(dec.decode(buf.subarray(0, m!)), "hello");
    assert.equal(conn.info().state, "ESTABLISHED");
  });
}

Deno.test("api: 2 MiB through readable/writable streams, byte-exact", async () => {
  await using s = await pair("wasm");
  using listener = s.b.listen({ port: 80 });
  const data = pattern(2 * 1048576, 7);
  const server = (async () => {
    const c = await listener.accept();
    const got = new Uint8Array(await new Response(c.readable).arrayBuffer());
    c.close();
    return got;
  })();
  const conn = await s.a.connect({ hostname: B, port: 80 });
  const w = conn.writable.getWriter();
  for (let off = 0; off < data.length; off += 100_000) {
    await w.write(data.subarray(off, off + 100_000));
  }
  await w.close();
  const got = await server;
  assert.equal(got.length, data.length);
  assert.ok(got.every((v, i) => v === data[i]), "bytes differ");
  conn.close();
});

Deno.test("api: write waits for ring space (backpressure)", async () => {
  await using s = await pair();
  using listener = s.b.listen({ port: 81 });
  const accepted = listener.accept();
  using conn = await s.a.connect({ hostname: B, port: 81, tcp: { sndBuf: 65536 } });
  using peer = await accepted;
  let done = false;
  const big = pattern(1048576, 3);
  const writing = conn.write(big).then((n) => {
    done = true;
    return n;
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(done, false, "write resolved although nobody read");
  const buf = new Uint8Array(65536);
  let total = 0;
  while (total < big.length) {
    const n = await peer.read(buf);
    assert.notEqual(n, null);
    total += n!;
  }
  assert.equal(await writing, big.length);
});

Deno.test("api: half-close each way", async () => {
  await using s = await pair();
  using listener = s.b.listen({ port: 82 });
  const accepted = listener.accept();
  using conn = await s.a.connect({ hostname: B, port: 82 });
  using peer = await accepted;
  await conn.write(enc.encode("request"));
  await conn.closeWrite();
  assert.equal(dec.decode(await readAll(peer)), "request");
  await peer.write(enc.encode("response after the client's FIN"));
  await assert.rejects(conn.write(enc.encode("x")), Deno.errors.BrokenPipe);
  await peer.closeWrite();
  assert.equal(dec.decode(await readAll(conn)), "response after the client's FIN");
});

Deno.test("api: connection refused names the address", async () => {
  await using s = await pair();
  await assert.rejects(
    s.a.connect({ hostname: B, port: 8080 }),
    (e: unknown) =>
      e instanceof Deno.errors.ConnectionRefused &&
      e.message === `Connection refused by ${B}:8080`,
  );
});

Deno.test("api: abort on one side resets the other", async () => {
  await using s = await pair();
  using listener = s.b.listen({ port: 83 });
  const accepted = listener.accept();
  using conn = await s.a.connect({ hostname: B, port: 83 });
  const peer = await accepted;
  const reading = conn.read(new Uint8Array(10));
  peer.abort();
  await assert.rejects(reading, Deno.errors.ConnectionReset);
});

Deno.test("api: an aborted connect rejects with the signal's reason, as Deno", async () => {
  await using s = await pair();
  // 10.9.0.3 does not exist: ARP never answers, so only the signal can end these connects.
  const isName = (name: string) => (e: unknown) => e instanceof DOMException && e.name === name;
  const ac = new AbortController();
  const p = s.a.connect({ hostname: "10.9.0.3", port: 80, signal: ac.signal });
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(p, isName("AbortError"));
  await assert.rejects(
    s.a.connect({ hostname: "10.9.0.3", port: 80, signal: AbortSignal.timeout(20) }),
    isName("TimeoutError"),
  );
  const mine = new Error("my reason");
  const own = new AbortController();
  const q = s.a.connect({ hostname: "10.9.0.3", port: 80, signal: own.signal });
  setTimeout(() => own.abort(mine), 20);
  await assert.rejects(q, (e: unknown) => e === mine);
  await assert.rejects(
    s.a.connect({ hostname: B, port: 80, signal: AbortSignal.abort() }),
    isName("AbortError"),
  );
  assert.equal(s.a.driver.tcp.connectionCount, 0, "every aborted attempt was dropped");
});

Deno.test("api: misuse errors", async () => {
  await using s = await pair();
  using l = s.b.listen({ port: 84 });
  assert.throws(() => s.b.listen({ port: 84 }), Deno.errors.AddrInUse);
  await assert.rejects(s.a.connect({ hostname: "10.9.0.256", port: 1 }), TypeError);
  await assert.rejects(s.a.connect({ hostname: "bad..name", port: 1 }), TypeError);
  // "localhost" is 127.0.0.1 (loopback): nothing listens there.
  await assert.rejects(
    s.a.connect({ hostname: "localhost", port: 1 }),
    Deno.errors.ConnectionRefused,
  );
  await assert.rejects(s.a.connect({ hostname: B, port: 70000 }), RangeError);
  assert.equal(l.addr.port, 84);
});

Deno.test("api: listener iteration ends on close; pending accept rejects", async () => {
  await using s = await pair();
  const listener = s.b.listen({ port: 85 });
  const seen: number[] = [];
  const loop = (async () => {
    for await (const c of listener) {
      seen.push(c.remoteAddr.port);
      c.close();
    }
  })();
  const c1 = await s.a.connect({ hostname: B, port: 85 });
  const c2 = await s.a.connect({ hostname: B, port: 85 });
  while (seen.length < 2) await new Promise((r) => setTimeout(r, 5));
  listener.close();
  await loop;
  assert.deepEqual(seen.sort(), [c1.localAddr.port, c2.localAddr.port].sort());
  await assert.rejects(listener.accept(), Deno.errors.BadResource);
  c1.close();
  c2.close();
});

Deno.test("api: UDP datagrams both ways", async () => {
  await using s = await pair();
  using ua = s.a.listenDatagram({ port: 5000 });
  using ub = s.b.listenDatagram({ port: 5001 });
  assert.equal(ub.addr.port, 5001);
  await ua.send(enc.encode("ping"), { transport: "udp", hostname: B, port: 5001 });
  const [data, from] = await ub.receive();
  assert.equal(dec.decode(data), "ping");
  assert.deepEqual(from, { transport: "udp", hostname: A, port: 5000 });
  await ub.send(enc.encode("pong"), from);
  const buf = new Uint8Array(2);
  const [d2] = await ua.receive(buf);
  assert.equal(dec.decode(d2), "po");
});

Deno.test("api: closing a stack resets its peers and settles pending reads", async () => {
  const [la, lb] = createMemoryLinkPair();
  const a = await createStack({ link: la, address: `${A}/24`, engine: "js" });
  const b = await createStack({ link: lb, address: `${B}/24`, engine: "js" });
  const listener = b.listen({ port: 86 });
  const accepted = listener.accept();
  const conn = await a.connect({ hostname: B, port: 86 });
  const peer = await accepted;
  const peerRead = assert.rejects(peer.read(new Uint8Array(10)), Deno.errors.ConnectionReset);
  const ownRead = assert.rejects(conn.read(new Uint8Array(10)), Deno.errors.BadResource);
  await a.close();
  await ownRead;
  await peerRead;
  const st = b.stats();
  assert.ok(Object.keys(st).length > 0);
  await b.close();
});

Deno.test("api: graceful stack close sends FIN", async () => {
  const [la, lb] = createMemoryLinkPair();
  const a = await createStack({ link: la, address: `${A}/24`, engine: "js" });
  const b = await createStack({ link: lb, address: `${B}/24`, engine: "js" });
  const listener = b.listen({ port: 87 });
  const accepted = listener.accept();
  const conn = await a.connect({ hostname: B, port: 87 });
  const peer = await accepted;
  await conn.write(enc.encode("bye"));
  const reading = readAll(peer);
  const closing = a.close({ mode: "graceful", timeoutMs: 1000 });
  assert.equal(dec.decode(await reading), "bye");
  peer.close();
  await closing;
  listener.close();
  await b.close();
});

/** Code written against Deno's own types, unchanged. */
async function denoEchoServer(listener: Deno.Listener): Promise<void> {
  for await (const conn of listener) {
    await conn.readable.pipeTo(conn.writable);
    return;
  }
}

async function denoClient(conn: Deno.TcpConn, text: string): Promise<string> {
  conn.setNoDelay(true);
  conn.setKeepAlive(true);
  const writer = conn.writable.getWriter();
  await writer.write(enc.encode(text));
  await writer.close();
  return await new Response(conn.readable).text();
}

Deno.test("api: objects type-check and work as Deno.Listener, Deno.TcpConn, Deno.DatagramConn", async () => {
  await using s = await pair();
  const listener: Deno.Listener = s.b.listen({ port: 88 });
  const served = denoEchoServer(listener);
  const conn: Deno.TcpConn = await s.a.connect({ hostname: B, port: 88 });
  assert.equal(await denoClient(conn, "drop-in"), "drop-in");
  await served;
  listener.close();
  const udp: Deno.DatagramConn = s.a.listenDatagram({ port: 9999 });
  await assert.rejects(udp.joinMulticastV4("224.0.0.1", "0.0.0.0"), Deno.errors.NotSupported);
  udp.close();
});

Deno.test("api: createStack options (engine, mac, gateway, pcap) and stats", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dtcp-api-" });
  try {
    const [la, lb] = createMemoryLinkPair();
    const a = await createStack({
      link: la,
      address: `${A}/24`,
      engine: "wasm",
      mac: "02:00:00:00:00:0a",
      gateway: "10.9.0.254",
      pcap: `${dir}/a.pcap`,
    });
    const b = await createStack({ link: lb, address: `${B}/24`, engine: "js" });
    assert.equal(a.mac, "02:00:00:00:00:0a");
    assert.equal(a.address, A);
    assert.equal(a.prefixLength, 24);
    const l = b.listen({ port: 89 });
    const c = await a.connect({ hostname: B, port: 89 });
    const st = a.stats();
    assert.ok(st["frames-out"]! > 0 && st["tcp-connections"] === 1, JSON.stringify(st));
    c.close();
    l.close();
    await a.close();
    await b.close();
    const pcap = await Deno.readFile(`${dir}/a.pcap`);
    assert.ok(pcap.length > 24 + 3 * 16, "the capture holds frames");
    await assert.rejects(createStack({ link: la, address: "10.9.0.1" }), TypeError);
    await assert.rejects(createStack({ link: la, address: "10.9.0.1/24", mac: "zz" }), TypeError);
    await assert.rejects(
      // @ts-expect-error: an unknown engine name
      createStack({ link: la, address: "10.9.0.1/24", engine: "gpu" }),
      TypeError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
