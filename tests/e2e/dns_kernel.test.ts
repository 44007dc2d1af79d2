/**
 * The stub resolver against a real resolver: dnsmasq (Debian) run inside the test's network
 * namespace on the kernel's side of the TAP, answering only from its command line
 * (--no-resolv --no-hosts, --local=/test/ so unknown names are NXDOMAIN). A records, a CNAME
 * followed, MX, NXDOMAIN, a TXT answer and a many-A answer over 512 bytes (truncated over UDP,
 * asked again over TCP), a hostname in connect, and a server that never answers.
 */
import assert from "node:assert/strict";
import { createStack } from "../../mod.ts";
import { type Netns, requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";

const KERNEL = "10.7.53.1";
const OUR = "10.7.53.2";

async function have(cmd: string): Promise<boolean> {
  const r = await new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
    .output();
  return r.success;
}

const long = (c: string) => c.repeat(200);

/**
 * Wait (bounded) until something in `ns` listens on `port` (`proto` "t" for TCP, "u" for
 * UDP): a server spawned a moment ago may still be starting on a loaded machine.
 */
async function listening(ns: Netns, proto: "t" | "u", port: number): Promise<void> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    const r = await ns.run(["ss", `-Hln${proto}`, `sport = :${port}`]);
    if (r.code === 0 && r.stdout.trim() !== "") return;
    if (performance.now() > deadline) throw new Error(`nothing listens on ${proto} ${port}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

Deno.test({
  name:
    "dns (kernel): dnsmasq in the namespace: A, CNAME, MX, NXDOMAIN, TCP after truncation, silent server",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    if (!(await have("dnsmasq"))) {
      if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") {
        throw new Error("dnsmasq is missing (deno task setup)");
      }
      console.warn("skipped: dnsmasq is not installed (deno task setup installs dnsmasq-base)");
      return;
    }
    await withTapNamespace({ kernelAddr: `${KERNEL}/24` }, async ({ ns, link }) => {
      const many = Array.from({ length: 40 }, (_, i) => `--host-record=many.test,10.7.54.${i + 1}`);
      const dnsmasq = ns.spawn([
        "dnsmasq",
        "--no-daemon",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        `--listen-address=${KERNEL}`,
        "--port=53",
        "--user=root",
        "--pid-file=",
        "--local=/test/",
        "--local-ttl=120",
        "--address=/web.test/10.7.53.80",
        `--host-record=api.test,${KERNEL}`,
        "--cname=alias.test,api.test",
        "--mx-host=mx.test,mail.test,10",
        `--txt-record=big.test,${long("a")},${long("b")},${long("c")}`,
        ...many,
      ], { stdout: "null", stderr: "piped" });
      // A UDP server that reads and never answers.
      const silent = ns.spawn([
        "python3",
        "-c",
        `import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(("${KERNEL}",5399))\ntime.sleep(60)`,
      ]);
      const peer = ns.spawn([
        "socat",
        `TCP-LISTEN:7777,bind=${KERNEL},reuseaddr`,
        "SYSTEM:echo hello-from-kernel",
      ]);
      const stack = await createStack({
        link,
        address: `${OUR}/24`,
        dns: { servers: [KERNEL], timeoutMs: 500, attempts: 2 },
      });
      try {
        // dnsmasq is up when it answers.
        let first: string[] | Error = new Error("not tried");
        for (let i = 0; i < 50; i++) {
          first = await stack.resolveDns("web.test", "A").catch((e) => e as Error);
          if (Array.isArray(first)) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.deepEqual(first, ["10.7.53.80"]);
        assert.deepEqual(await stack.resolveDns("api.test", "A"), [KERNEL]);
        assert.deepEqual(await stack.resolveDns("alias.test", "A"), [KERNEL]);
        assert.deepEqual(await stack.resolveDns("alias.test", "CNAME"), ["api.test"]);
        assert.deepEqual(await stack.resolveDns("mx.test", "MX"), [
          { preference: 10, exchange: "mail.test" },
        ]);
        await assert.rejects(
          stack.resolveDns("nx.test", "A"),
          (e) => e instanceof Deno.errors.NotFound && /NXDOMAIN/.test(e.message),
        );
        // Over 512 bytes: truncated over UDP, complete over TCP.
        const txt = await stack.resolveDns("big.test", "TXT");
        assert.deepEqual(txt, [[long("a"), long("b"), long("c")]]);
        const a = await stack.resolveDns("many.test", "A");
        assert.equal(a.length, 40);
        assert.deepEqual([...a].sort(), many.map((m) => m.split(",")[1]!).sort());
        const st = stack.stats();
        assert.equal(st["dns-tcp-fallbacks"], 2);
        // A hostname in connect.
        await listening(ns, "t", 7777);
        const conn = await stack.connect({ hostname: "alias.test", port: 7777 });
        assert.equal(conn.remoteAddr.hostname, KERNEL);
        const text = await new Response(conn.readable).text();
        assert.equal(text, "hello-from-kernel\n");
        await assert.rejects(
          stack.connect({ hostname: "nx.test", port: 7777 }),
          Deno.errors.NotFound,
        );
        // A server that never answers: 2 tries of 500 ms, then TimedOut.
        await listening(ns, "u", 5399);
        const t0 = performance.now();
        await assert.rejects(
          stack.resolveDns("web.test", "A", { nameServer: { ipAddr: KERNEL, port: 5399 } }),
          Deno.errors.TimedOut,
        );
        const took = performance.now() - t0;
        assert.ok(took >= 980 && took < 5000, `took ${took} ms`);
      } finally {
        await stack.close();
        for (const c of [dnsmasq, silent, peer]) {
          try {
            c.kill("SIGTERM");
          } catch { /* gone */ }
        }
        const [st] = await Promise.all([dnsmasq.status, silent.status, peer.status]);
        const err = await new Response(dnsmasq.stderr).text();
        if (!st.success && st.signal !== "SIGTERM") console.error(`dnsmasq: ${err}`);
      }
    });
  },
});
