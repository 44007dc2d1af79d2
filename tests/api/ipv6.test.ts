/**
 * TCP and UDP over IPv6 through the public API, two stacks on a memory link (fd00::1 and
 * fd00::2, both engines): the handshake and 1 MiB each way (SHA-256), addresses reported as
 * Deno does ({ hostname: "fd00::2" }, no brackets), MSS 1440 on the SYN and 1428 in
 * `conn.info()` at MTU 1500; dual-stack listeners (no hostname and "::" take both families,
 * "0.0.0.0" IPv4 only, an IPv6 address only that address); UDP both ways; loopback to ::1
 * and our own address; `fetch("http://[fd00::2]:PORT/")` against `stack.serve`; the trace;
 * TLS to an IPv6 address; clear errors for bad literals.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createMemoryLinkPair, createStack, type NetStack } from "../../mod.ts";
import { makeTestCerts } from "../support/tls_certs.ts";
import { SegmentDecoder } from "../../src/api/trace_segment.ts";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { parseIpv6 } from "../../src/wire/ipv6_address.ts";
import {
  D_DST_PORT,
  D_IP_TTL,
  D_KIND,
  D_OPT_MSS,
  D_OPT_WS,
  D_SRC_PORT,
  D_TCP_FLAGS,
  D_TCP_SEQ,
  D_VLAN,
  K_TCP6,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function pair(engine: "js" | "wasm" = "wasm") {
  const [la, lb] = createMemoryLinkPair();
  const a = await createStack({ link: la, address: ["10.9.0.1/24", "fd00::1/64"], engine });
  const b = await createStack({ link: lb, address: ["10.9.0.2/24", "fd00::2/64"], engine });
  return {
    a,
    b,
    async [Symbol.asyncDispose]() {
      await a.close();
      await b.close();
    },
  };
}

async function readAll(r: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(r).arrayBuffer());
}

/** Whether a connect from `from` to `host:port` is accepted (true) or refused (false). */
async function reaches(from: NetStack, hostname: string, port: number): Promise<boolean> {
  try {
    (await from.connect({ hostname, port })).close();
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.ConnectionRefused) return false;
    throw err;
  }
}

for (const engine of ["js", "wasm"] as const) {
  Deno.test(`ipv6 api (${engine}): handshake, 1 MiB each way, addresses, MSS 1440`, async () => {
    await using p = await pair(engine);
    const { a, b } = p;
    const trace = a.trace();
    using listener = b.listen({ port: 8080 });
    assert.deepEqual(listener.addr, { transport: "tcp", hostname: "0.0.0.0", port: 8080 });
    const accepted = listener.accept();
    const conn = await a.connect({ hostname: "fd00::2", port: 8080 });
    const peer = await accepted;
    assert.deepEqual(conn.remoteAddr, { transport: "tcp", hostname: "fd00::2", port: 8080 });
    assert.equal(conn.localAddr.hostname, "fd00::1");
    assert.deepEqual(peer.remoteAddr, conn.localAddr);
    assert.deepEqual(peer.localAddr, conn.remoteAddr);
    // ::1, the link-local address and fd00::1 pinned; the peer held by the open connection.
    assert.equal(a.stats()["ip6-address-table-entries"], 4);
    const up = new Uint8Array(1 << 20).map((_, i) => (i * 7 + 3) & 255);
    const down = new Uint8Array(1 << 20).map((_, i) => (i * 13 + 1) & 255);
    const [, gotUp, , gotDown] = await Promise.all([
      (async () => {
        const w = conn.writable.getWriter();
        await w.write(up);
        await w.close();
      })(),
      readAll(peer.readable),
      (async () => {
        const w = peer.writable.getWriter();
        await w.write(down);
        await w.close();
      })(),
      readAll(conn.readable),
    ]);
    assert.equal(sha(gotUp), sha(up));
    assert.equal(sha(gotDown), sha(down));
    assert.equal(conn.info().mss, 1500 - 60 - 12); // RFC 8201 4: MTU - 60, less timestamps
    const events = [];
    for await (const ev of trace) {
      if (ev.type === "segment") events.push(ev);
      if (events.length === 2) break;
    }
    const [syn, synAck] = events;
    assert.equal(syn!.local, conn.localAddr.hostname && `[fd00::1]:${conn.localAddr.port}`);
    assert.equal(syn!.remote, "[fd00::2]:8080");
    assert.equal(syn!.options.mss, 1440);
    assert.equal(synAck!.options.mss, 1440);
  });
}

