/**
 * Loopback against a memory link: one stack talking to itself over 127.0.0.1 (the interface's
 * loopback path), as baseline two stacks joined by a memory link pair, each iteration moving
 * 1 MiB over an established TCP connection (WASM engine).
 *
 *   deno bench -A bench/loopback_bench.ts
 *
 * @module
 */
import { createMemoryLinkPair, createStack, type NetStack } from "../mod.ts";
import type { Conn } from "../src/api/conn.ts";

const MIB = 1 << 20;
const chunk = new Uint8Array(64 * 1024);
const sink = new Uint8Array(64 * 1024);

async function pairOver(
  loopback: boolean,
): Promise<{ a: Conn; b: Conn; stacks: NetStack[] }> {
  const [la, lb] = createMemoryLinkPair();
  const a = await createStack({ link: la, address: "10.9.0.1/24" });
  const b = loopback ? a : await createStack({ link: lb, address: "10.9.0.2/24" });
  const l = b.listen({ port: 0 });
  const acc = l.accept();
  const c = await a.connect({ hostname: loopback ? "127.0.0.1" : "10.9.0.2", port: l.addr.port });
  const p = await acc;
  l.close();
  return { a: c, b: p, stacks: loopback ? [a] : [a, b] };
}

async function transfer(a: Conn, b: Conn): Promise<void> {
  const reading = (async () => {
    let got = 0;
    while (got < MIB) got += (await b.read(sink)) ?? 0;
  })();
  for (let sent = 0; sent < MIB;) sent += await a.write(chunk);
  await reading;
}

const over = { loop: await pairOver(true), mem: await pairOver(false) };

Deno.bench(
  "tcp 1 MiB: memory link pair (two stacks)",
  { group: "tcp", baseline: true },
  async () => {
    await transfer(over.mem.a, over.mem.b);
  },
);
Deno.bench("tcp 1 MiB: loopback 127.0.0.1 (one stack)", { group: "tcp" }, async () => {
  await transfer(over.loop.a, over.loop.b);
});

globalThis.addEventListener("unload", () => {
  for (const s of [...over.loop.stacks, ...over.mem.stacks]) void s.close();
});
