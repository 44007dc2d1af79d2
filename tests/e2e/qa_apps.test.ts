/**
 * New-user acceptance, ordinary applications against a stack made with DEFAULT options, each
 * test in a namespace it creates and deletes: python `sendall()` of 16 KiB and 64 KiB blocks
 * both ways with our stack as server and as client (SHA-256 both ways), `ab` against an HTTP
 * responder on our listener, the TUN link with ping (1472 DF, flood) and curl both ways, and
 * DNS through dnsmasq with hostnames in `connect`.
 */

import assert from "node:assert/strict";
import { createStack, type NetStack, openTun } from "../../mod.ts";
import {
  createNetns,
  type Netns,
  requireTapOrSkip,
  tapIgnore,
  withTapNamespace,
} from "../../tools/netns.ts";
import { exchange, pyResult, sha } from "../support/kernel_peer.ts";
import { pattern } from "../support/rng.ts";
import { have, httpBody, PY_BLOCKS, startHttpResponder } from "../support/qa_env.ts";

const KERNEL = "10.63.0.1";
const OURS = "10.63.0.2";
const ignore = tapIgnore();
const MIB = 1 << 20;

async function needs(tools: string[]): Promise<boolean> {
  for (const t of tools) {
    if (await have(t)) continue;
    if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") {
      throw new Error(`${t} is missing (deno task setup)`);
    }
    console.warn(`skipped: ${t} is not installed (deno task setup installs it)`);
    return false;
  }
  return true;
}

async function withDefaultStack(
  fn: (ctx: { ns: Netns; stack: NetStack }) => Promise<void>,
  extra: { dns?: { servers: string[] } } = {},
): Promise<void> {
  await withTapNamespace({ kernelAddr: `${KERNEL}/24` }, async ({ ns, link }) => {
    const stack = await createStack({ link, address: `${OURS}/24`, ...extra });
    try {
      await fn({ ns, stack });
    } finally {
      await stack.close();
    }
  });
}

function pyBlocks(ns: Netns, args: string[]): Deno.ChildProcess {
  return ns.spawn(["python3", "-c", PY_BLOCKS, ...args], { stdout: "piped", stderr: "piped" });
}

async function must(ns: Netns, cmd: string[]): Promise<string> {
  const r = await ns.run(cmd);
  assert.equal(r.code, 0, `${cmd.join(" ")} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

Deno.test({
  name: "qa apps: python sendall of 16 KiB and 64 KiB blocks both ways, our server and our client",
  ignore,
  async fn() {
    if (!requireTapOrSkip() || !(await needs(["python3"]))) return;
    await withDefaultStack(async ({ ns, stack }) => {
      const N = 16 * MIB;
      const listener = stack.listen({ port: 5001 });
      for (const block of [16384, 65536]) {
        // The kernel connects to us.
        const data = pattern(N, block);
        const peer = pyBlocks(ns, ["connect", OURS, "5001", String(N), String(block), "11"]);
        const conn = await listener.accept();
        const ours = await exchange(conn, data, "both");
        conn.close();
        const [sentSha, recvSha, recvLen] = await pyResult(peer);
        assert.equal(ours.recvLen, N, `server, ${block}-byte blocks: length`);
        assert.equal(ours.recvSha, sentSha, `server, ${block}-byte blocks: bytes from the kernel`);
        assert.equal(recvSha, sha(data), `server, ${block}-byte blocks: bytes to the kernel`);
        assert.equal(Number(recvLen), N);
        // We connect to the kernel.
        const port = 6000 + block / 1024;
        const server = pyBlocks(ns, [
          "listen",
          KERNEL,
          String(port),
          String(N),
          String(block),
          "12",
        ]);
        let c;
        for (let i = 0; i < 100 && !c; i++) {
          c = await stack.connect({ hostname: KERNEL, port }).catch((e) => {
            if (!(e instanceof Deno.errors.ConnectionRefused)) throw e;
            return new Promise<undefined>((r) => setTimeout(() => r(undefined), 50));
          });
        }
        assert.ok(c, "the python server never listened");
        const back = await exchange(c, data, "both");
        c.close();
        const [sSent, sRecv, sLen] = await pyResult(server);
        assert.equal(back.recvSha, sSent, `client, ${block}-byte blocks: bytes from the kernel`);
        assert.equal(sRecv, sha(data), `client, ${block}-byte blocks: bytes to the kernel`);
        assert.equal(Number(sLen), N);
      }
      listener.close();
      const s = stack.stats();
      assert.equal(s["tcp-rto"] ?? 0, 0, "retransmission timeouts on a lossless link");
    });
  },
});

Deno.test({
  name: "qa apps: ab -n 400 -c 20 against an HTTP responder on our listener, no failures",
  ignore,
  async fn() {
    if (!requireTapOrSkip() || !(await needs(["ab"]))) return;
    await withDefaultStack(async ({ ns, stack }) => {
      const http = startHttpResponder(stack, 8080);
      try {
        const out = await must(ns, [
          "ab",
          "-q",
          "-n",
          "400",
          "-c",
          "20",
          "-s",
          "20",
          `http://${OURS}:8080/10000`,
        ]);
        assert.match(out, /Complete requests:\s+400/, out);
        assert.match(out, /Failed requests:\s+0/, out);
        assert.match(out, /Document Length:\s+10000 bytes/, out);
        assert.doesNotMatch(out, /Non-2xx responses/, out);
      } finally {
        http.close();
      }
      assert.deepEqual(http.errors, []);
    });
  },
});

