/**
 * The end-to-end benchmark (`deno task bench:e2e`): our stack over TAP with its DEFAULT options
 * (offloads on, buffers auto-tuned, WASM engine) against ordinary applications on the kernel's
 * TCP (python3 `sendall` of 16 and 64 KiB blocks and `recv_into`, curl upload and download,
 * socat with 256 KiB blocks as the best case), next to the same applications talking to kernel
 * sockets over veth (the baseline of every ratio) and through slirp4netns (a C userspace stack
 * over TAP), plus latency, connection rate and two of our stacks joined by the memory link, all
 * in one run on this machine, printed as one table: the median of several runs, the spread,
 * the ratio to the same run's veth row and the CPU the measuring process used per Gbit/s.
 *
 *   deno run -A bench/e2e.ts [--seconds 5] [--runs 3] [--quick] [--only <text>]
 *     [--no-profile] [--json out.json] [--gateway] [--concurrency 16]
 *
 * The connection rows run one connection after another, and again with `--concurrency` clients
 * of one program in flight at once (as a crawler or a load generator), each against the same
 * single-threaded Python server.
 *
 * The "IPv6 vs IPv4" rows run our stack's python 64 KiB and 1-byte round-trip rows over IPv6
 * (the same namespace, device and applications) beside the same run's IPv4 figure (baseline).
 *
 * Bulk rows stop at 1 GiB or `--seconds`, whichever comes first, after a 32 MiB warm-up (past
 * slow start, buffers grown). Latency rows run min(3, seconds) seconds each. `--quick` is a
 * smoke run (1 s, 1 run, small caps). `--only` keeps the rows whose test or setup contains the
 * text. Unless `--no-profile`, one extra receive and send run of our stack (python3 64 KiB) is
 * profiled with `--cpu-prof` and the top functions by self time are printed after the table.
 *
 * CPU: process CPU time (user + system, /proc/self/stat) of the process that plays the
 * listening role over the measured window, in % of one core per Gbit/s: our whole stack for
 * our rows; for veth and slirp4netns rows only the Deno process on kernel sockets (the
 * kernel's TCP work in softirq and slirp4netns itself are not in it). Connection rows give the
 * CPU per connection instead (microseconds, process CPU time over the window / connections):
 * ours over TAP is our whole stack and the client (the Python server is another process); ours
 * over the memory link is both stacks, client and server; veth and slirp4netns rows are the
 * Deno client on kernel sockets, with the kernel TCP work its system calls do.
 *
 * Needs root and /dev/net/tun (every device and address lives in namespaces created and
 * deleted here), socat, python3, curl and slirp4netns (`deno task setup` installs them).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { tapAvailable } from "../tools/netns.ts";
import { APPS } from "./e2e_apps.ts";
import { benchScript, lastJson } from "./e2e_peers.ts";
import { newestProfile, summariseProfile } from "./e2e_profile.ts";
import {
  type LatencyFigure,
  slirpApp,
  slirpLatency,
  vethApp,
  vethApp6,
  vethLatency,
} from "./e2e_refs.ts";
import { renderTable, type Row, type Unit } from "./e2e_table.ts";
import { gatewayBench } from "./gateway.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "5" },
    runs: { type: "string", default: "3" },
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    "no-profile": { type: "boolean", default: false },
    json: { type: "string" },
    // Clients in flight at once in the concurrent connection rows.
    concurrency: { type: "string", default: "16" },
    // Also the gateway table of bench/gateway.ts (ours vs slirp4netns), same runs.
    gateway: { type: "boolean", default: false },
  },
});

const quick = args.quick;
const seconds = quick ? 1 : Number(args.seconds);
const runs = quick ? 1 : Number(args.runs);
const latencySeconds = Math.min(3, seconds);
const maxBytes = quick ? 256 << 20 : 1 << 30;
const warmupBytes = quick ? 16 << 20 : 32 << 20;
const limits = { seconds, maxBytes, warmupBytes };
const concurrency = Number(args.concurrency);
if (!(seconds > 0) || !(runs >= 1) || !(Number.isInteger(concurrency) && concurrency >= 2)) {
  throw new RangeError("Bad --seconds, --runs or --concurrency");
}

/**
 * One run's figure and the CPU of the measuring process: for bulk rows in % of a core, for
 * connection rows in microseconds per connection.
 */
interface Figure {
  value: number;
  cpuPct?: number;
  cpuUsPerConn?: number;
}

/** One planned row: how to measure one run of it. */
interface Plan {
  test: string;
  setup: string;
  unit: Unit;
  baseline?: boolean;
  /** Measure one run (run number `run`, from 0). */
  measure: (run: number) => Promise<Figure>;
}

