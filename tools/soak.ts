/**
 * `deno task soak`: two stacks over an in-memory link pair with the real clock and the real
 * driver; rounds of 10,000 connections (opened 500 at a time) each carrying a small echo, then
 * closed, repeated for a few minutes. After every round the heap (after a full GC), the RSS and
 * the engines' packet memory are printed; at the end both stacks must have no connection left,
 * the heap must be back near its baseline, and after the stacks are closed the process must exit
 * by itself (a leaked timer or pending operation keeps the event loop alive: the watchdog then
 * reports it and fails).
 *
 * Usage: deno task soak [--seconds 180] [--connections 10000] [--parallel 500] [--engine wasm]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createMemoryLinkPair, createStack, type NetStack } from "../mod.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  // Re-run with --expose-gc so the heap figures are after a full collection.
  const self = new URL(import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", self, ...Deno.args],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  Deno.exit((await child.status).code);
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "180" },
    connections: { type: "string", default: "10000" },
    parallel: { type: "string", default: "500" },
    engine: { type: "string", default: "wasm" },
  },
});
const seconds = Number(values.seconds);
const perRound = Number(values.connections);
const parallel = Number(values.parallel);
const engine = values.engine === "js" ? "js" : "wasm";

const tcp = {
  timeWaitMs: 200,
  rcvBuf: 16384,
  sndBuf: 16384,
  synBacklog: 1024,
  acceptBacklog: 1024,
};
const [la, lb] = createMemoryLinkPair();
const server = await createStack({ link: la, address: "10.77.0.1/24", engine, tcp });
const client = await createStack({ link: lb, address: "10.77.0.2/24", engine, tcp });
const listener = server.listen({ port: 7 });

const MB = (n: number): string => (n / 1048576).toFixed(1);
function memory(): { heap: number; external: number; rss: number; pkt: number } {
  gc!();
  const m = Deno.memoryUsage();
  const pkt = server.driver.engine.mem.buffer.byteLength +
    client.driver.engine.mem.buffer.byteLength;
  return { heap: m.heapUsed, external: m.external, rss: m.rss, pkt };
}

/** Echo server: read everything until EOF, write it back, close. */
const serving = (async () => {
  for await (const conn of listener) {
    (async () => {
      const buf = new Uint8Array(4096);
      try {
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          await conn.write(buf.subarray(0, n));
        }
      } catch { /* reset by the peer: counted by the stack */ }
      conn.close();
    })();
  }
})();

let failures = 0;
async function one(i: number): Promise<void> {
  const msg = new Uint8Array(100).fill(i & 0xff);
  try {
    const conn = await client.connect({ hostname: "10.77.0.1", port: 7 });
    await conn.write(msg);
    await conn.closeWrite();
    const got = new Uint8Array(200);
    let n = 0;
    for (;;) {
      const r = await conn.read(got.subarray(n));
      if (r === null) break;
      n += r;
    }
    conn.close();
    if (n !== 100 || got[99] !== (i & 0xff)) {
      failures++;
      if (failures < 5) {
        const info = conn.info() as unknown as Record<string, unknown>;
        console.error(
          `connection ${i}: echo of ${n} bytes, last ${got[99]} ${JSON.stringify(info)}`,
        );
      }
    }
  } catch (e) {
    failures++;
    if (failures < 5) console.error(`connection ${i}: ${(e as Error).message}`);
  }
}

async function settle(stacks: NetStack[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (stacks.every((s) => s.driver.tcp.connectionCount === 0)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

console.log(
  `soak: ${perRound} connections per round, ${parallel} at a time, engine ${engine}, ` +
    `${seconds} s`,
);
const start = performance.now();
let base: ReturnType<typeof memory> | null = null;
let round = 0, total = 0;
const rows: string[] = [];
while ((performance.now() - start) / 1000 < seconds) {
  const t0 = performance.now();
  for (let i = 0; i < perRound; i += parallel) {
    const batch: Promise<void>[] = [];
    for (let k = i; k < Math.min(perRound, i + parallel); k++) batch.push(one(k));
    await Promise.all(batch);
  }
  total += perRound;
  await settle([client, server]);
  const m = memory();
  if (round === 0) base = m;
  const conns = client.driver.tcp.connectionCount + server.driver.tcp.connectionCount;
  const row =
    `round ${round}: ${perRound} conns in ${((performance.now() - t0) / 1000).toFixed(1)} s` +
    `, left ${conns}, heap ${MB(m.heap)} MB, external ${MB(m.external)} MB, rss ${
      MB(m.rss)
    } MB, packet memory ${MB(m.pkt)} MB` +
    `, failures ${failures}`;
  console.log(row);
  rows.push(row);
  round++;
}
const end = memory();
const left = client.driver.tcp.connectionCount + server.driver.tcp.connectionCount;
console.log(
  `\n${total} connections in ${((performance.now() - start) / 1000).toFixed(0)} s; ` +
    `heap ${MB(base!.heap)} MB after round 0 -> ${MB(end.heap)} MB at the end ` +
    `(${(((end.heap - base!.heap) / base!.heap) * 100).toFixed(1)} %), ` +
    `external ${MB(base!.external)} -> ${MB(end.external)} MB, ` +
    `rss ${MB(base!.rss)} -> ${MB(end.rss)} MB, packet memory ${MB(base!.pkt)} -> ${
      MB(end.pkt)
    } MB`,
);
console.log("server stats:", JSON.stringify(server.stats()));
listener.close();
await serving.catch(() => {});
await client.close();
await server.close();

const grew = end.heap > base!.heap * 1.25 + 4 * 1048576 ||
  end.external > base!.external * 1.25 + 4 * 1048576;
let bad = failures > 0 || left > 0 || grew;
if (failures > 0) console.error(`FAIL: ${failures} connections failed`);
if (left > 0) console.error(`FAIL: ${left} connections left open`);
if (grew) console.error("FAIL: the heap or external memory did not return");
// A leaked timer or pending operation keeps the event loop alive past this watchdog.
const watchdog = setTimeout(() => {
  console.error("FAIL: the event loop is still alive 10 s after closing: a timer or op leaked");
  Deno.exit(1);
}, 10000);
Deno.unrefTimer(watchdog);
if (bad) Deno.exit(1);
bad = false;
console.log("soak passed: waiting for the event loop to empty");
addEventListener("unload", () => console.log("event loop empty: nothing left behind"));