Deno.test({
  name: "qa apps: TUN (default offloads): ping 1472 DF and flood, curl download and upload",
  ignore,
  async fn() {
    if (!requireTapOrSkip() || !(await needs(["ping", "curl"]))) return;
    const dir = await Deno.makeTempDir({ prefix: "qa_tun_" });
    const ns = await createNetns();
    try {
      const link = openTun({ name: "tun0", netns: ns.name, create: true, peer: `${KERNEL}/24` });
      const stack = await createStack({ link, address: `${OURS}/24` });
      const http = startHttpResponder(stack, 8080);
      try {
        const df = await must(ns, ["ping", "-c", "2", "-W", "2", "-s", "1472", "-M", "do", OURS]);
        assert.match(df, /2 received/, df);
        const fl = await must(ns, ["ping", "-f", "-c", "1000", "-W", "1", "-w", "60", OURS]);
        const got = Number(/(\d+) received/.exec(fl)?.[1] ?? 0);
        assert.ok(got >= 995, fl);
        const N = 4 * MIB;
        const dl = `${dir}/dl.bin`;
        await must(ns, ["curl", "-sS", "--max-time", "60", "-o", dl, `http://${OURS}:8080/${N}`]);
        assert.equal(sha(await Deno.readFile(dl)), sha(httpBody(N)));
        const up = `${dir}/up.bin`;
        const data = pattern(N, 21);
        await Deno.writeFile(up, data);
        const put = await must(ns, [
          "curl",
          "-sS",
          "--max-time",
          "60",
          "-T",
          up,
          `http://${OURS}:8080/u`,
        ]);
        assert.equal(put.trim(), `${N} ${sha(data)}`);
        assert.deepEqual(http.errors, []);
      } finally {
        http.close();
        await stack.close();
        await link.wait(0);
      }
    } finally {
      await ns.delete();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "qa apps: DNS through dnsmasq: resolveHost, resolveDns, a hostname in connect, NXDOMAIN",
  ignore,
  async fn() {
    if (!requireTapOrSkip() || !(await needs(["dnsmasq", "socat"]))) return;
    await withDefaultStack(async ({ ns, stack }) => {
      ns.spawn([
        "dnsmasq",
        "--no-daemon",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        `--listen-address=${KERNEL}`,
        "--user=root",
        "--pid-file=",
        "--local=/qa.test/",
        `--host-record=kernel.qa.test,${KERNEL}`,
      ]);
      ns.spawn([
        "socat",
        `TCP-LISTEN:7070,bind=${KERNEL},reuseaddr,fork`,
        "SYSTEM:echo hello-by-name",
      ]);
      let addrs: string[] = [];
      for (let i = 0; i < 50 && addrs.length === 0; i++) {
        addrs = await stack.resolveDns("kernel.qa.test", "A").catch(() => []);
        if (addrs.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(addrs, [KERNEL]);
      assert.equal(await stack.resolveHost("kernel.qa.test"), KERNEL);
      let conn;
      for (let i = 0; i < 50 && !conn; i++) {
        conn = await stack.connect({ hostname: "kernel.qa.test", port: 7070 }).catch(() => null);
        if (!conn) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(conn, "no connection by name");
      const buf = new Uint8Array(100);
      let text = "";
      for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      conn.close();
      assert.equal(text.trim(), "hello-by-name");
      await assert.rejects(stack.resolveDns("nothing.qa.test", "A"), Deno.errors.NotFound);
      await assert.rejects(
        stack.connect({ hostname: "nothing.qa.test", port: 7070 }),
        Deno.errors.NotFound,
      );
    }, { dns: { servers: [KERNEL] } });
  },
});
