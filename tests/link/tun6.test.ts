/**
 * IPv6 over the TUN link (layer 3, no neighbour discovery on the wire) against the kernel in a
 * namespace each test creates and deletes, with default options: the link answers the
 * interface's Neighbor Solicitations itself (tap/l3.ts), so ping -6, curl -6 to `stack.serve`,
 * `stack.fetch` from `python3 -m http.server` and python3 `sendall` of 64 KiB blocks both
 * ways work as over IPv4. Before, our SYN+ACK waited behind a solicitation nobody answered and
 * curl -6 timed out.
 */
import assert from "node:assert/strict";
import { createStack, type NetStack, openTun, type TunLink } from "../../mod.ts";
import { createNetns, type Netns, requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";
import { pattern } from "../support/interop_env.ts";
import { exchange, pyResult, sha } from "../support/kernel_peer.ts";
import { PY_BLOCKS } from "../support/qa_env.ts";

const KERNEL6 = "fd01::1";
const OURS6 = "fd01::2";
const ignore = tapIgnore();

async function withTun6(
  fn: (ctx: { ns: Netns; link: TunLink; stack: NetStack }) => Promise<void>,
): Promise<void> {
  if (!requireTapOrSkip()) return;
  const ns = await createNetns(undefined, { ipv6: true });
  try {
    const link = openTun({
      name: "tun0",
      netns: ns.name,
      create: true,
      peer: ["10.8.0.1/24", `${KERNEL6}/64`],
    });
    const stack = await createStack({ link, address: ["10.8.0.2/24", `${OURS6}/64`] });
    try {
      await fn({ ns, link, stack });
      assert.equal(link.stats.txErrors, 0);
      assert.equal(link.stats.rxBadHeader, 0);
    } finally {
      await stack.close();
      await link.wait(0);
    }
  } finally {
    await ns.delete();
  }
}

/** Wait until duplicate address detection let our IPv6 address into use. */
async function ready6(stack: NetStack): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ours = stack.networkInterfaces().some((a) => a.address === OURS6);
    if (ours) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${OURS6} never came into use`);
}

Deno.test({
  name: "tun6: ping -6, curl -6 to stack.serve, stack.fetch from python3 http.server over IPv6",
  ignore,
  fn: () =>
    withTun6(async ({ ns, link, stack }) => {
      await ready6(stack);
      const ping = await ns.run(["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", OURS6]);
      assert.equal(ping.code, 0, ping.stdout + ping.stderr);
      assert.match(ping.stdout, /3 received/);
      const body = new Uint8Array(pattern(300_000, 3));
      const http = stack.serve({ port: 8080, onListen() {} }, () => new Response(body.slice()));
      try {
        const curl = await ns.run([
          "sh",
          "-c",
          `curl -6 -g -sS -m 10 http://[${OURS6}]:8080/ | sha256sum`,
        ]);
        assert.equal(curl.stdout.split(" ")[0], sha(body), curl.stderr);
      } finally {
        await http.shutdown();
      }
      assert.ok(link.stats.ndAnswered >= 1, "our solicitation for the kernel was answered");
      const dir = await Deno.makeTempDir();
      const file = pattern(2_000_000, 9);
      await Deno.writeFile(`${dir}/blob.bin`, file);
      const server = ns.spawn(
        ["python3", "-m", "http.server", "8000", "--bind", KERNEL6, "--directory", dir],
      );
      try {
        let res: Response | null = null;
        for (let i = 0; i < 100 && res === null; i++) {
          try {
            res = await stack.fetch(`http://[${KERNEL6}]:8000/blob.bin`);
          } catch (e) {
            // fetch rejects with a TypeError whose cause is the refusal, as Deno's fetch.
            if (!((e as Error).cause instanceof Deno.errors.ConnectionRefused)) throw e;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        assert.ok(res, "python3 http.server never answered");
        assert.equal(res.status, 200);
        assert.equal(sha(new Uint8Array(await res.arrayBuffer())), sha(file));
      } finally {
        server.kill("SIGTERM");
        await server.status;
        await Deno.remove(dir, { recursive: true });
      }
      const stats = stack.stats();
      assert.equal(stats["ndp-unresolved"] ?? 0, 0, "no frame lost behind resolution");
    }),
});

Deno.test({
  name: "tun6: python3 sendall of 64 KiB blocks both ways over IPv6, 8 MiB each, SHA-256 equal",
  ignore,
  fn: () =>
    withTun6(async ({ ns, link, stack }) => {
      await ready6(stack);
      const n = 8 << 20;
      const ours = pattern(n, 21);
      const listener = stack.listen({ port: 9000 });
      try {
        const accepted = listener.accept();
        const child = ns.spawn(
          ["python3", "-c", PY_BLOCKS, "connect", OURS6, "9000", String(n), "65536", "5"],
          { stdout: "piped", stderr: "piped" },
        );
        const result = pyResult(child);
        const conn = await Promise.race([
          accepted,
          result.then((r) => Promise.reject(new Error(`python did not connect: ${r.join(" ")}`))),
        ]);
        const [got, [sentSha, recvSha, recvLen]] = await Promise.all([
          exchange(conn, ours),
          result,
        ]);
        conn.close();
        assert.equal(got.recvLen, n, "bytes the stack received");
        assert.equal(got.recvSha, sentSha, "what python sent arrived unchanged");
        assert.equal(Number(recvLen), n, "bytes python received");
        assert.equal(recvSha, sha(ours), "what the stack sent arrived unchanged");
      } finally {
        listener.close();
      }
      assert.ok(link.offload, "offloads on by default");
      assert.ok(link.stats.rxGsoFrames > 0, "the kernel sent large IPv6 segments");
      assert.ok(link.stats.txGsoFrames > 0, "we sent large IPv6 frames");
    }),
});
