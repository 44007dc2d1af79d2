/**
 * `stack.serve` between two stacks on a memory link: bodies both ways with SHA-256, keep-alive,
 * chunked request and response bodies seen on the wire, `Expect: 100-continue`, backpressure
 * of a streamed response, malformed requests, handler errors, shutdown, `signal`, HTTPS.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { pattern } from "../support/interop_env.ts";
import { B, readUntil, repeatStream, stackPair, streamSha } from "../support/http_env.ts";
import { makeTestCerts } from "../support/tls_certs.ts";

const enc = new TextEncoder();
const sha = (d: Uint8Array) => createHash("sha256").update(d).digest("hex");
const quiet = { onListen() {} };

Deno.test("http serve: GET and POST of 4 MiB, SHA-256 equal, info and URL", async () => {
  await using s = await stackPair();
  const data = pattern(4 << 20, 7) as Uint8Array<ArrayBuffer>;
  const server = s.b.serve({ port: 8080, ...quiet }, async (req, info) => {
    if (req.method === "GET") return new Response(data);
    const got = await streamSha(req.body!);
    return Response.json({ ...got, url: req.url, from: info.remoteAddr.hostname });
  });
  assert.equal(server.addr.port, 8080);
  const get = await s.a.fetch(`http://${B}:8080/file`);
  assert.equal(get.status, 200);
  assert.equal(get.headers.get("content-length"), String(data.length));
  assert.equal((await streamSha(get.body!)).sha, sha(data));
  const post = await s.a.fetch(`http://${B}:8080/up?x=1`, { method: "POST", body: data });
  const json = await post.json();
  assert.deepEqual(json, {
    sha: sha(data),
    length: data.length,
    url: `http://${B}:8080/up?x=1`,
    from: "10.9.0.1",
  });
  await server.shutdown();
  await server.finished;
});

Deno.test("http serve: keep-alive, chunked bodies both ways, 100-continue on the wire", async () => {
  await using s = await stackPair();
  const server = s.b.serve({ port: 80, ...quiet }, async (req) => {
    const body = req.body ? await req.text() : "";
    if (req.url.endsWith("/stream")) {
      // No content-length: node:http sends it chunked.
      return new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(enc.encode("part1-"));
            c.enqueue(enc.encode("part2"));
            c.close();
          },
        }),
      );
    }
    return new Response(`${req.method} ${body.length} ${body}`);
  });
  using conn = await s.a.connect({ hostname: B, port: 80 });
  // Two requests on one connection (HTTP/1.1 persistent connections, RFC 9112 9.3).
  await conn.write(enc.encode("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  const r1 = await readUntil(conn, (t) => t.endsWith("GET 0 "));
  assert.match(r1, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(r1, /connection: keep-alive/i);
  // A chunked request body (RFC 9112 7.1).
  await conn.write(enc.encode(
    "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
  ));
  const r2 = await readUntil(conn, (t) => t.endsWith("POST 11 hello world"));
  assert.match(r2, /^HTTP\/1\.1 200 OK\r\n/);
  // A streamed response goes out chunked.
  await conn.write(enc.encode("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  const r3 = await readUntil(conn, (t) => t.endsWith("0\r\n\r\n"));
  assert.match(r3, /transfer-encoding: chunked/i);
  assert.match(r3, /\r\n6\r\npart1-\r\n5\r\npart2\r\n0\r\n\r\n$/);
  // Expect: 100-continue (RFC 9110 10.1.1): the interim response comes before the body.
  await conn.write(enc.encode(
    "PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
  ));
  const interim = await readUntil(conn, (t) => t.includes("\r\n\r\n"));
  assert.equal(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  await conn.write(enc.encode("data"));
  const r4 = await readUntil(conn, (t) => t.endsWith("PUT 4 data"));
  assert.match(r4, /^HTTP\/1\.1 200 OK\r\n/);
  conn.close();
  await server.shutdown();
});

Deno.test("http serve: a streamed response is pulled only as fast as the client reads", async () => {
  await using s = await stackPair();
  const total = 64 << 20;
  const src = repeatStream(pattern(65536, 3), total);
  const server = s.b.serve({ port: 80, ...quiet }, () => new Response(src.stream));
  const res = await s.a.fetch(`http://${B}/big`);
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.ok(first.value && first.value.length > 0);
  await new Promise((r) => setTimeout(r, 300));
  // The client stopped reading: only buffers' worth (send ring, receive buffer, stream
  // queues) may have been produced, not the 64 MiB.
  assert.ok(src.pulled() < 8 << 20, `the server produced ${src.pulled()} bytes ahead`);
  let got = first.value.length;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    got += value.length;
  }
  assert.equal(got, total);
  await server.shutdown();
});

Deno.test("http serve: malformed request gets 400, handler errors 500 or onError", async () => {
  await using s = await stackPair();
  const errors: unknown[] = [];
  const server = s.b.serve({
    port: 80,
    ...quiet,
    onError(err) {
      errors.push(err);
      return new Response("custom", { status: 503 });
    },
  }, (req) => {
    if (req.url.endsWith("/throw")) throw new Error("boom");
    return new Response("ok");
  });
  using bad = await s.a.connect({ hostname: B, port: 80 });
  await bad.write(enc.encode("NOT HTTP AT ALL\r\n\r\n"));
  const r = await readUntil(bad, () => false);
  assert.match(r, /^HTTP\/1\.1 400 Bad Request\r\n/);
  using big = await s.a.connect({ hostname: B, port: 80 });
  await big.write(enc.encode(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`));
  assert.match(
    await readUntil(big, () => false),
    /^HTTP\/1\.1 431 Request Header Fields Too Large/,
  );
  const res = await s.a.fetch(`http://${B}/throw`);
  assert.equal(res.status, 503);
  assert.equal(await res.text(), "custom");
  assert.equal((errors[0] as Error).message, "boom");
  await server.shutdown();
  const plain = s.b.serve({ port: 81, ...quiet }, () => {
    throw new Error("expected in this test");
  });
  const origError = console.error;
  console.error = () => {};
  try {
    const r500 = await s.a.fetch(`http://${B}:81/`);
    assert.equal(r500.status, 500);
    assert.equal(await r500.text(), "Internal Server Error");
  } finally {
    console.error = origError;
  }
  await plain.shutdown();
});

Deno.test("http serve: shutdown lets a request in flight finish; signal shuts down", async () => {
  await using s = await stackPair();
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const server = s.b.serve({ port: 80, ...quiet }, async () => {
    await gate;
    return new Response("late");
  });
  const pending = s.a.fetch(`http://${B}/`);
  await new Promise((r) => setTimeout(r, 50));
  const down = server.shutdown();
  await assert.rejects(
    s.a.fetch(`http://${B}/`),
    (e: TypeError) => e instanceof TypeError && e.cause instanceof Deno.errors.ConnectionRefused,
  );
  release();
  assert.equal(await (await pending).text(), "late");
  await down;
  const ac = new AbortController();
  const second = s.b.serve({ port: 81, signal: ac.signal, ...quiet }, () => new Response("x"));
  assert.equal(await (await s.a.fetch(`http://${B}:81/`)).text(), "x");
  ac.abort();
  await second.finished;
  assert.throws(() => s.b.serve({ port: 82, ...quiet }, undefined as never), TypeError);
});

Deno.test("http serve: HTTPS with cert and key, fetched with caCerts", async () => {
  const certs = await makeTestCerts([B]);
  try {
    await using s = await stackPair();
    const server = s.b.serve(
      { port: 443, cert: certs.cert, key: certs.key, ...quiet },
      async (req) => new Response(`secure ${req.url} ${req.body ? (await req.text()).length : 0}`),
    );
    const res = await s.a.fetch(`https://${B}/x`, {
      method: "POST",
      body: "y".repeat(100_000),
      caCerts: [certs.ca],
    });
    assert.equal(await res.text(), `secure https://${B}/x 100000`);
    // Without the CA the certificate is refused, with Deno's class as the cause.
    await assert.rejects(
      s.a.fetch(`https://${B}/x`, { caCerts: [certs.otherCa] }),
      (e: TypeError) => e instanceof TypeError && e.cause instanceof Deno.errors.InvalidData,
    );
    await server.shutdown();
  } finally {
    await certs.cleanup();
  }
});

Deno.test("http serve: port 0 picks a free port; the stack fetches itself over loopback", async () => {
  await using s = await stackPair();
  const server = s.b.serve({ port: 0, ...quiet }, (req) => new Response(new URL(req.url).host));
  assert.ok(server.addr.port > 0, "a port was chosen");
  const port = server.addr.port;
  assert.equal(await (await s.a.fetch(`http://${B}:${port}/`)).text(), `${B}:${port}`);
  assert.equal(await (await s.b.fetch(`http://127.0.0.1:${port}/`)).text(), `127.0.0.1:${port}`);
  await server.shutdown();
});

Deno.test("http serve: a half-sent header is cut off after headersTimeout; others are served", async () => {
  await using s = await stackPair();
  const server = s.b.serve({ port: 81, headersTimeout: 300, ...quiet }, () => new Response("ok"));
  // A client that sends half a request header and stalls.
  using stalled = await s.a.connect({ hostname: B, port: 81 });
  await stalled.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n"));
  // A well-behaved client on a second connection is answered meanwhile.
  const res = await s.a.fetch(`http://${B}:81/`);
  assert.equal(await res.text(), "ok");
  // The stalled connection is closed by the server (EOF or reset), within a bounded time.
  const buf = new Uint8Array(64);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<string>((r) =>
    timer = setTimeout(() => r("still open after 5 s"), 5000)
  );
  const end = await Promise.race([stalled.read(buf).catch(() => null), limit]);
  clearTimeout(timer);
  assert.equal(end, null);
  // A keep-alive connection that answered one request gets a new deadline for the next header.
  using kept = await s.a.connect({ hostname: B, port: 81 });
  await kept.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n"));
  let text = "";
  for (;;) {
    const n = await kept.read(buf).catch(() => null);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  assert.match(text, /^HTTP\/1\.1 200 OK/);
  assert.equal(text.split("HTTP/1.1 200").length, 2); // one answer, then the cut
  assert.throws(
    () => s.b.serve({ port: 82, headersTimeout: 0, ...quiet }, () => new Response()),
    RangeError,
  );
  await server.shutdown();
  await server.finished;
});
