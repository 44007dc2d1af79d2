/**
 * New-user acceptance of `stack.serve` (issue 18) with DEFAULT options over TAP, in a namespace
 * each test creates and deletes: `ab -c 50` with and without keep-alive, slowloris-like clients
 * (half a request header, then silence) while curl keeps working, a 64 KiB header (431), a
 * client that disconnects mid-body, and HTTPS with a throwaway CA through `curl --cacert` and
 * `openssl s_client -alpn h2,http/1.1`.
 */
import assert from "node:assert/strict";
import { createStack, type NetStack } from "../../mod.ts";
import { type Netns, requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { makeTestCerts, type TestCerts } from "../support/tls_certs.ts";

const KERNEL = "10.64.0.1";
const OURS = "10.64.0.2";
const ignore = tapIgnore();
const quiet = { onListen() {} };

async function inNamespace(
  fn: (ctx: { ns: Netns; stack: NetStack; certs: TestCerts }) => Promise<void>,
): Promise<void> {
  if (!requireTapOrSkip()) return;
  const certs = await makeTestCerts([KERNEL, OURS], ["stack.test"]);
  try {
    await withTapNamespace({ kernelAddr: `${KERNEL}/24` }, async ({ ns, link }) => {
      const stack = await createStack({ link, address: `${OURS}/24` });
      try {
        await fn({ ns, stack, certs });
      } finally {
        await stack.close();
      }
    });
  } finally {
    await certs.cleanup();
  }
}

async function sh(ns: Netns, script: string): Promise<string> {
  const r = await ns.run(["sh", "-c", script]);
  if (r.code !== 0) throw new Error(`"${script}" exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function abField(out: string, name: string): number {
  return Number(out.match(new RegExp(`${name}:\\s+(\\d+)`))?.[1] ?? 0);
}

// Python clients: N sockets that send half a request header and stall ("slow"), a 64 KiB header
// ("huge"), and a POST that announces 1 MiB, sends 100 KiB and closes ("cut").
const PY = `
import socket, sys, time
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "slow":
    n, hold = int(sys.argv[4]), float(sys.argv[5])
    socks = []
    for i in range(n):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: ")
        socks.append(s)
    print("open", len(socks), flush=True)
    time.sleep(hold)
    print("done", flush=True)
elif mode == "huge":
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nX-Big: " + b"a" * 65536 + b"\\r\\n\\r\\n")
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d: break
            data += d
    except ConnectionResetError:
        pass
    print(data.split(b"\\r\\n")[0].decode() if data else "EMPTY")
elif mode == "cut":
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"POST /up HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 1048576\\r\\n\\r\\n" + b"z" * 102400)
    time.sleep(0.2)
    s.close()
    print("cut")
`;

Deno.test({
  name: "qa2 serve: ab -c 50 -n 5000 with and without keep-alive, 0 failures",
  ignore,
  async fn() {
    await inNamespace(async ({ ns, stack }) => {
      const server = stack.serve({ port: 8080, ...quiet }, () => new Response("hello\n"));
      for (const k of ["-k ", ""]) {
        const out = await sh(ns, `timeout 120 ab ${k}-c 50 -n 5000 http://${OURS}:8080/ 2>&1`);
        assert.equal(abField(out, "Complete requests"), 5000, out);
        assert.equal(abField(out, "Failed requests"), 0, out);
        assert.equal(abField(out, "Non-2xx responses"), 0, out);
        if (k) assert.equal(abField(out, "Keep-Alive requests"), 5000, out);
      }
      await server.shutdown();
    });
  },
});

