/**
 * The TUN link (layer 3: IP packets, no Ethernet, no ARP on the wire) against the kernel in a
 * namespace each test creates and deletes: ping, curl to a small HTTP server on our stack,
 * our client fetching from `python3 -m http.server` in the namespace, and 4 MiB each way
 * byte-exact with offloads (large segments both ways), then the same without offloads.
 */
import assert from "node:assert/strict";
import { createStack, type NetStack, openTun, type TunLink } from "../../mod.ts";
import { createNetns, type Netns, requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";
import { pattern } from "../support/interop_env.ts";
import { connectRetry, exchange, py, pyResult, sha } from "../support/kernel_peer.ts";

const KERNEL = "10.8.0.1";
const OURS = "10.8.0.2";
const ignore = tapIgnore();

async function withTun(
  offload: boolean,
  fn: (ctx: { ns: Netns; link: TunLink; stack: NetStack }) => Promise<void>,
): Promise<void> {
  if (!requireTapOrSkip()) return;
  const ns = await createNetns();
  try {
    const link = openTun({
      name: "tun0",
      netns: ns.name,
      create: true,
      peer: `${KERNEL}/24`,
      offload,
    });
    assert.equal(link.kind, "tun");
    assert.equal(link.offload, offload);
    const stack = await createStack({ link, address: `${OURS}/24` });
    try {
      await fn({ ns, link, stack });
    } finally {
      await stack.close();
      await link.wait(0);
    }
  } finally {
    await ns.delete();
  }
}

/** Serve one fixed HTTP/1.0 response per connection until the listener closes. */
function serveHttp(stack: NetStack, port: number, body: string): { close(): void } {
  const listener = stack.listen({ port });
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(4096);
        let head = "";
        while (!head.includes("\r\n\r\n")) {
          const n = await conn.read(buf);
          if (n === null) break;
          head += new TextDecoder().decode(buf.subarray(0, n));
        }
        const bytes = new TextEncoder().encode(body);
        await conn.write(
          new TextEncoder().encode(
            `HTTP/1.0 200 OK\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`,
          ),
        );
        await conn.write(bytes);
        conn.close();
      })().catch(() => {});
    }
  })().catch(() => {});
  return listener;
}

async function tunBasics(offload: boolean): Promise<void> {
  await withTun(offload, async ({ ns, link, stack }) => {
    const kind = await ns.run(["ip", "-d", "-o", "link", "show", "tun0"]);
    assert.match(kind.stdout, /POINTOPOINT/);
    assert.match(kind.stdout, /tun type tun/);
    // Ping: ICMP echo with no ARP anywhere.
    const ping = await ns.run(["ping", "-c", "3", "-i", "0.2", "-W", "1", OURS]);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.match(ping.stdout, /3 received/);
    const big = await ns.run(["ping", "-c", "2", "-i", "0.2", "-W", "1", "-s", "4000", OURS]);
    assert.equal(big.code, 0, `fragmented ping: ${big.stdout}`);
    // curl (kernel) -> our HTTP server.
    const server = serveHttp(stack, 8080, "hello from the userspace stack\n");
    const curl = await ns.run(["curl", "-sS", "-m", "5", `http://${OURS}:8080/`]);
    assert.equal(curl.stdout, "hello from the userspace stack\n", curl.stderr);
    server.close();
    // Our client -> python3 -m http.server in the namespace.
    const dir = await Deno.makeTempDir();
    const file = pattern(200_000, 5);
    await Deno.writeFile(`${dir}/blob.bin`, file);
    const http = ns.spawn(
      ["python3", "-m", "http.server", "8000", "--bind", KERNEL, "--directory", dir],
    );
    try {
      const conn = await connectRetry(stack, KERNEL, 8000);
      await conn.write(
        new TextEncoder().encode(`GET /blob.bin HTTP/1.0\r\nHost: ${KERNEL}\r\n\r\n`),
      );
      const chunks: Uint8Array[] = [];
      const buf = new Uint8Array(65536);
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        chunks.push(buf.slice(0, n));
      }
      conn.close();
      const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
      let at = 0;
      for (const c of chunks) all.set(c, (at += c.length) - c.length);
      const text = new TextDecoder().decode(all.subarray(0, 200));
      assert.match(text, /^HTTP\/1\.0 200 OK/);
      const bodyAt = all.findIndex((_, i) =>
        all[i] === 13 && all[i + 1] === 10 && all[i + 2] === 13 && all[i + 3] === 10
      ) + 4;
      assert.equal(sha(all.subarray(bodyAt)), sha(file), "the file arrived changed");
    } finally {
      http.kill("SIGTERM");
      await http.status;
      await Deno.remove(dir, { recursive: true });
    }
    const s = link.stats;
    assert.ok(s.arpAnswered >= 1, "the interface's ARP request was answered by the link");
    assert.equal(s.txErrors, 0);
    assert.equal(s.rxBadHeader, 0);
    const drops = Object.entries(stack.stats()).filter(([k, v]) =>
      /checksum|eth-/.test(k) && !k.startsWith("tun-") && v !== 0
    );
    assert.deepEqual(drops, []);
  });
}

Deno.test({
  name: "tun: ping, curl to our server, our client from python http.server (offload default)",
  ignore,
  fn: () => tunBasics(true),
});

Deno.test({
  name: "tun: the same without offloads",
  ignore,
  fn: () => tunBasics(false),
});

Deno.test({
  name: "tun: 4 MiB each way byte-exact with large segments both ways",
  ignore,
  fn: async () => {
    await withTun(true, async ({ ns, link, stack }) => {
      const size = 4 * 1048576;
      const listener = stack.listen({ port: 5001 });
      const data = pattern(size, 31);
      const peer = py(ns, ["connect", OURS, "5001", String(size), "32", "both"]);
      const conn = await listener.accept();
      const ours = await exchange(conn, data);
      conn.close();
      listener.close();
      const [sentSha, recvSha, recvLen] = await pyResult(peer);
      assert.equal(ours.recvSha, sentSha, "bytes from the kernel differ");
      assert.equal(recvSha, sha(data), "bytes to the kernel differ");
      assert.equal(Number(recvLen), size);
      const s = link.stats;
      assert.ok(s.rxGsoFrames > 0, "no large segment from the kernel");
      assert.ok(s.txGsoFrames > 0, "no merged segment to the kernel");
      assert.equal(s.txErrors, 0);
    });
  },
});
