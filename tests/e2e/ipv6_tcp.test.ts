/**
 * TCP and UDP over IPv6 against the Linux kernel through a TAP device in a namespace (IPv6 on,
 * the kernel at fd00:16::1, us at fd00:16::2, default options: offloads on): `curl -6` GET
 * and POST of 4 MiB against `stack.serve` (SHA-256 checked), `ss` and `ip -6 neigh` sanity;
 * `stack.fetch("http://[fd00:16::1]:PORT/")` against `python3 -m http.server --bind`, a
 * 4 MiB exchange both ways with a python IPv6 socket peer (we connect, and it connects to
 * our dual-stack listener), MSS 1428 (1500 - 60 - timestamps) in `conn.info()`, a refused
 * port (RST), and a UDP echo both ways (and a port unreachable).
 *
 * Needs root and /dev/net/tun: skips with the reason elsewhere, fails when TCPIP_REQUIRE_TAP=1.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createStack, type NetStack } from "../../mod.ts";
import { type Netns, requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { pattern } from "../support/interop_env.ts";
import { streamSha } from "../support/http_env.ts";
import { exchange } from "../support/kernel_peer.ts";

const KERNEL = "fd00:16::1";
const OURS = "fd00:16::2";
const MIB4 = 4 << 20;
const ignore = tapIgnore();
const PY = "/usr/bin/python3";
const sha = (d: Uint8Array) => createHash("sha256").update(d).digest("hex");

async function inNamespace(fn: (ns: Netns, stack: NetStack, ifname: string) => Promise<void>) {
  if (!requireTapOrSkip()) return;
  await withTapNamespace(
    { kernelAddr: "10.7.16.1/24", ipv6: true },
    async ({ ns, link, ifname }) => {
      const add = await ns.run(["ip", "-6", "addr", "add", `${KERNEL}/64`, "dev", ifname, "nodad"]);
      assert.equal(add.code, 0, add.stderr);
      const stack = await createStack({ link, address: ["10.7.16.2/24", `${OURS}/64`] });
      try {
        await fn(ns, stack, ifname);
      } finally {
        await stack.close();
      }
    },
  );
}

/** Run a shell command in the namespace; its stdout, or a failure with its stderr. */
async function sh(ns: Netns, script: string): Promise<string> {
  const r = await ns.run(["sh", "-c", script]);
  if (r.code !== 0) throw new Error(`"${script}" exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** A python IPv6 TCP peer: listen (prints "ready") or connect; sends n bytes, reads to EOF. */
const PY6 = `
import socket, sys, hashlib, random
role, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = random.Random(7).randbytes(n)
if role == "listen":
    ls = socket.socket(socket.AF_INET6); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port)); ls.listen(4); print("ready", flush=True)
    s, peer = ls.accept()
else:
    s = socket.create_connection((host, port), timeout=30); peer = s.getpeername()
s.settimeout(30)
import threading
h = hashlib.sha256(); total = [0]
def rx():
    while True:
        b = s.recv(262144)
        if not b: break
        h.update(b); total[0] += len(b)
