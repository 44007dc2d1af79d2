/**
 * The end-to-end benchmark (`deno task bench:e2e`): throughput and latency of our stack over
 * TAP against the Linux kernel, for both engines, next to kernel-to-kernel over veth,
 * slirp4netns (a C userspace stack over TAP) and two of our stacks joined by the memory link,
 * all in one run on this machine (at MTU 1500 also with TAP offloads, `TapOptions.offload`),
 * printed as one table (median of several runs, every row also
 * as a ratio to our WASM engine's row of the same test).
 *
 *   deno run -A bench/e2e.ts [--seconds 10] [--runs 3] [--quick] [--big-mtu 9000]
 *     [--only <text>] [--no-profile] [--buf N] [--json out.json] [--gateway]
 *
 * Bulk transfers stop at 1 GiB or `--seconds`, whichever comes first, after a 64 MiB warm-up
 * (past slow start); iperf3 references run `--seconds` and omit their first second. Latency
 * rows run min(3, seconds) seconds each. `--quick` is a smoke run (1 s, 1 run, small caps).
 * `--only` keeps the rows whose test or setup contains the text. Unless `--no-profile`, one
 * extra receive and send run of our WASM engine at MTU 1500, without and with offloads, is
 * profiled with `--cpu-prof` and the top functions by self time are printed after the table.
 *
 * Needs root and /dev/net/tun (every device and address lives in namespaces created and
 * deleted here), iperf3, socat, python3 and slirp4netns (`deno task setup` installs them).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { tapAvailable } from "../tools/netns.ts";
import { benchScript, lastJson } from "./e2e_peers.ts";
import { newestProfile, summariseProfile } from "./e2e_profile.ts";
import {
  slirpLatency,
  slirpThroughput,
  vethLatency,
  vethSocat,
  vethThroughput,
} from "./e2e_refs.ts";
import { renderTable, type Row, type Unit } from "./e2e_table.ts";
import { gatewayBench } from "./gateway.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "10" },
    runs: { type: "string", default: "3" },
    quick: { type: "boolean", default: false },
    "big-mtu": { type: "string", default: "9000" },
    only: { type: "string" },
    "no-profile": { type: "boolean", default: false },
    buf: { type: "string" },
    json: { type: "string" },
    // Also the gateway table of bench/gateway.ts (ours vs slirp4netns), same runs.
    gateway: { type: "boolean", default: false },
  },
});

const quick = args.quick;
const seconds = quick ? 1 : Number(args.seconds);
const runs = quick ? 1 : Number(args.runs);
const latencySeconds = Math.min(3, seconds);
const maxBytes = quick ? 256 << 20 : 1 << 30;
const warmupBytes = quick ? 16 << 20 : 64 << 20;
const bigMtu = Number(args["big-mtu"]);
if (!(seconds > 0) || !(runs >= 1) || !(bigMtu >= 1500 && bigMtu <= 65521)) {
  throw new RangeError("Bad --seconds, --runs or --big-mtu");
}

/** One planned row: how to measure one run of it. */
interface Plan {
  test: string;
  setup: string;
  unit: Unit;
  baseline?: boolean;
  /** Measure one run (run number `run`, from 0). */
  measure: (run: number) => Promise<number>;
}

/** Run our stack's child script once and return the figure under `key`. */
async function ours(
  mode: string,
  engine: string,
  mtu: number,
  secs: number,
  key: string,
  profileDir?: string,
  offload = false,
): Promise<number> {
  const flags = ["run", "-A"];
  if (profileDir) flags.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
  const childArgs = [
    ...flags,
    benchScript("e2e_ours.ts"),
    mode,
    "--engine",
    engine,
    "--mtu",
    String(mtu),
    "--seconds",
    String(secs),
    "--max-bytes",
    String(maxBytes),
    "--warmup-bytes",
    String(warmupBytes),
  ];
  if (args.buf !== undefined) childArgs.push("--buf", args.buf);
  if (offload) childArgs.push("--offload");
  const child = new Deno.Command(Deno.execPath(), {
    args: childArgs,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  // A child that hangs (a stalled connection) is killed: warm-up, window and set-up bounded.
  const limitMs = (secs + 40) * 1000;
  const timer = setTimeout(() => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
  }, limitMs);
  const out = await child.output().finally(() => clearTimeout(timer));
  const stderr = new TextDecoder().decode(out.stderr).trim();
  const what = `${mode} ${engine} ${mtu}${offload ? " offload" : ""}`;
  if (stderr !== "") console.error(`  [${what}] ${lastLines(stderr)}`);
  if (!out.success) {
    throw new Error(`${what} failed (${out.code}): ${firstError(stderr)}`);
  }
  const r = lastJson(new TextDecoder().decode(out.stdout));
  const v = r[key];
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new Error(`No ${key} in ${JSON.stringify(r)}`);
  }
  return v;
}
function lastLines(s: string): string {
  return s.split("\n").slice(-3).join(" / ");
}

