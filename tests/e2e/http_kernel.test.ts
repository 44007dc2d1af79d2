/**
 * HTTP and TLS over TAP against real Linux tools in a namespace that each test creates and
 * deletes: kernel `curl` and `ab -k` against `stack.serve` (GET and POST of 4 MiB, SHA-256
 * checked, chunked upload, 100-continue), `stack.fetch` against `python3 -m http.server` and
 * against `openssl s_server` with a throwaway CA, `connectTls` against `openssl s_server` and
 * `listenTls` against `openssl s_client`, and the failures (refused port, TLS name mismatch,
 * unknown CA, a host name with no resolver) with Deno's error classes.
 *
 * Needs root and /dev/net/tun: skips with the reason elsewhere, fails when TCPIP_REQUIRE_TAP=1.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createStack, type NetStack } from "../../mod.ts";
import { type Netns, requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { pattern } from "../support/interop_env.ts";
import { streamSha } from "../support/http_env.ts";
import { makeTestCerts, type TestCerts } from "../support/tls_certs.ts";

const KERNEL = "10.7.0.1";
const OURS = "10.7.0.2";
const MIB4 = 4 << 20;
const ignore = tapIgnore();
const quiet = { onListen() {} };
/** Every exchange is bounded in time (30 s), also on a loaded machine. */
const bound = () => AbortSignal.timeout(30_000);
const sha = (d: Uint8Array) => createHash("sha256").update(d).digest("hex");

interface Ctx {
  ns: Netns;
  stack: NetStack;
  dir: string;
  certs: TestCerts;
}

async function inNamespace(fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  if (!requireTapOrSkip()) return;
  const certs = await makeTestCerts([KERNEL, OURS], ["kernel.test"]);
  const dir = await Deno.makeTempDir({ prefix: "dtcp-http-" });
  try {
    await withTapNamespace({ kernelAddr: `${KERNEL}/24` }, async ({ ns, link }) => {
      const stack = await createStack({ link, address: `${OURS}/24` });
      try {
        await fn({ ns, stack, dir, certs });
      } finally {
        await stack.close();
      }
    });
  } finally {
    await certs.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Run a shell command in the namespace; its stdout, or a failure with its stderr. */
async function sh(ns: Netns, script: string): Promise<string> {
  const r = await ns.run(["sh", "-c", script]);
  if (r.code !== 0) throw new Error(`"${script}" exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Wait until a kernel server accepts on `port` (bounded: 5 s). */
async function waitForPort(stack: NetStack, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      (await stack.connect({ hostname: KERNEL, port })).close();
      return;
    } catch (err) {
      if (!(err instanceof Deno.errors.ConnectionRefused)) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`Kernel server on port ${port} never started`);
}

Deno.test({
  name: "http kernel: curl GET/POST 4 MiB (SHA-256), chunked upload, ab -k 0 failures",
  ignore,
  async fn() {
    await inNamespace(async ({ ns, stack, dir }) => {
      const data = pattern(MIB4, 11);
      await Deno.writeFile(`${dir}/up.bin`, data);
      const server = stack.serve({ port: 8080, ...quiet }, async (req) => {
        if (req.method === "GET") return new Response(data as Uint8Array<ArrayBuffer>);
        const got = await streamSha(req.body!);
        return new Response(`${got.sha} ${got.length} ${req.headers.get("expect") ?? "-"}\n`);
      });
      const url = `http://${OURS}:8080/file`;
      const got = await sh(ns, `curl -sS --fail ${url} | sha256sum`);
      assert.equal(got.split(" ")[0], sha(data), "GET body differs");
      // curl sends "Expect: 100-continue" for a body this large and waits for the 100.
      const post = await sh(ns, `curl -sS --fail --data-binary @${dir}/up.bin ${url}`);
      assert.equal(post.trim(), `${sha(data)} ${MIB4} 100-continue`);
      const chunked = await sh(
        ns,
        `curl -sS --fail -H 'Transfer-Encoding: chunked' -H 'Expect:' --data-binary @${dir}/up.bin ${url}`,
      );
      assert.equal(chunked.trim(), `${sha(data)} ${MIB4} -`);
      await server.shutdown();
      const small = stack.serve(
        { port: 8081, ...quiet },
        () => new Response("hello from the stack\n"),
      );
      const ab = await sh(ns, `ab -k -c 20 -n 2000 http://${OURS}:8081/ 2>&1`);
      const field = (name: string) => Number(ab.match(new RegExp(`${name}:\\s+(\\d+)`))?.[1]);
      assert.equal(field("Complete requests"), 2000, ab);
      assert.equal(field("Failed requests"), 0, ab);
      assert.equal(field("Non-2xx responses") || 0, 0, ab);
      assert.equal(field("Keep-Alive requests"), 2000, ab);
      await small.shutdown();
    });
  },
});