Deno.test("ipv6 api: dual-stack listeners (none, '::', '0.0.0.0', an IPv6 address)", async () => {
  await using p = await pair();
  const { a, b } = p;
  const any = b.listen({ port: 1 });
  assert(await reaches(a, "10.9.0.2", 1));
  assert(await reaches(a, "fd00::2", 1));
  any.close();
  const v6any = b.listen({ port: 2, hostname: "::" });
  assert.equal(v6any.addr.hostname, "::");
  assert(await reaches(a, "10.9.0.2", 2));
  assert(await reaches(a, "fd00::2", 2));
  assert.throws(() => b.listen({ port: 2, hostname: "0.0.0.0" }), Deno.errors.AddrInUse);
  v6any.close();
  const v4 = b.listen({ port: 3, hostname: "0.0.0.0" });
  assert(await reaches(a, "10.9.0.2", 3));
  assert(!await reaches(a, "fd00::2", 3));
  const v6beside = b.listen({ port: 3, hostname: "fd00::2" }); // no overlap with 0.0.0.0
  assert(await reaches(a, "fd00::2", 3));
  v6beside.close();
  v4.close();
  const one = b.listen({ port: 4, hostname: "fd00::2" });
  assert.equal(one.addr.hostname, "fd00::2");
  assert(await reaches(a, "fd00::2", 4));
  assert(!await reaches(a, "10.9.0.2", 4));
  one.close();
  assert.throws(() => b.listen({ port: 5, hostname: "fd00::9" }), Deno.errors.AddrNotAvailable);
  assert.throws(() => b.listen({ port: 5, hostname: "fd00::zz" }), TypeError);
  await assert.rejects(a.connect({ hostname: "1::2::3", port: 5 }), TypeError);
  assert.equal(await a.resolveHost("[FD00:0::1]"), "fd00::1");
  assert.equal(await a.resolveHost("fd00::2"), "fd00::2");
});

Deno.test("ipv6 api: UDP both ways, loopback to ::1 and our own address", async () => {
  await using p = await pair();
  const { a, b } = p;
  const sb = b.listenDatagram({ port: 5353 });
  const sa = a.listenDatagram({ port: 0 });
  await sa.send(new TextEncoder().encode("ping"), {
    transport: "udp",
    hostname: "fd00::2",
    port: 5353,
  });
  const [d, from] = await sb.receive();
  assert.equal(new TextDecoder().decode(d), "ping");
  assert.deepEqual(from, { transport: "udp", hostname: "fd00::1", port: sa.addr.port });
  await sb.send(new TextEncoder().encode("pong"), from);
  const [d2, from2] = await sa.receive();
  assert.equal(new TextDecoder().decode(d2), "pong");
  assert.equal(from2.hostname, "fd00::2");
  // Larger than the path MTU: sent in fragments (RFC 8200 4.5) and reassembled, both ways;
  // beyond the IPv6 payload length a RangeError.
  for (const size of [1453, 2000, 65527]) {
    const big = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff);
    await sa.send(big, { transport: "udp", hostname: "fd00::2", port: 5353 });
    const [got, at] = await sb.receive();
    assert.equal(sha(got), sha(big));
    await sb.send(big, at);
    assert.equal(sha((await sa.receive())[0]), sha(big));
  }
  assert.ok(a.stats()["ip6-fragments-out"]! >= 2 + 2 + 46);
  assert.equal(b.stats()["ip6-reassembled"], 3);
  await assert.rejects(
    sa.send(new Uint8Array(65528), { transport: "udp", hostname: "fd00::2", port: 5353 }),
    RangeError,
  );
  sa.close();
  sb.close();
  // To ::1: fragmented on the loopback path and reassembled too.
  const l1 = a.listenDatagram({ port: 0, hostname: "::1" });
  const l2 = a.listenDatagram({ port: 0, hostname: "::1" });
  const big = Uint8Array.from({ length: 9000 }, (_, i) => i & 0xff);
  await l2.send(big, { transport: "udp", hostname: "::1", port: l1.addr.port });
  assert.equal(sha((await l1.receive())[0]), sha(big));
  l1.close();
  l2.close();
  // "0.0.0.0" is IPv4 only: a datagram to fd00::2 gets a port unreachable, not this socket.
  const v4only = b.listenDatagram({ port: 5354, hostname: "0.0.0.0" });
  const sc = a.listenDatagram({ port: 0 });
  await sc.send(new Uint8Array([1]), { transport: "udp", hostname: "fd00::2", port: 5354 });
  await sc.send(new Uint8Array([2]), { transport: "udp", hostname: "10.9.0.2", port: 5354 });
  const [only] = await v4only.receive();
  assert.deepEqual([...only], [2]);
  assert.equal(b.stats()["udp6-no-socket"], 1);
  v4only.close();
  sc.close();
  for (const host of ["::1", "fd00::1"]) {
    using l = a.listen({ port: 0 });
    const acc = l.accept();
    const c = await a.connect({ hostname: host, port: l.addr.port });
    const s = await acc;
    assert.equal(c.remoteAddr.hostname, host);
    assert.equal(s.remoteAddr.hostname, host);
    await c.write(new TextEncoder().encode("hi"));
    c.close();
    assert.equal(new TextDecoder().decode(await readAll(s.readable)), "hi");
    s.close();
  }
});

