/**
 * The burst benchmark (`deno task bench:burst`): 10,000 concurrent connects from the Linux
 * kernel to our stack over TAP with default options, alone and during a flood of 20,000
 * spoofed SYNs (half on-link, half off-link), `--runs` times each (default 3), alternating,
 * in one run on this machine. Prints the medians: time until every connection is up, until
 * every one echoed a byte, connect latency percentiles, connections per second (connections /
 * time until all were up), and the flood's connections/s as a ratio to the same run's
 * baseline without a flood.
 *
 *   deno run -A bench/burst.ts [--runs 3] [--count 10000] [--flood 20000] [--json out.json]
 *
 * Needs root and /dev/net/tun; everything lives in namespaces created and deleted here.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type BurstResult, runBurst } from "../tools/burst.ts";
import { tapAvailable } from "../tools/netns.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "3" },
    count: { type: "string", default: "10000" },
    flood: { type: "string", default: "20000" },
    json: { type: "string" },
  },
});
const runs = Number(values.runs), count = Number(values.count), flood = Number(values.flood);
const why = tapAvailable();
if (why !== null) {
  console.error(`bench:burst needs TAP: ${why}`);
  Deno.exit(1);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const rows: Record<string, BurstResult[]> = { "no flood": [], "SYN flood": [] };
for (let i = 0; i < runs; i++) {
  for (const [name, f] of [["no flood", 0], ["SYN flood", flood]] as const) {
    const r = await runBurst({ count, flood: f, limitS: 30 });
    rows[name]!.push(r);
    const c = r.client;
    console.error(
      `run ${i + 1} ${name}: ${c["connected"]}/${count} up in ${c["all_connected_s"]} s, ` +
        `echoed in ${c["all_echoed_s"]} s, p99 ${c["p99_ms"]} ms, ` +
        `cookies ${r.stats["tcp-syncookie-ok"] ?? 0}, kernel TAP drops ${r.tapTxDropped}`,
    );
  }
}

const summary: Record<string, Record<string, number>> = {};
for (const [name, rs] of Object.entries(rows)) {
  const num = (f: (r: BurstResult) => number | null | undefined) =>
    median(rs.map((r) => Number(f(r) ?? NaN)));
  summary[name] = {
    allUpS: num((r) => r.client["all_connected_s"]),
    allEchoedS: num((r) => r.client["all_echoed_s"]),
    p50Ms: num((r) => r.client["p50_ms"]),
    p99Ms: num((r) => r.client["p99_ms"]),
    connPerS: num((r) => count / Number(r.client["all_connected_s"] ?? NaN)),
    cookieConns: num((r) => r.stats["tcp-syncookie-ok"] ?? 0),
    heapMaxMiB: num((r) => r.heapMax / 2 ** 20),
  };
}
const base = summary["no flood"]!.connPerS!;
console.log(`\n${count} concurrent connects, default options, medians of ${runs} runs\n`);
console.log(
  "| run | all up (s) | all echoed (s) | p50 / p99 connect (ms) | conn/s | ratio | via cookies | heap max (MiB) |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const [name, s] of Object.entries(summary)) {
  console.log(
    `| ${name} | ${s.allUpS!.toFixed(2)} | ${s.allEchoedS!.toFixed(2)} | ${s.p50Ms!.toFixed(0)} / ${
      s.p99Ms!.toFixed(0)
    } | ${s.connPerS!.toFixed(0)} | ${(s.connPerS! / base).toFixed(2)} | ${s.cookieConns} | ${
      s.heapMaxMiB!.toFixed(0)
    } |`,
  );
}
if (values.json) await Deno.writeTextFile(values.json, JSON.stringify({ summary, rows }, null, 2));