/** Run our stack's child script once and return its result line. */
async function ours(
  mode: string,
  secs: number,
  extra: string[] = [],
  profileDir?: string,
): Promise<Record<string, number>> {
  const flags = ["run", "-A"];
  if (profileDir) flags.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
  const childArgs = [
    ...flags,
    benchScript("e2e_ours.ts"),
    mode,
    "--seconds",
    String(secs),
    "--max-bytes",
    String(maxBytes),
    "--warmup-bytes",
    String(warmupBytes),
    ...extra,
  ];
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
  const what = `${mode} ${extra.join(" ")}`;
  if (stderr !== "") console.error(`  [${what}] ${lastLines(stderr)}`);
  if (!out.success) {
    throw new Error(`${what} failed (${out.code}): ${firstError(stderr)}`);
  }
  return lastJson(new TextDecoder().decode(out.stdout));
}

function lastLines(s: string): string {
  return s.split("\n").slice(-3).join(" / ");
}

function firstError(s: string): string {
  const line = s.split("\n").find((l) => /error|Error/.test(l)) ?? s.split("\n")[0] ?? "";
  return line.slice(0, 120);
}

function pick(r: Record<string, number>, key: string): Figure {
  const v = r[key];
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new Error(`No ${key} in ${JSON.stringify(r)}`);
  }
  return { value: v, cpuPct: r.cpuPct, cpuUsPerConn: r.cpuUsPerConn };
}

async function one(f: Promise<LatencyFigure[]>): Promise<Figure> {
  const [v] = await f;
  if (v === undefined) throw new Error("No figure");
  return v;
}

/** Reference runs shared by two rows (the veth socat row also stands beside the memory link). */
const refRuns = new Map<string, Promise<Record<string, number>>>();
function cachedRef(
  key: string,
  run: number,
  f: () => Promise<Record<string, number>>,
): Promise<Record<string, number>> {
  const k = `${key}/${run}`;
  let r = refRuns.get(k);
  if (!r) {
    r = f();
    refRuns.set(k, r);
  }
  return r;
}

const RECEIVE_APPS = ["py-send-64k", "py-send-16k", "curl-up", "socat-send"];
const SEND_APPS = ["py-recv-64k", "curl-down", "socat-recv"];
/** Applications that also get a row of our stack without TAP offloads. */
const NO_OFFLOAD_APPS = new Set(["py-send-64k", "py-recv-64k"]);