Deno.test("ipv6 api: fetch http://[fd00::2]:PORT/ against stack.serve, node:net family", async () => {
  await using p = await pair();
  const { a, b } = p;
  const body = new Uint8Array(300_000).map((_, i) => i & 255);
  const server = b.serve({ port: 8081, onListen() {} }, (req) => {
    const remote = new URL(req.url).host;
    return new Response(body, { headers: { "x-host": remote } });
  });
  try {
    const res = await a.fetch("http://[fd00::2]:8081/x", { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-host"), "[fd00::2]:8081");
    assert.equal(sha(new Uint8Array(await res.arrayBuffer())), sha(body));
  } finally {
    await server.shutdown();
  }
  const net = b.nodeNet();
  const srv = net.createServer((s) => s.end("ok"));
  await new Promise<void>((r) => srv.listen(8082, "fd00::2", r));
  assert.deepEqual(srv.address(), { address: "fd00::2", family: "IPv6", port: 8082 });
  const c = await a.connect({ hostname: "fd00::2", port: 8082 });
  assert.equal(new TextDecoder().decode(await readAll(c.readable)), "ok");
  c.close();
  await new Promise((r) => srv.close(r));
});

Deno.test("ipv6 api: connectTls to listenTls at fd00::2 (certificate IP SAN), echo", async () => {
  const certs = await makeTestCerts(["fd00::2"]);
  try {
    await using p = await pair();
    const { a, b } = p;
    using listener = b.listenTls({ port: 443, cert: certs.cert, key: certs.key });
    const served = (async () => {
      const conn = await listener.accept();
      await conn.readable.pipeTo(conn.writable);
    })();
    const conn = await a.connectTls({ hostname: "fd00::2", port: 443, caCerts: [certs.ca] });
    assert.equal(conn.remoteAddr.hostname, "fd00::2");
    await conn.write(new TextEncoder().encode("over TLS and IPv6"));
    await conn.closeWrite();
    assert.equal(new TextDecoder().decode(await readAll(conn.readable)), "over TLS and IPv6");
    conn.close();
    await served;
  } finally {
    await certs.cleanup();
  }
});

Deno.test("ipv6 api: the trace decoder reads TCP over IPv6, also with a partial checksum", () => {
  const e = createJsEngine();
  const t = e.txDesc;
  t.fill(0);
  t[D_KIND] = K_TCP6;
  t[D_VLAN] = -1;
  t[D_IP_TTL] = 64;
  t[D_SRC_PORT] = 443;
  t[D_DST_PORT] = 50000;
  t[D_TCP_SEQ] = 1000;
  t[D_TCP_FLAGS] = 0x12;
  t[D_OPT_MSS] = 1440;
  t[D_OPT_WS] = -1;
  e.mem.set(parseIpv6("fd00::2")!, TX_IP6_SRC);
  e.mem.set(parseIpv6("fd00::1")!, TX_IP6_DST);
  const start = e.encode(TX_PAYLOAD_OFF, 0);
  const frame = e.mem.slice(start, TX_PAYLOAD_OFF);
  const dec = new SegmentDecoder();
  const seg = dec.decode(frame, 0, frame.length);
  assert(typeof seg !== "string", String(seg));
  assert.equal(seg.src, "[fd00::2]:443");
  assert.equal(seg.dst, "[fd00::1]:50000");
  assert.equal(seg.options.mss, 1440);
  assert.equal(seg.checksumBad, undefined);
  frame[14 + 40 + 16] = frame[14 + 40 + 16]! ^ 0xff; // a checksum not final (TAP offload)
  const again = dec.decode(frame, 0, frame.length);
  assert(typeof again !== "string", String(again));
  assert.equal(again.checksumBad, true);
  assert.equal(again.seq, 1000);
});