t = threading.Thread(target=rx); t.start()
s.sendall(data); s.shutdown(socket.SHUT_WR); t.join()
print(hashlib.sha256(data).hexdigest(), h.hexdigest(), total[0], peer[0], flush=True)
`;

/** Lines of a child's stdout, awaited one condition at a time (bounded: 20 s each). */
function lineReader(child: Deno.ChildProcess): (ok: (l: string) => boolean) => Promise<string> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  return async (ok) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const lines = buf.split("\n");
      const i = lines.slice(0, -1).findIndex(ok);
      if (i >= 0) {
        buf = lines.slice(i + 1).join("\n");
        return lines[i]!;
      }
      if (Date.now() > deadline) throw new Error(`No expected line; got: ${buf}`);
      const { value, done } = await reader.read();
      if (done) throw new Error(`Output ended; got: ${buf}`);
      buf += value;
    }
  };
}

Deno.test({
  name: "ipv6 tcp kernel: curl -6 GET/POST 4 MiB against stack.serve (SHA-256), ss, ip -6 neigh",
  ignore,
  async fn() {
    await inNamespace(async (ns, stack, ifname) => {
      const data = pattern(MIB4, 21);
      const dir = await Deno.makeTempDir({ prefix: "dtcp-v6-" });
      const server = stack.serve({ port: 8080, onListen() {} }, async (req) => {
        if (req.method === "POST") {
          const { sha: s, length } = await streamSha(req.body!);
          return new Response(`${s} ${length}`);
        }
        return new Response(data as Uint8Array<ArrayBuffer>);
      });
      try {
        await Deno.writeFile(`${dir}/up.bin`, data);
        const out = await sh(
          ns,
          `curl -6 -g -sS --max-time 30 -o ${dir}/got.bin -w '%{remote_ip}' http://[${OURS}]:8080/ && sha256sum ${dir}/got.bin`,
        );
        assert.match(out, new RegExp(`^${OURS}`));
        assert(out.includes(sha(data)), out);
        const post = await sh(
          ns,
          `curl -6 -g -sS --max-time 30 --data-binary @${dir}/up.bin http://[${OURS}]:8080/`,
        );
        assert.equal(post, `${sha(data)} ${MIB4}`);
        // The kernel's neighbour entry for us holds our MAC.
        const neigh = await sh(ns, `ip -6 neigh show ${OURS} dev ${ifname}`);
        assert(neigh.includes(stack.mac), neigh);
        // A connection the kernel sees as established while it is open.
        const slow = ns.spawn([
          "curl",
          "-6",
          "-g",
          "-sS",
          "--max-time",
          "30",
          "--limit-rate",
          "200k",
          "-o",
          "/dev/null",
          `http://[${OURS}]:8080/`,
        ], { stdout: "null", stderr: "null" });
        let ss = "";
        for (let i = 0; i < 50 && !ss.includes(`[${OURS}]:8080`); i++) {
          await new Promise((r) => setTimeout(r, 100));
          ss = await sh(ns, "ss -6 -tn state established");
        }
        assert(ss.includes(`[${OURS}]:8080`), ss);
        try {
          slow.kill();
        } catch { /* exited */ }
        await slow.status;
        const st = stack.stats();
        assert.equal(st["ip6-bad-source"] ?? 0, 0);
      } finally {
        await server.shutdown();
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});