function firstError(s: string): string {
  const line = s.split("\n").find((l) => /error|Error/.test(l)) ?? s.split("\n")[0] ?? "";
  return line.slice(0, 120);
}

async function one(f: Promise<number[]>): Promise<number> {
  const [v] = await f;
  if (v === undefined) throw new Error("No figure");
  return v;
}

function plan(): Plan[] {
  const p: Plan[] = [];
  const engines = ["wasm", "js"] as const;
  for (const mtu of [1500, bigMtu]) {
    for (
      const [dir, mode] of [["receive (kernel -> stack)", "tap-recv"], [
        "send (stack -> kernel)",
        "tap-send",
      ]] as const
    ) {
      const test = `${dir} MTU ${mtu}`;
      for (const e of engines) {
        p.push({
          test,
          setup: `ours, ${e}, TAP (socat peer)`,
          unit: "Gbit/s",
          baseline: e === "wasm",
          measure: () => ours(mode, e, mtu, seconds, "gbps"),
        });
      }
      if (mtu === 1500) {
        // TAP offloads (IFF_VNET_HDR, TSO4): the kernel hands us segments of up to 64 KiB.
        for (const e of engines) {
          p.push({
            test,
            setup: `ours, ${e}, TAP offload (socat peer)`,
            unit: "Gbit/s",
            measure: () => ours(mode, e, mtu, seconds, "gbps", undefined, true),
          });
        }
      }
      p.push({
        test,
        setup: "kernel <-> kernel, veth (iperf3)",
        unit: "Gbit/s",
        measure: (run) => vethCached(mtu, run),
      });
      p.push({
        test,
        setup: "kernel <-> kernel, veth (socat peer)",
        unit: "Gbit/s",
        measure: () => vethSocat(mtu, mode === "tap-send", { seconds, maxBytes, warmupBytes }),
      });
      p.push({
        test,
        setup: "slirp4netns, TAP (iperf3)",
        unit: "Gbit/s",
        measure: () => one(slirpThroughput(mtu, mode === "tap-send", seconds, 1)),
      });
    }
    const test = `memory link, stack -> stack MTU ${mtu}`;
    for (const e of engines) {
      p.push({
        test,
        setup: `ours, ${e}, two stacks, one process`,
        unit: "Gbit/s",
        baseline: e === "wasm",
        measure: () => ours("mem-bulk", e, mtu, seconds, "gbps"),
      });
    }
  }
  for (
    const [kind, test, unit, key] of [
      ["rr", "1-byte request/response, median round trip", "us", "medianUs"],
      ["cps", "connection setup rate (connect, FIN, close)", "conn/s", "rate"],
    ] as const
  ) {
    for (const e of engines) {
      p.push({
        test,
        setup: `ours, ${e}, TAP (Python peer)`,
        unit,
        baseline: e === "wasm",
        measure: () => ours(`tap-${kind}`, e, 1500, latencySeconds, key),
      });
    }
    p.push({
      test,
      setup: "kernel <-> kernel, veth (Deno client)",
      unit,
      measure: () => one(vethLatency(kind, latencySeconds, 1)),
    });
    p.push({
      test,
      setup: "slirp4netns, TAP (Deno client)",
      unit,
      measure: () => one(slirpLatency(kind, latencySeconds, 1)),
    });
    for (const e of engines) {
      p.push({
        test,
        setup: `ours, ${e}, memory link (both ends ours)`,
        unit,
        measure: () => ours(`mem-${kind}`, e, 1500, latencySeconds, key),
      });
    }
  }
  return p;
}

