/**
 * `stack.fetch` between two stacks on a memory link: redirects (every status, modes, limit,
 * cross-origin Authorization), streamed request bodies, HEAD and 204, `signal` at each stage,
 * and every bad input (bad URL, unsupported scheme, refused port, non-IP host without a
 * resolver) rejecting with a TypeError whose cause is Deno's error class.
 */
import assert from "node:assert/strict";
import { B, stackPair } from "../support/http_env.ts";

const enc = new TextEncoder();
const quiet = { onListen() {} };

Deno.test("http fetch: redirects follow the Fetch standard", async () => {
  await using s = await stackPair();
  const seen: string[] = [];
  const server = s.b.serve({ port: 80, ...quiet }, async (req) => {
    const url = new URL(req.url);
    const body = req.body ? await req.text() : "";
    seen.push(`${req.method} ${url.pathname} ${body} ${req.headers.get("authorization") ?? "-"}`);
    const m = url.pathname.match(/^\/r(\d{3})$/);
    if (m) return new Response(null, { status: Number(m[1]), headers: { location: "/final" } });
    if (url.pathname === "/loop") return Response.redirect(`http://${B}/loop`, 302);
    if (url.pathname === "/other") {
      return Response.redirect(`http://${B}:81/final`, 307);
    }
    return new Response(`final ${req.method} ${body}`);
  });
  const other = s.b.serve({ port: 81, ...quiet }, (req) => {
    seen.push(`81 ${req.headers.get("authorization") ?? "-"}`);
    return new Response("other origin");
  });
  for (const [status, method, body] of [[301, "GET", ""], [302, "GET", ""], [303, "GET", ""]]) {
    const res = await s.a.fetch(`http://${B}/r${status}`, { method: "POST", body: "data" });
    assert.equal(await res.text(), `final ${method} ${body}`);
    assert.equal(res.redirected, true);
    assert.equal(res.url, `http://${B}/final`);
  }
  for (const status of [307, 308]) {
    const res = await s.a.fetch(`http://${B}/r${status}`, { method: "POST", body: "data" });
    assert.equal(await res.text(), "final POST data", `${status} keeps method and body`);
  }
  const manual = await s.a.fetch(`http://${B}/r302`, { redirect: "manual" });
  assert.equal(manual.status, 302);
  assert.equal(manual.headers.get("location"), "/final");
  await manual.body?.cancel();
  await assert.rejects(s.a.fetch(`http://${B}/r301`, { redirect: "error" }), TypeError);
  await assert.rejects(s.a.fetch(`http://${B}/loop`), /more than 20 redirects/);
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(enc.encode("x"));
      c.close();
    },
  });
  await assert.rejects(
    s.a.fetch(`http://${B}/r307`, { method: "POST", body: stream }),
    /streamed body/,
  );
  seen.length = 0;
  const cross = await s.a.fetch(`http://${B}/other`, { headers: { authorization: "secret" } });
  assert.equal(await cross.text(), "other origin");
  assert.deepEqual(seen, ["GET /other  secret", "81 -"], "Authorization dropped across origins");
  await server.shutdown();
  await other.shutdown();
});

Deno.test("http fetch: streamed upload, HEAD, 204, headers both ways", async () => {
  await using s = await stackPair();
  const server = s.b.serve({ port: 80, ...quiet }, async (req) => {
    if (req.url.endsWith("/empty")) return new Response(null, { status: 204 });
    const text = req.body ? await req.text() : "";
    const headers = new Headers({ "x-got": req.headers.get("x-mine") ?? "" });
    headers.append("set-cookie", "a=1");
    headers.append("set-cookie", "b=2");
    return new Response(`${req.headers.get("transfer-encoding")} ${text.length}`, { headers });
  });
  let n = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (n++ === 50) c.close();
      else c.enqueue(new Uint8Array(10_000).fill(65));
    },
  });
  const res = await s.a.fetch(`http://${B}/up`, {
    method: "PUT",
    body,
    headers: { "x-mine": "v" },
  });
  assert.equal(await res.text(), "chunked 500000");
  assert.equal(res.headers.get("x-got"), "v");
  assert.deepEqual(res.headers.getSetCookie(), ["a=1", "b=2"]);
  const head = await s.a.fetch(`http://${B}/up`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.body, null);
  assert.equal(head.headers.get("content-length"), "6"); // "null 0"
  const empty = await s.a.fetch(`http://${B}/empty`);
  assert.equal(empty.status, 204);
  assert.equal(await empty.text(), "");
  await server.shutdown();
});

Deno.test("http fetch: signal aborts before, while waiting, and while reading", async () => {
  await using s = await stackPair();
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const server = s.b.serve({ port: 80, ...quiet }, async (req) => {
    if (req.url.endsWith("/slow")) {
      await gate;
      return new Response("late");
    }
    // A body that never ends.
    return new Response(
      new ReadableStream({
        pull: (c) =>
          new Promise((r) =>
            setTimeout(() => {
              try {
                c.enqueue(enc.encode("tick"));
              } catch { /* cancelled meanwhile */ }
              r();
            }, 5)
          ),
      }),
    );
  });
  await assert.rejects(
    s.a.fetch(`http://${B}/`, { signal: AbortSignal.abort() }),
    (e: DOMException) => e.name === "AbortError",
  );
  const ac = new AbortController();
  const waiting = s.a.fetch(`http://${B}/slow`, { signal: ac.signal });
  setTimeout(() => ac.abort(), 30);
  await assert.rejects(waiting, (e: DOMException) => e.name === "AbortError");
  release();
  const ac2 = new AbortController();
  const res = await s.a.fetch(`http://${B}/endless`, { signal: ac2.signal });
  const reader = res.body!.getReader();
  assert.equal((await reader.read()).done, false);
  ac2.abort();
  await assert.rejects(async () => {
    for (let i = 0; i < 1000; i++) if ((await reader.read()).done) return;
  });
  await server.shutdown();
});

Deno.test("http fetch: bad inputs give TypeError with Deno's class as the cause", async () => {
  await using s = await stackPair();
  await assert.rejects(
    s.a.fetch("not a url"),
    (e: Error) => e instanceof TypeError && /Invalid URL/.test(e.message),
  );
  await assert.rejects(
    s.a.fetch(`ftp://${B}/`),
    (e: Error) => e instanceof TypeError && e.message === "scheme 'ftp' is not supported",
  );
  await assert.rejects(
    s.a.fetch(`http://${B}:81/`),
    (e: Error) =>
      e instanceof TypeError && e.cause instanceof Deno.errors.ConnectionRefused &&
      e.message ===
        `error sending request for url (http://${B}:81/): Connection refused by ${B}:81`,
  );
  // No DNS server is configured: the name fails clearly, before anything is sent.
  await assert.rejects(
    s.a.fetch("http://example.invalid/"),
    (e: Error) =>
      e instanceof TypeError && e.cause instanceof Deno.errors.NotFound &&
      /example\.invalid/.test(e.message),
  );
  await assert.rejects(
    s.a.connectTls({ hostname: "example.invalid", port: 443 }),
    Deno.errors.NotFound,
  );
});
