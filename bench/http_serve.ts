/**
 * `deno task bench:http`: `stack.serve` under `ab -k -c 20` against the same handler on
 * `Deno.serve` over the kernel, in one run. Ours: the stack on a TAP device in a namespace, ab
 * in that namespace. Baseline: a Deno process serving with `Deno.serve` in namespace "a", ab in
 * namespace "b", joined by a veth pair. Each setup runs 3 times (interleaved); the table shows
 * requests per second, the medians and their ratio. Every namespace is created and deleted here.
 *
 * Options: --requests N (per ab run, default 20000), --concurrency C (default 20),
 * --runs R (default 3), --engine wasm|js, --close (ab without -k: one connection per request,
 * so the figures are kernel clients' connections/s against our listener vs Deno.serve's).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createStack } from "../mod.ts";
import { type Netns, requireTapOrSkip, withTapNamespace } from "../tools/netns.ts";
import { withVeth } from "./e2e_refs.ts";
import { stop, waitListening } from "./e2e_peers.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    requests: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "20" },
    runs: { type: "string", default: "3" },
    engine: { type: "string", default: "wasm" },
    close: { type: "boolean", default: false },
  },
});
const REQUESTS = Number(args.values.requests);
const CONCURRENCY = Number(args.values.concurrency);
const RUNS = Number(args.values.runs);
const ENGINE = args.values.engine === "js" ? "js" : "wasm";
const KEEPALIVE = !args.values.close;
const BODY = "hello world\n";
const HANDLER_SRC = `() => new Response(${JSON.stringify(BODY)})`;

/** Run ab in `ns` against `url`; requests per second, after checking nothing failed. */
async function ab(ns: Netns, url: string): Promise<number> {
  const r = await ns.run([
    "ab",
    "-q",
    ...(KEEPALIVE ? ["-k"] : []),
    "-c",
    String(CONCURRENCY),
    "-n",
    String(REQUESTS),
    "-s",
    "30",
    url,
  ]);
  const out = r.stdout + r.stderr;
  const field = (name: string): number =>
    Number(out.match(new RegExp(`${name}:\\s+([\\d.]+)`))?.[1]);
  if (r.code !== 0 || field("Complete requests") !== REQUESTS || field("Failed requests") !== 0) {
    throw new Error(`ab against ${url} failed:\n${out}`);
  }
  return field("Requests per second");
}

/** One run of ab against stack.serve over TAP. */
async function ours(): Promise<number> {
  let rps = 0;
  await withTapNamespace({ kernelAddr: "10.7.0.1/24" }, async ({ ns, link }) => {
    const stack = await createStack({ link, address: "10.7.0.2/24", engine: ENGINE });
    const handler = (0, eval)(HANDLER_SRC) as () => Response;
    const server = stack.serve({ port: 8080, onListen() {} }, handler);
    try {
      await ab(ns, "http://10.7.0.2:8080/"); // warm-up (JIT, ARP)
      rps = await ab(ns, "http://10.7.0.2:8080/");
    } finally {
      await server.shutdown();
      await stack.close();
    }
  });
  return rps;
}

/**
 * Reference: the same answer written by a fixed responder straight on our `Conn`s (no HTTP
 * parsing: one canned response per read), to show what the TCP stack over TAP costs by itself.
 */
async function oursRaw(): Promise<number> {
  let rps = 0;
  const reply = new TextEncoder().encode(
    `HTTP/1.1 200 OK\r\ncontent-length: ${BODY.length}\r\n${
      KEEPALIVE ? "keep-alive: timeout=5" : "connection: close"
    }\r\n\r\n${BODY}`,
  );
  await withTapNamespace({ kernelAddr: "10.7.0.1/24" }, async ({ ns, link }) => {
    const stack = await createStack({ link, address: "10.7.0.2/24", engine: ENGINE });
    const listener = stack.listen({ port: 8080 });
    const serving = (async () => {
      for await (const conn of listener) {
        (async () => {
          const buf = new Uint8Array(65536);
          try {
            while ((await conn.read(buf)) !== null) {
              await conn.write(reply);
              if (!KEEPALIVE) break; // one request per connection, then our FIN
            }
          } catch { /* ab closed */ }
          conn.close();
        })();
      }
    })();
    try {
      await ab(ns, "http://10.7.0.2:8080/");
      rps = await ab(ns, "http://10.7.0.2:8080/");
    } finally {
      listener.close();
      await serving;
      await stack.close();
    }
  });
  return rps;
}

/** One run of ab against Deno.serve in another namespace over veth. */
function denoServe(): Promise<number> {
  return withVeth(1500, async (a, b) => {
    const code = `Deno.serve({ hostname: "10.8.0.1", port: 8080, onListen() {} }, ${HANDLER_SRC});`;
    const child = a.spawn([Deno.execPath(), "eval", code], { stdout: "null", stderr: "null" });
    try {
      await waitListening(a, 8080, 20_000);
      await ab(b, "http://10.8.0.1:8080/"); // warm-up
      return await ab(b, "http://10.8.0.1:8080/");
    } finally {
      await stop(child);
    }
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

if (import.meta.main) {
  if (!requireTapOrSkip()) Deno.exit(0);
  const rows = { ours: [] as number[], deno: [] as number[], raw: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    rows.deno.push(await denoServe());
    rows.ours.push(await ours());
    rows.raw.push(await oursRaw());
    console.error(
      `run ${i + 1}/${RUNS}: Deno.serve ${rows.deno.at(-1)} req/s, stack.serve ${
        rows.ours.at(-1)
      } req/s, fixed responder ${rows.raw.at(-1)} req/s`,
    );
  }
  const md = median(rows.deno);
  const mo = median(rows.ours);
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
  console.log(
    `ab ${
      KEEPALIVE ? "-k " : ""
    }-c ${CONCURRENCY} -n ${REQUESTS}, body ${BODY.length} bytes, engine ${ENGINE}, ${RUNS} runs\n`,
  );
  console.log("| setup                                   | runs (req/s) | median | ratio |");
  console.log("| --------------------------------------- | ------------ | ------ | ----- |");
  console.log(
    `| Deno.serve, kernel TCP over veth        | ${fmt(rows.deno)} | ${md.toFixed(0)} | 1.00 |`,
  );
  console.log(
    `| stack.serve, our TCP over TAP           | ${fmt(rows.ours)} | ${mo.toFixed(0)} | ${
      (mo / md).toFixed(2)
    } |`,
  );
  const mr = median(rows.raw);
  console.log(
    `| (ref.) fixed responder on our Conn, TAP | ${fmt(rows.raw)} | ${mr.toFixed(0)} | ${
      (mr / md).toFixed(2)
    } |`,
  );
  console.log(
    `\nstack.serve is ${(md / mo).toFixed(2)}x slower than Deno.serve (target: within 2x)`,
  );
}