/** The veth row appears under both directions (kernel to kernel is one path): measure once. */
const vethRuns = new Map<string, Promise<number>>();
function vethCached(mtu: number, run: number): Promise<number> {
  const key = `${mtu}/${run}`;
  let r = vethRuns.get(key);
  if (!r) {
    r = one(vethThroughput(mtu, seconds, 1));
    vethRuns.set(key, r);
  }
  return r;
}

async function profileRuns(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "e2e-prof-" });
  const parts: string[] = [];
  for (const offload of [false, true]) {
    for (const mode of ["tap-recv", "tap-send"]) {
      const name = `${mode}${offload ? "-offload" : ""}`;
      try {
        const v = await ours(mode, "wasm", 1500, seconds, "gbps", `${dir}/${name}`, offload);
        const file = newestProfile(`${dir}/${name}`);
        parts.push(
          `profile of ${name}, wasm, MTU 1500 (${v.toFixed(2)} Gbit/s under the profiler)`,
        );
        parts.push(file ? await summariseProfile(file, 15) : "no profile written");
        if (file) parts.push(`(file: ${file})`);
      } catch (err) {
        parts.push(`profile of ${name} not taken: ${(err as Error).message}`);
      }
    }
  }
  return parts.join("\n");
}

function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return "?";
  }
}

/** What a reader needs to compare runs: kernel, CPUs, congestion control, load. */
function machine(loadStart: string): string {
  const load = readText("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  return `machine: Linux ${
    readText("/proc/sys/kernel/osrelease")
  }, ${navigator.hardwareConcurrency} CPUs, kernel TCP congestion control ${
    readText("/proc/sys/net/ipv4/tcp_congestion_control")
  }, Deno ${Deno.version.deno}; load average ${loadStart} at start, ${load} at end`;
}

if (import.meta.main) {
  const why = tapAvailable();
  if (why !== null) {
    console.error(`bench:e2e cannot run here: ${why}`);
    Deno.exit(1);
  }
  const started = performance.now();
  const loadStart = readText("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  const rows: Row[] = [];
  const only = args.only?.toLowerCase();
  const todo: { item: Plan; row: Row; failures: number }[] = [];
  for (const item of plan()) {
    const row: Row = { test: item.test, setup: item.setup, unit: item.unit, values: [] };
    if (item.baseline) row.baseline = true;
    rows.push(row);
    if (only && !`${item.test} ${item.setup}`.toLowerCase().includes(only)) {
      row.note = "filtered out by --only";
    } else todo.push({ item, row, failures: 0 });
  }
  // Rounds: every row's run i before any row's run i + 1, so that a change in the machine's
  // background load during the benchmark spreads over all rows instead of biasing some.
  for (let run = 0; run < runs; run++) {
    for (const t of todo) {
      if (t.failures >= 2) continue;
      const t0 = performance.now();
      let fig: string;
      try {
        const v = await t.item.measure(run);
        t.row.values.push(v);
        fig = `${v.toFixed(2)} ${t.item.unit}`;
      } catch (err) {
        t.failures++;
        t.row.note = (err as Error).message.split("\n")[0]!.slice(0, 140);
        fig = `failed: ${t.row.note}`;
      }
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      console.error(`run ${run + 1}/${runs} ${t.item.test} | ${t.item.setup}: ${fig} (${secs} s)`);
    }
  }
  for (const t of todo) {
    // A row measured in some runs keeps its figures; the error stays only for empty rows.
    if (t.row.values.length > 0 && t.failures > 0) t.row.note = `${t.failures} run(s) failed`;
  }
  console.log(`\n${machine(loadStart)}`);
  console.log(
    `bench:e2e, ${runs} run(s) per row, bulk: ${seconds} s or ${maxBytes >> 20} MiB after ${
      warmupBytes >> 20
    } MiB warm-up; latency rows ${latencySeconds} s; ${
      ((performance.now() - started) / 1000).toFixed(0)
    } s in all\n`,
  );
  console.log(renderTable(rows.filter((r) => r.note !== "filtered out by --only")));
  if (args.json) await Deno.writeTextFile(args.json, JSON.stringify(rows, null, 2));
  if (args.gateway) {
    console.log(`\n${await gatewayBench({ mb: quick ? 32 : 200, runs, mtus: [1500, 65520] })}`);
  }
  if (!args["no-profile"] && (!only || "receive send profile".includes(only))) {
    console.log(`\n${await profileRuns()}`);
  }
}
