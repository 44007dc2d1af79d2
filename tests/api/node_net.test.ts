/**
 * `stack.nodeNet()`, the node:net-compatible module, between two stacks on a memory link:
 * echo with half-close, addresses, `setTimeout`, `destroy` (FIN) and `destroy(err)` (RST),
 * refused connects, `setNoDelay`/`setKeepAlive`; and unchanged npm/node clients over it:
 * node:http with a keep-alive agent, node:https, and `ws` (pinned in deno.json).
 */
import assert from "node:assert/strict";
import http from "node:http";
import https from "node:https";
import tls from "node:tls";
// @ts-types="npm:@types/ws@8.18.1"
import { WebSocket, WebSocketServer } from "ws";
import { A, B, stackPair } from "../support/http_env.ts";
import { makeTestCerts } from "../support/tls_certs.ts";
import type { StackSocket } from "../../mod.ts";

function collect(s: StackSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    s.setEncoding("utf8");
    s.on("data", (c: string) => text += c).on("end", () => resolve(text)).on("error", reject);
  });
}

Deno.test("node net: echo with half-close, addresses, options", async () => {
  await using s = await stackPair();
  const server = s.b.nodeNet().createServer({ allowHalfOpen: true }, (sock) => {
    let got = "";
    sock.setEncoding("utf8");
    sock.on("data", (c: string) => got += c);
    // The client half-closed: we can still answer, then close our side.
    sock.on("end", () => sock.end(`echo:${got} from ${sock.remoteAddress}`));
  });
  await new Promise<void>((r) => server.listen(7000, B, r));
  assert.deepEqual(server.address(), { address: B, family: "IPv4", port: 7000 });
  const net = s.a.nodeNet();
  const sock = net.connect({ port: 7000, host: B, noDelay: true, keepAlive: true });
  await new Promise<void>((r) => sock.once("connect", r));
  assert.equal(sock.remoteAddress, B);
  assert.equal(sock.remotePort, 7000);
  assert.equal(sock.localAddress, A);
  assert.equal(sock.address().port, sock.localPort);
  assert.equal(sock.setNoDelay(false), sock);
  assert.equal(sock.setKeepAlive(true, 1000), sock);
  const closed = new Promise((r) => sock.once("close", r));
  sock.write("hello ");
  sock.end("world");
  // net.Socket's default (allowHalfOpen false) would end our side at the peer's FIN anyway.
  assert.equal(await collect(sock), `echo:hello world from ${A}`);
  assert.ok(sock.bytesWritten >= 11);
  await closed;
  await new Promise((r) => server.close(r));
  assert.equal(server.listening, false);
  assert.equal(net.isIP(B), 4);
});

Deno.test("node net: setTimeout, destroy (FIN) and destroy(err) (RST), refused", async () => {
  await using s = await stackPair();
  const accepted: StackSocket[] = [];
  const server = s.b.nodeNet().createServer((sock) => accepted.push(sock)).listen(7001);
  const net = s.a.nodeNet();
  const idle = net.connect(7001, B);
  const t0 = performance.now();
  await new Promise<void>((r) => idle.setTimeout(80, r));
  assert.ok(performance.now() - t0 >= 70, "timeout fired early");
  assert.equal(idle.destroyed, false, "a timeout does not close the socket");
  idle.setTimeout(0);
  const peerEnd = new Promise((r) => accepted[0]!.once("end", r));
  idle.destroy();
  await peerEnd; // a plain destroy closes with FIN: the peer sees the end of stream
  const victim = net.connect(7001, B);
  await new Promise((r) => victim.once("connect", r));
  while (accepted.length < 2) await new Promise((r) => setTimeout(r, 5));
  const peerError = new Promise<Error>((r) => accepted[1]!.once("error", r));
  victim.on("error", () => {}); // destroy(err) reports err on the socket itself
  victim.destroy(new Error("test abort"));
  assert.ok((await peerError) instanceof Deno.errors.ConnectionReset);
  const refused = net.connect(7999, B);
  const err = await new Promise<Error>((r) => refused.once("error", r));
  assert.ok(err instanceof Deno.errors.ConnectionRefused, String(err));
  assert.throws(() => net.connect(70000, B), RangeError);
  server.close();
});

Deno.test("node net: node:http with a keep-alive agent, unchanged", async () => {
  await using s = await stackPair();
  const seen = new Set<number>();
  const httpServer = http.createServer((req, res) => {
    seen.add(req.socket.remotePort!);
    let n = 0;
    req.on("data", (c) => n += c.length).on("end", () => res.end(`${req.method} ${n}`));
  });
  const tcp = s.b.nodeNet().attachServer(httpServer, { port: 80 });
  const net = s.a.nodeNet();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  Object.assign(agent, { createConnection: net.createConnection });
  for (let i = 0; i < 5; i++) {
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: B, port: 80, method: "POST", agent }, (res) => {
        let text = "";
        res.on("data", (c) => text += c).on("end", () => resolve(text));
      });
      req.on("error", reject);
      req.end("x".repeat(1000 * i));
    });
    assert.equal(body, `POST ${1000 * i}`);
  }
  assert.equal(seen.size, 1, "five requests on one kept-alive connection");
  agent.destroy();
  tcp.closeAllConnections();
  await new Promise((r) => tcp.close(r));
});

Deno.test("node net: node:https server and client over the stack", async () => {
  const certs = await makeTestCerts([B]);
  try {
    await using s = await stackPair();
    const server = https.createServer(
      { cert: certs.cert, key: certs.key },
      (req, res) => res.end(`secure ${req.url}`),
    );
    const tcp = s.b.nodeNet().attachServer(server, { port: 443 });
    const net = s.a.nodeNet();
    const body = await new Promise<string>((resolve, reject) => {
      https.get({
        host: B,
        path: "/x",
        createConnection: () =>
          tls.connect({ socket: net.connect(443, B) as never, ca: certs.ca, host: B }),
      }, (res) => {
        let text = "";
        res.on("data", (c) => text += c).on("end", () => resolve(text));
      }).on("error", reject);
    });
    assert.equal(body, "secure /x");
    tcp.closeAllConnections();
    await new Promise((r) => tcp.close(r));
  } finally {
    await certs.cleanup();
  }
});

Deno.test("node net: npm ws echo over the stack", async () => {
  await using s = await stackPair();
  const httpServer = http.createServer();
  const wss = new WebSocketServer({ server: httpServer });
  wss.on("connection", (ws) => ws.on("message", (m, binary) => ws.send(m, { binary })));
  const tcp = s.b.nodeNet().attachServer(httpServer, { port: 8080 });
  const net = s.a.nodeNet();
  const ws = new WebSocket(`ws://${B}:8080/chat`, {
    createConnection: net.createConnection as never,
  });
  await new Promise((r, j) => ws.once("open", r).once("error", j));
  const got: string[] = [];
  const all = new Promise<void>((r) =>
    ws.on("message", (m) => {
      got.push(String(m));
      if (got.length === 3) r();
    })
  );
  ws.send("one");
  ws.send("two");
  ws.send("x".repeat(200_000));
  await all;
  assert.deepEqual(got.slice(0, 2), ["one", "two"]);
  assert.equal(got[2]!.length, 200_000);
  const closed = new Promise<number>((r) => ws.once("close", r));
  ws.close(1000);
  assert.equal(await closed, 1000);
  await new Promise((r) => wss.close(r));
  tcp.closeAllConnections();
  await new Promise((r) => tcp.close(r));
});
