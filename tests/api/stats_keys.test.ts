/**
 * docs/stats.md lists every key `stack.stats()` can produce: checked against the counter names
 * in the sources (both ways) and against the keys of a live stack that used TCP and UDP over
 * the loopback path and a memory link with faults, DNS with a scripted server, and ping-free
 * error paths.
 */
import assert from "node:assert/strict";
import { createMemoryLinkPair, createStack } from "../../mod.ts";
import { withFaults } from "../../testing.ts";
import { DROP_NAMES } from "../../src/wire/drop.ts";
import { serveDns } from "../support/dns_server.ts";
import { TYPE_A } from "../../src/wire/dns.ts";

const root = new URL("../../", import.meta.url);

function documented(): { keys: Set<string>; patterns: RegExp[]; text: string } {
  const text = Deno.readTextFileSync(new URL("docs/stats.md", root));
  const keys = new Set<string>();
  const patterns: RegExp[] = [];
  for (const m of text.matchAll(/^\| `([^`]+)`\s*\|/gm)) {
    const k = m[1]!;
    if (k.includes("<")) patterns.push(new RegExp(`^${k.replace(/<[a-z]+>/g, "[a-z0-9-]+")}$`));
    else keys.add(k);
  }
  return { keys, patterns, text };
}

function sources(): { keys: Set<string>; prefixes: Set<string> } {
  const keys = new Set<string>();
  const prefixes = new Set<string>();
  const files: string[] = [];
  const walk = (dir: URL) => {
    for (const e of Deno.readDirSync(dir)) {
      const u = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
      if (e.isDirectory) walk(u);
      else if (e.name.endsWith(".ts") && !e.name.endsWith("engine_wasm.ts")) files.push(u.href);
    }
  };
  walk(new URL("src/", root));
  for (const f of files) {
    const src = Deno.readTextFileSync(new URL(f));
    for (const m of src.matchAll(/\b(?:inc|count|drop)\(\s*"([a-z0-9-]+)"/g)) keys.add(m[1]!);
    for (
      const m of src.matchAll(/\b(?:inc|count)\([^;()]*\?\s*"([a-z0-9-]+)"\s*:\s*"([a-z0-9-]+)"/g)
    ) {
      keys.add(m[1]!);
      keys.add(m[2]!);
    }
    for (const m of src.matchAll(/\b(?:inc|count)\(\s*`([a-z0-9-]*)\$\{/g)) prefixes.add(m[1]!);
    for (const m of src.matchAll(/\b(?:s|out)\["([a-z0-9-]+)"\]\s*=/g)) keys.add(m[1]!);
    if (f.endsWith("iface/counters.ts")) {
      for (const m of src.matchAll(/\["([a-z-]+)", this\./g)) keys.add(m[1]!);
    }
    if (/iface\/fragments6?\.ts$/.test(f)) {
      for (const m of src.matchAll(/"(frag6?-[a-z-]+)"/g)) keys.add(m[1]!);
    }
    if (f.endsWith("src/stack.ts") || f.endsWith("tcp/tcp_layer.ts")) {
      for (const m of src.matchAll(/"((?:driver|tcp)-[a-z-]+)":/g)) keys.add(m[1]!);
    }
    if (f.includes("/src/link/")) {
      // Link counters (counters() of the memory link and the pcap writer): literal object keys.
      for (const m of src.matchAll(/"((?:memory|pcap)-[a-z-]+)":/g)) keys.add(m[1]!);
    }
    if (f.endsWith("link/fault.ts")) {
      const block = /#st: FaultStats = \{([^}]*)\}/.exec(src)?.[1] ?? "";
      for (const m of block.matchAll(/([a-z]+):/g)) keys.add(`fault-${m[1]}`);
    }
  }
  for (const n of DROP_NAMES.slice(1)) keys.add(n);
  return { keys, prefixes };
}

Deno.test("stats keys: docs/stats.md and the counter names in src/ agree", () => {
  const doc = documented();
  const src = sources();
  const covered = (k: string) => doc.keys.has(k) || doc.patterns.some((p) => p.test(k));
  const undocumented = [...src.keys].filter((k) => !covered(k));
  assert.deepEqual(undocumented, [], `add these stats() keys to docs/stats.md: ${undocumented}`);
  const stale = [...doc.keys].filter((k) => !src.keys.has(k));
  assert.deepEqual(stale, [], `docs/stats.md lists keys no source produces: ${stale}`);
  for (const p of src.prefixes) {
    assert.ok(
      doc.patterns.some((re) => re.source.startsWith(`^${p}`)),
      `a pattern for "${p}<...>" is missing in docs/stats.md`,
    );
  }
  // The ICMP kinds TCP reports are all named.
  const contract = Deno.readTextFileSync(new URL("src/tcp/contract.ts", root));
  const union = /type TcpIcmpError =([^;]*);/.exec(contract)![1]!;
  for (const m of union.matchAll(/"([a-z-]+)"/g)) {
    assert.ok(doc.text.includes(m[1]!), `tcp-icmp kind ${m[1]} not described`);
  }
});

Deno.test("stats keys: every key of a busy live stack is documented", async () => {
  const doc = documented();
  const covered = (k: string) => doc.keys.has(k) || doc.patterns.some((p) => p.test(k));
  const [la, lb] = createMemoryLinkPair();
  const server = await createStack({ link: lb, address: "10.9.0.1/24", engine: "js" });
  const client = await createStack({
    link: withFaults(la, { seed: 5, duplicate: 0.05, clock: () => Math.floor(performance.now()) }),
    address: "10.9.0.2/24",
    engine: "js",
    dns: { servers: ["10.9.0.1"], timeoutMs: 200, attempts: 1 },
  });
  const srv = serveDns(
    server,
    53,
    (name, type) =>
      name === "a.test" && type === TYPE_A
        ? { answers: [{ type: TYPE_A, ttl: 60, rdata: Uint8Array.from([10, 9, 0, 1]) }] }
        : { rcode: 3 },
  );
  try {
    await client.resolveDns("a.test", "A");
    await client.resolveDns("a.test", "A");
    await client.resolveDns("b.test", "A").catch(() => {});
    using l = server.listen({ port: 80 });
    const acc = l.accept();
    const c = await client.connect({ hostname: "a.test", port: 80 });
    await c.write(new Uint8Array(100_000));
    const p = await acc;
    c.close();
    await new Response(p.readable).arrayBuffer();
    p.close();
    await client.connect({ hostname: "10.9.0.1", port: 81 }).catch(() => {});
    using lo = client.listen({ port: 0 });
    const acc2 = lo.accept();
    const c2 = await client.connect({ hostname: "127.0.0.1", port: lo.addr.port });
    (await acc2).close();
    c2.close();
    using u = client.listenDatagram({ port: 0 });
    await u.send(new Uint8Array(3000), { transport: "udp", hostname: "10.9.0.1", port: 9 });
    await new Promise((r) => setTimeout(r, 50));
    for (const s of [client, server]) {
      const keys = Object.keys(s.stats());
      assert.ok(keys.length > 20, `only ${keys.length} keys`);
      const missing = keys.filter((k) => !covered(k));
      assert.deepEqual(missing, [], `undocumented stats() keys: ${missing}`);
    }
  } finally {
    srv.close();
    await client.close();
    await server.close();
    await srv.done;
  }
});