Deno.test({
  name:
    "ipv6 tcp kernel: stack.fetch from python http.server --bind, 4 MiB both ways with a python peer, MSS 1428, RST",
  ignore,
  async fn() {
    await inNamespace(async (ns, stack) => {
      const dir = await Deno.makeTempDir({ prefix: "dtcp-v6-" });
      const data = pattern(MIB4, 22);
      await Deno.writeFile(`${dir}/file.bin`, data);
      const http = ns.spawn(
        [PY, "-u", "-m", "http.server", "8081", "--bind", KERNEL, "--directory", dir],
        { stdout: "null", stderr: "piped" },
      );
      try {
        let res: Response | undefined;
        for (let i = 0; i < 100 && res === undefined; i++) {
          try {
            res = await stack.fetch(`http://[${KERNEL}]:8081/file.bin`, {
              signal: AbortSignal.timeout(30_000),
            });
          } catch (err) {
            if (!(err instanceof TypeError)) throw err;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        assert(res, "python http.server never answered");
        assert.equal(res.status, 200);
        const got = await streamSha(res.body!);
        assert.deepEqual(got, { sha: sha(data), length: MIB4 });
      } finally {
        http.kill();
        await http.output();
      }
      // We connect to a python IPv6 peer: 4 MiB each way.
      const peer = ns.spawn([PY, "-u", "-c", PY6, "listen", KERNEL, "9001", String(MIB4)], {
        stdout: "piped",
        stderr: "piped",
      });
      const peerLine = lineReader(peer);
      await peerLine((l) => l === "ready");
      const conn = await stack.connect({ hostname: KERNEL, port: 9001 });
      assert.deepEqual(conn.remoteAddr, { transport: "tcp", hostname: KERNEL, port: 9001 });
      assert.equal(conn.localAddr.hostname, OURS);
      const mine = pattern(MIB4, 23);
      const r = await exchange(conn, mine);
      const info = conn.info();
      conn.close();
      const line = await peerLine((l) => l.split(" ").length === 4);
      await peer.status;
      const [sentSha, recvSha, recvLen, from] = line.split(" ");
      assert.equal(recvSha, sha(mine));
      assert.equal(Number(recvLen), MIB4);
      assert.equal(from, OURS);
      assert.equal(r.recvSha, sentSha);
      assert.equal(r.recvLen, MIB4);
      assert.equal(info.mss, 1500 - 60 - 12, "MSS: IPv6 path MTU - 60, less the timestamps");
      // TCP is never fragmented: TSO segments over IPv6 leave whole for the link to cut (a
      // regression once fragmented them, and every one was lost and resent).
      const st = stack.stats();
      assert.equal(st["ip6-fragments-out"] ?? 0, 0, "no IPv6 fragments of TCP");
      assert.ok(
        (st["tcp-fast-retransmit"] ?? 0) < 20,
        `fast retransmits ${st["tcp-fast-retransmit"]}`,
      );
      // The python peer connects to our listener without a hostname (both families).
      const listener = stack.listen({ port: 9002 });
      const client = ns.spawn([PY, "-u", "-c", PY6, "connect", OURS, "9002", String(MIB4)], {
        stdout: "piped",
        stderr: "piped",
      });
      const acc = await listener.accept();
      assert.equal(acc.remoteAddr.hostname, KERNEL);
      assert.equal(acc.localAddr.hostname, OURS);
      const r2 = await exchange(acc, mine);
      acc.close();
      const line2 = await lineReader(client)((l) => l.split(" ").length === 4);
      await client.status;
      assert.equal(line2.split(" ")[1], sha(mine));
      assert.equal(r2.recvSha, line2.split(" ")[0]);
      listener.close();
      // A closed port: the kernel's SYN gets a RST (connection refused at once).
      const refused = await ns.run([
        PY,
        "-c",
        `import socket\ntry:\n  socket.create_connection(("${OURS}", 9003), timeout=5)\nexcept Exception as e: print(type(e).__name__)`,
      ]);
      assert.equal(refused.stdout.trim(), "ConnectionRefusedError");
      // And we get ConnectionRefused from the kernel's RST.
      await assert.rejects(
        stack.connect({ hostname: KERNEL, port: 9004 }),
        Deno.errors.ConnectionRefused,
      );
      await Deno.remove(dir, { recursive: true });
    });
  },
});

Deno.test({
  name: "ipv6 udp kernel: echo both ways with python, a port unreachable for a closed port",
  ignore,
  async fn() {
    await inNamespace(async (ns, stack) => {
      // Our echo server; python sends and reads the echo.
      const sock = stack.listenDatagram({ port: 7000 });
      const echo = (async () => {
        const [d, from] = await sock.receive();
        await sock.send(d, from);
        return from;
      })();
      const py = await ns.run([
        PY,
        "-c",
        `import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.settimeout(10)
s.sendto(b"hello over v6", ("${OURS}", 7000))
d, a = s.recvfrom(2048); print(d.decode(), a[0])
s.connect(("${OURS}", 7001)); s.send(b"x")
try:
  s.recv(10); print("no error")
except Exception as e: print(type(e).__name__)`,
      ]);
      const from = await echo;
      assert.equal(from.hostname, KERNEL);
      const lines = py.stdout.trim().split("\n");
      assert.equal(lines[0], `hello over v6 ${OURS}`, py.stderr);
      assert.equal(lines[1], "ConnectionRefusedError", "ICMPv6 port unreachable for port 7001");
      // Python's echo server; we send and read.
      const srv = ns.spawn([
        PY,
        "-u",
        "-c",
        `import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("${KERNEL}", 7002)); print("ready", flush=True)
s.settimeout(10); d, a = s.recvfrom(2048); s.sendto(d[::-1], a); print(a[0], flush=True)`,
      ], { stdout: "piped", stderr: "piped" });
      const srvLine = lineReader(srv);
      await srvLine((l) => l === "ready");
      const c = stack.listenDatagram({ port: 0 });
      await c.send(new TextEncoder().encode("abc"), {
        transport: "udp",
        hostname: KERNEL,
        port: 7002,
      });
      const [back, who] = await c.receive();
      assert.equal(new TextDecoder().decode(back), "cba");
      assert.equal(who.hostname, KERNEL);
      assert.equal(await srvLine((l) => l.includes(":")), OURS);
      await srv.status;
      c.close();
      sock.close();
    });
  },
});
