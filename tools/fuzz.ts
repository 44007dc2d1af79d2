/**
 * `deno task fuzz`: the long run of the whole-stack fuzz harness (tests/support/fuzz_run.ts).
 * One million hostile frames per engine by default, JS and WASM victims in lockstep, live echo
 * transfers between the peer and the victim when the TCP layer is present. Prints the frames
 * per second, the mutation mix and the histogram of what the frames did (drop reasons and
 * deliveries). Exits non-zero with the seed and the frame on any failed check.
 *
 * Usage: deno task fuzz [--frames N] [--seed S] [--iface-only] [--tolerate-storms]
 *
 * --tolerate-storms cuts frame loops between the two stacks (ACK wars) and counts them instead
 * of failing (see tests/e2e/robust_ack_storm.test.ts).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type FuzzReport, runFuzz } from "../tests/support/fuzz_run.ts";
import { loadTcpFactory } from "../tests/support/fuzz_tcp_types.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    frames: { type: "string", default: "1000000" },
    seed: { type: "string" },
    "iface-only": { type: "boolean", default: false },
    "tolerate-storms": { type: "boolean", default: false },
  },
});
const frames = Number(values.frames);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2147483647;
const tcp = values["iface-only"] ? null : await loadTcpFactory();
const level = tcp === null ? "interface level (no TCP layer)" : "whole stack with live transfers";

console.log(`fuzz: ${frames} frames per engine (js, wasm in lockstep), ${level}, seed ${seed}`);
let report: FuzzReport;
try {
  report = runFuzz({
    seed,
    frames,
    tcp,
    tolerateStorms: values["tolerate-storms"],
    progressEvery: 100000,
    progress: (n) => console.log(`  ${n} frames`),
  });
} catch (e) {
  console.error((e as Error).message);
  console.error(`reproduce: deno task fuzz --seed ${seed} --frames ${frames}`);
  Deno.exit(1);
}
const fps = Math.round(report.frames / (report.ms / 1000));
console.log(
  `\n${report.frames} frames per engine in ${(report.ms / 1000).toFixed(1)} s: ` +
    `${fps} frames/s per engine pair (${2 * fps} frames/s processed)`,
);
if (tcp !== null) {
  console.log(
    `live transfers: ${report.sessions} sessions completed byte-exact, ` +
      `${report.verifiedBytes} bytes verified, ${report.moved} real frames moved, ` +
      `${report.storms} frame loops cut`,
  );
}
console.log("\nmutations:");
for (const [k, v] of Object.entries(report.ops).sort((a, b) => b[1] - a[1])) {
  console.log(`  ${k.padEnd(16)} ${v}`);
}
console.log("\nwhat the injected frames did (a frame counts under every counter it moved):");
console.log("| counter | frames |\n|---|---|");
for (const [k, v] of Object.entries(report.histogram).sort((a, b) => b[1] - a[1])) {
  console.log(`| ${k} | ${v} |`);
}