Deno.test({
  name: "http kernel: fetch from python3 -m http.server, 4 MiB SHA-256, 404, refused",
  ignore,
  async fn() {
    await inNamespace(async ({ ns, stack, dir }) => {
      const data = pattern(MIB4, 12);
      await Deno.writeFile(`${dir}/file.bin`, data);
      ns.spawn(["python3", "-m", "http.server", "8000", "--bind", KERNEL, "--directory", dir]);
      await waitForPort(stack, 8000);
      const res = await stack.fetch(`http://${KERNEL}:8000/file.bin`, { signal: bound() });
      assert.equal(res.status, 200);
      const got = await streamSha(res.body!);
      assert.equal(got.length, MIB4);
      assert.equal(got.sha, sha(data));
      const missing = await stack.fetch(`http://${KERNEL}:8000/nope`);
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
      await assert.rejects(
        stack.fetch(`http://${KERNEL}:1/`),
        (e: Error) =>
          e instanceof TypeError && e.cause instanceof Deno.errors.ConnectionRefused &&
          e.message.includes(`Connection refused by ${KERNEL}:1`),
      );
      await assert.rejects(
        stack.fetch("http://no-such-host.test/"),
        (e: Error) =>
          e instanceof TypeError && e.cause instanceof Deno.errors.NotFound &&
          e.message.includes("no-such-host.test"),
      );
    });
  },
});

Deno.test({
  name: "http kernel: fetch from openssl s_server (throwaway CA), name mismatch, unknown CA",
  ignore,
  async fn() {
    await inNamespace(async ({ ns, stack, dir, certs }) => {
      const data = pattern(1 << 20, 13);
      await Deno.writeFile(`${dir}/page.bin`, data);
      // -WWW serves files from the working directory with an HTTP/1.0 answer whose body ends
      // when the connection closes.
      ns.spawn([
        "sh",
        "-c",
        `cd ${dir} && exec openssl s_server -quiet -accept ${KERNEL}:4433 -cert ${certs.dir}/server.pem -key ${certs.dir}/server.key -WWW`,
      ]);
      await waitForPort(stack, 4433);
      const res = await stack.fetch(`https://${KERNEL}:4433/page.bin`, {
        caCerts: [certs.ca],
        signal: bound(),
      });
      assert.equal(res.status, 200);
      assert.equal((await streamSha(res.body!)).sha, sha(data));
      await assert.rejects(
        stack.fetch(`https://${KERNEL}:4433/page.bin`, { caCerts: [certs.otherCa] }),
        (e: Error) => e instanceof TypeError && e.cause instanceof Deno.errors.InvalidData,
      );
      const plain = await stack.connect({ hostname: KERNEL, port: 4433 });
      const wrong = await stack.startTls(plain, { hostname: "wrong.test", caCerts: [certs.ca] });
      await assert.rejects(
        wrong.handshake(),
        (e: Error) => e instanceof Deno.errors.InvalidData && e.message.includes("wrong.test"),
      );
      wrong.close();
    });
  },
});

Deno.test({
  name: "http kernel: connectTls to openssl s_server (ALPN), listenTls for openssl s_client",
  ignore,
  async fn() {
    await inNamespace(async ({ ns, stack, certs }) => {
      // s_server -rev answers each line reversed.
      ns.spawn([
        "openssl",
        "s_server",
        "-quiet",
        "-accept",
        `${KERNEL}:4434`,
        "-cert",
        `${certs.dir}/server.pem`,
        "-key",
        `${certs.dir}/server.key`,
        "-alpn",
        "rev/1",
        "-rev",
      ]);
      await waitForPort(stack, 4434);
      const conn = await stack.connectTls({
        hostname: KERNEL,
        port: 4434,
        caCerts: [certs.ca],
        alpnProtocols: ["rev/1"],
      });
      assert.deepEqual(await conn.handshake(), { alpnProtocol: "rev/1" });
      await conn.write(new TextEncoder().encode("hello tls\n"));
      const buf = new Uint8Array(256);
      let text = "";
      while (!text.includes("slt olleh")) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      assert.match(text, /slt olleh/);
      conn.close();

      const listener = stack.listenTls({
        port: 4443,
        cert: certs.cert,
        key: certs.key,
        alpnProtocols: ["x/1"],
      });
      const served = (async () => {
        const c = await listener.accept();
        const info = await c.handshake();
        let line = "";
        const b = new Uint8Array(256);
        while (!line.includes("\n")) {
          const n = await c.read(b);
          if (n === null) break;
          line += new TextDecoder().decode(b.subarray(0, n));
        }
        await c.write(new TextEncoder().encode(`echo:${line.trim()}:${info.alpnProtocol}\n`));
        await c.closeWrite();
        c.close();
      })();
      const out = await sh(
        ns,
        `(echo ping; sleep 2) | openssl s_client -quiet -connect ${OURS}:4443 -CAfile ${certs.dir}/ca.pem -verify_return_error -verify_ip ${OURS} -alpn x/1 2>/dev/null`,
      );
      await served;
      assert.equal(out.trim(), "echo:ping:x/1");
      listener.close();
    });
  },
});
