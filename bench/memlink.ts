/**
 * Bulk goodput between two of our stacks over the in-process memory link, 256 KiB writes:
 * one self-contained script (imports only `mod.ts`) so that the same file runs against an
 * older checkout for a same-run baseline.
 *
 *   deno run -A bench/memlink.ts [--seconds 3] [--warmup-mib 64] [--offload] [--no-autotune]
 *     [--no-tso] [--engine wasm|js]
 *
 * Prints one JSON line: goodput (Gbit/s) over the window after the warm-up, the stack
 * counters that explain a figure (retransmissions, timeouts, link drops) and the window state
 * at the end (the receive buffer stays small here: the memory link's peer shares our thread,
 * so auto-tuning takes its strict rule, `sameThreadPeer` in src/link/link.ts).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createMemoryLinkPair, createStack } from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "3" },
    "warmup-mib": { type: "string", default: "64" },
    offload: { type: "boolean" },
    "no-offload": { type: "boolean", default: false },
    "no-autotune": { type: "boolean", default: false },
    "no-tso": { type: "boolean", default: false },
    engine: { type: "string", default: "wasm" },
    queue: { type: "string" },
  },
});
const seconds = Number(values.seconds);
const warmupBytes = Number(values["warmup-mib"]) * (1 << 20);
const engine = values.engine === "js" ? "js" : "wasm";
// Options an older checkout may not know are passed only when asked for.
const linkOpts: Record<string, unknown> = { mtu: 1500 };
if (values.offload) linkOpts.offload = true;
if (values["no-offload"]) linkOpts.offload = false;
if (values["no-tso"]) linkOpts.tso = false; // MTU-sized segments (the memory link's `tso`)
if (values.queue !== undefined) linkOpts.queueLimit = Number(values.queue);
const tcp: Record<string, unknown> = {};
if (values["no-autotune"]) tcp.autotune = false;

const CHUNK = 262144;
const [la, lb] = createMemoryLinkPair(linkOpts);
const a = await createStack({ link: la, address: "10.9.0.1/24", engine, tcp });
const b = await createStack({ link: lb, address: "10.9.0.2/24", engine, tcp });
const listener = b.listen({ port: 5001 });
const accepted = listener.accept();
const client = await a.connect({ hostname: "10.9.0.2", port: 5001 });
const server = await accepted;
listener.close();

let stop = false;
const source = (async () => {
  const chunk = new Uint8Array(CHUNK).fill(0x5a);
  while (!stop) await client.write(chunk);
})().catch(() => {});

const buf = new Uint8Array(CHUNK);
let warm = 0;
const warmEnd = performance.now() + 20000;
while (warm < warmupBytes && performance.now() < warmEnd) {
  const n = await server.read(buf);
  if (n === null) throw new Error("Peer closed during warm-up");
  warm += n;
}
const t0 = performance.now();
const end = t0 + seconds * 1000;
let bytes = 0;
let now = t0;
while (now < end && bytes < 64 * 2 ** 30) {
  const n = await server.read(buf);
  if (n === null) throw new Error("Peer closed");
  bytes += n;
  now = performance.now();
}
stop = true;
const gbps = (bytes * 8) / ((now - t0) * 1e6);
const stats: Record<string, number> = {};
for (const [k, v] of Object.entries({ ...a.stats(), ...b.stats() })) {
  if (typeof v === "number" && v !== 0 && /retrans|rto|drop|dup|sack|zero|tlp|growth/i.test(k)) {
    stats[k] = v;
  }
}
// Window state at the end (where the checkout has `info()`): what was in flight.
const ci = (client as unknown as { info?: () => Record<string, unknown> }).info?.();
const si = (server as unknown as { info?: () => Record<string, unknown> }).info?.();
const info = ci && si
  ? {
    srttMs: si.srttMs,
    sndWnd: ci.sndWnd,
    cwnd: ci.cwnd,
    rcvWscale: si.rcvWscale,
    // Where the checkout reports them: the receiver's buffer and the sender's ring now.
    rcvBuf: si.rcvBuf,
    sndBuf: ci.sndBuf,
  }
  : {};
client.abort();
server.close();
await source;
await a.close();
await b.close();
console.log(JSON.stringify({ gbps: Number(gbps.toFixed(3)), bytes, stats, info }));