function plan(): Plan[] {
  const p: Plan[] = [];
  for (
    const [dir, apps] of [
      ["receive (kernel app sends, stack receives)", RECEIVE_APPS],
      ["send (stack sends, kernel app receives)", SEND_APPS],
    ] as const
  ) {
    for (const app of apps) {
      const test = `${dir}: ${APPS[app]!.label}, MTU 1500`;
      p.push({
        test,
        setup: "ours, defaults (TAP offload, auto-tuned buffers, wasm)",
        unit: "Gbit/s",
        measure: async (run) =>
          pick(
            await cachedRef(`ours-${app}`, run, () => ours("tap-app", seconds, ["--app", app])),
            "gbps",
          ),
      });
      if (NO_OFFLOAD_APPS.has(app)) {
        p.push({
          test,
          setup: "ours, offload: false",
          unit: "Gbit/s",
          measure: async () =>
            pick(await ours("tap-app", seconds, ["--app", app, "--no-offload"]), "gbps"),
        });
      }
      p.push({
        test,
        setup: "kernel <-> kernel, veth",
        unit: "Gbit/s",
        baseline: true,
        measure: async (run) => pick(await cachedRef(app, run, () => vethApp(app, limits)), "gbps"),
      });
      p.push({
        test,
        setup: "slirp4netns, TAP",
        unit: "Gbit/s",
        measure: async () => pick(await slirpApp(app, limits), "gbps"),
      });
    }
  }
  {
    const test = "memory link, stack -> stack, 256 KiB writes, MTU 1500";
    p.push({
      test,
      setup: "ours, defaults, two stacks, one process",
      unit: "Gbit/s",
      measure: async () => pick(await ours("mem-bulk", seconds), "gbps"),
    });
    p.push({
      test,
      setup: "ours, memory link offload: true (merged 64 KiB frames)",
      unit: "Gbit/s",
      measure: async () => pick(await ours("mem-bulk", seconds, ["--mem-offload"]), "gbps"),
    });
    p.push({
      test,
      setup: "kernel <-> kernel, veth (socat 256 KiB)",
      unit: "Gbit/s",
      baseline: true,
      measure: async (run) =>
        pick(await cachedRef("socat-send", run, () => vethApp("socat-send", limits)), "gbps"),
    });
  }
  for (
    const [kind, test, unit, key, conc] of [
      ["rr", "1-byte request/response, median round trip", "us", "medianUs", 1],
      ["cps", "connection setup rate, Deno client (connect, FIN, close)", "conn/s", "rate", 1],
      [
        "crr",
        "short connections, Deno client (connect, 1-byte request and answer, FIN, close)",
        "conn/s",
        "rate",
        1,
      ],
      [
        "cps",
        `connection setup rate, ${concurrency} Deno clients in flight (connect, FIN, close)`,
        "conn/s",
        "rate",
        concurrency,
      ],
      [
        "crr",
        `short connections, ${concurrency} Deno clients in flight (1-byte request and answer)`,
        "conn/s",
        "rate",
        concurrency,
      ],
    ] as const
  ) {
    const extra = conc > 1 ? ["--concurrency", String(conc)] : [];
    const ref = `ours-${kind}${conc > 1 ? `-c${conc}` : ""}`;
    p.push({
      test,
      setup: "ours, defaults, TAP (Python server)",
      unit,
      measure: async (run) =>
        pick(await cachedRef(ref, run, () => ours(`tap-${kind}`, latencySeconds, extra)), key),
    });
    p.push({
      test,
      setup: "kernel <-> kernel, veth (Python server)",
      unit,
      baseline: true,
      measure: () => one(vethLatency(kind, latencySeconds, 1, conc)),
    });
    p.push({
      test,
      setup: "slirp4netns, TAP (Python server)",
      unit,
      measure: () => one(slirpLatency(kind, latencySeconds, 1, conc)),
    });
    p.push({
      test,
      setup: "ours, memory link (both ends ours)",
      unit,
      measure: async () => pick(await ours(`mem-${kind}`, latencySeconds, extra), key),
    });
  }
  // IPv6 against IPv4 through the same device and applications, same run (issue 19 target:
  // within 10%). The IPv4 figures are those of the rows above (one measurement per run).
  for (
    const [app, label] of [
      ["py-send-64k", "receive: python3 sendall 64 KiB, stack receives"],
      ["py-recv-64k", "send: stack sends, python3 recv_into 64 KiB"],
    ] as const
  ) {
    const test = `IPv6 vs IPv4, ${label}, MTU 1500`;
    p.push({
      test,
      setup: "ours, IPv4, defaults",
      unit: "Gbit/s",
      baseline: true,
      measure: async (run) =>
        pick(
          await cachedRef(`ours-${app}`, run, () => ours("tap-app", seconds, ["--app", app])),
          "gbps",
        ),
    });
    p.push({
      test,
      setup: "ours, IPv6, defaults",
      unit: "Gbit/s",
      measure: async () => pick(await ours("tap-app", seconds, ["--app", app, "--ipv6"]), "gbps"),
    });
    // The kernel's own IPv6/IPv4 ratio on the same applications, as a reference.
    const ref = `IPv6 vs IPv4 (kernel reference), ${label.replace("stack", "Deno on kernel")}`;
    p.push({
      test: ref,
      setup: "kernel <-> kernel, veth, IPv4",
      unit: "Gbit/s",
      baseline: true,
      measure: async (run) => pick(await cachedRef(app, run, () => vethApp(app, limits)), "gbps"),
    });
    p.push({
      test: ref,
      setup: "kernel <-> kernel, veth, IPv6",
      unit: "Gbit/s",
      measure: async () => pick(await vethApp6(app, limits), "gbps"),
    });
  }
  {
    const test = "IPv6 vs IPv4, 1-byte request/response, median round trip";
    p.push({
      test,
      setup: "ours, IPv4, TAP (Python server)",
      unit: "us",
      baseline: true,
      measure: async (run) =>
        pick(await cachedRef("ours-rr", run, () => ours("tap-rr", latencySeconds)), "medianUs"),
    });
    p.push({
      test,
      setup: "ours, IPv6, TAP (Python server)",
      unit: "us",
      measure: async () => pick(await ours("tap-rr", latencySeconds, ["--ipv6"]), "medianUs"),
    });
  }
  return p;
}

async function profileRuns(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "e2e-prof-" });
  const parts: string[] = [];
  for (const offload of [true, false]) {
    for (const app of ["py-send-64k", "py-recv-64k"]) {
      const name = `${app}${offload ? "" : "-no-offload"}`;
      try {
        const extra = ["--app", app, ...(offload ? [] : ["--no-offload"])];
        const r = await ours("tap-app", seconds, extra, `${dir}/${name}`);
        const file = newestProfile(`${dir}/${name}`);
        parts.push(
          `profile of ours with ${name}, MTU 1500 (${
            r.gbps?.toFixed(2)
          } Gbit/s under the profiler)`,
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
    const row: Row = { test: item.test, setup: item.setup, unit: item.unit, values: [], cpu: [] };
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
        const f = await t.item.measure(run);
        t.row.values.push(f.value);
        if (f.cpuPct !== undefined && Number.isFinite(f.cpuPct)) {
          t.row.cpu!.push(f.cpuPct / f.value);
        }
        if (f.cpuUsPerConn !== undefined && Number.isFinite(f.cpuUsPerConn)) {
          t.row.cpu!.push(f.cpuUsPerConn);
          t.row.cpuUnit = "us/conn";
        }
        fig = `${f.value.toFixed(2)} ${t.item.unit}` +
          (f.cpuPct !== undefined ? `, CPU ${f.cpuPct.toFixed(0)}%` : "") +
          (f.cpuUsPerConn !== undefined ? `, CPU ${f.cpuUsPerConn.toFixed(1)} us/conn` : "");
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