Deno.test({
  name: "qa2 serve: 200 slowloris clients stall; curl still served; huge header 431; mid-body cut",
  ignore,
  async fn() {
    await inNamespace(async ({ ns, stack }) => {
      const seen: string[] = [];
      const server = stack.serve({
        port: 8080,
        ...quiet,
        onError: (e) => {
          seen.push(String(e));
          return new Response("err", { status: 500 });
        },
      }, async (req) => {
        if (req.method === "POST") {
          try {
            await req.arrayBuffer();
            seen.push("body complete");
          } catch (err) {
            seen.push(`body error ${(err as Error).name}`);
          }
        }
        return new Response("ok\n");
      });
      const slow = ns.spawn(["python3", "-c", PY, "slow", OURS, "8080", "200", "8"], {
        stdout: "piped",
        stderr: "piped",
      });
      const reader = slow.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const first = await reader.read();
      assert.match(first.value ?? "", /open 200/);
      for (let i = 0; i < 5; i++) {
        const got = await sh(ns, `curl -sS -m 5 http://${OURS}:8080/`);
        assert.equal(got, "ok\n");
      }
      const huge = await sh(
        ns,
        `timeout 20 python3 -c '${PY.replaceAll("'", "'\\''")}' huge ${OURS} 8080`,
      );
      assert.match(huge.trim(), /^HTTP\/1\.1 431/);
      const cut = await sh(
        ns,
        `timeout 20 python3 -c '${PY.replaceAll("'", "'\\''")}' cut ${OURS} 8080`,
      );
      assert.equal(cut.trim(), "cut");
      for (let i = 0; i < 50 && !seen.some((s) => s.startsWith("body")); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(seen.some((s) => s.startsWith("body error")), seen.join("; "));
      assert.equal(await sh(ns, `curl -sS -m 5 http://${OURS}:8080/`), "ok\n");
      reader.releaseLock();
      slow.kill("SIGTERM");
      await slow.status;
      await slow.stderr.cancel();
      await slow.stdout.cancel().catch(() => {});
      await server.shutdown();
    });
  },
});

Deno.test({
  name:
    "qa2 serve: HTTPS with a throwaway CA for curl --cacert, openssl s_client -alpn, close_notify",
  ignore,
  async fn() {
    await inNamespace(async ({ ns, stack, certs }) => {
      const server = stack.serve(
        { port: 8443, cert: certs.cert, key: certs.key, ...quiet },
        (req) => new Response(`secure ${req.method} ${new URL(req.url).protocol}\n`),
      );
      const got = await sh(ns, `curl -sS -m 10 --cacert ${certs.dir}/ca.pem https://${OURS}:8443/`);
      assert.equal(got, "secure GET https:\n");
      const post = await sh(
        ns,
        `curl -sS -m 10 --cacert ${certs.dir}/ca.pem -d x=1 https://${OURS}:8443/`,
      );
      assert.equal(post, "secure POST https:\n");
      // The request leaves with the client's Finished (TLS 1.3) and asks to close: the answer
      // and close_notify must both arrive (they were lost when the TLS layer destroyed the TCP
      // socket while its last writes were still batched).
      const s = await sh(
        ns,
        `printf 'GET / HTTP/1.1\\r\\nHost: a\\r\\nConnection: close\\r\\n\\r\\n' | timeout 10 openssl s_client -connect ${OURS}:8443 -alpn h2,http/1.1 -CAfile ${certs.dir}/ca.pem -ign_eof 2>&1`,
      );
      assert.doesNotMatch(s, /unexpected eof/, s);
      assert.match(s, /ALPN protocol: http\/1\.1/, s);
      assert.match(s, /Verify return code: 0/, s);
      assert.match(s, /secure GET https:/, s);
      await server.shutdown();
      // listenTls: write and close() as Deno.TlsConn: the reply, then close_notify.
      const listener = stack.listenTls({ port: 853, cert: certs.cert, key: certs.key });
      const client = ns.run([
        "sh",
        "-c",
        `(printf 'ping\\n'; sleep 3) | timeout 10 openssl s_client -connect ${OURS}:853 -CAfile ${certs.dir}/ca.pem -quiet 2>&1`,
      ]);
      const conn = await listener.accept();
      const buf = new Uint8Array(16);
      assert.equal(await conn.read(buf), 5);
      await conn.write(new TextEncoder().encode("pong\n"));
      conn.close();
      const r = await client;
      assert.equal(r.code, 0, r.stdout);
      assert.match(r.stdout, /pong/);
      assert.doesNotMatch(r.stdout, /unexpected eof/);
      listener.close();
    });
  },
});
