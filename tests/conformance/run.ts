/**
 * Runs every conformance case against both devices under test, Linux (on a veth, namespace
 * "dut") and our stack (on a TAP device), with one long-lived scapy bench process and one agent
 * per DUT, then compares the observations: agree, documented difference, or failure.
 *
 * Topology, identical addresses for both DUTs (PLAN in harness.ts):
 * - Linux: namespace B holds the bench's veth end (no address, promiscuous); the other end
 *   is in namespace D with 10.9.0.2. The agent (python3) runs in D, the bench in B.
 * - Ours: namespace B holds the TAP device's kernel side (no address); the agent opens the
 *   TAP inside B (`openTap({ netns })`) and runs our stack with 10.9.0.2 on it.
 * The bench's interface has no address, so its kernel sends no RSTs of its own.
 */

import { createNetns, type Netns } from "../../tools/netns.ts";
import { type Case, CASES } from "./cases.ts";
import { DIFFERENCES } from "./differences.ts";
import { Agent, Bench, type Ctx, JsonProc, PLAN } from "./harness.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const PY = "/usr/bin/python3"; // Debian's, where python3-scapy is installed

/** One DUT's setup: its agent, its bench, and teardown. */
interface Dut {
  agent: Agent;
  bench: Bench;
  close(): Promise<void>;
}

function piped(ns: Netns, cmd: string[], label: string): JsonProc {
  return new JsonProc(
    ns.spawn(cmd, { stdin: "piped", stdout: "piped", stderr: "piped" }),
    label,
  );
}

async function must(ns: Netns, cmd: string[]): Promise<void> {
  const r = await ns.run(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.trim()}`);
}

function benchCmd(ifname: string): string[] {
  return [PY, `${HERE}bench.py`, ifname, PLAN.benchMac, PLAN.benchIp, PLAN.dutMac, PLAN.dutIp];
}

async function linuxDut(): Promise<Dut> {
  const b = await createNetns();
  const d = await createNetns();
  const procs: JsonProc[] = [];
  const close = async (): Promise<void> => {
    for (const p of procs) await p.close().catch(() => {});
    await d.delete();
    await b.delete();
  };
  try {
    await must(b, [
      "ip",
      "link",
      "add",
      "vb",
      "type",
      "veth",
      "peer",
      "name",
      "vd",
      "netns",
      d.name,
    ]);
    await must(b, ["ip", "link", "set", "vb", "address", PLAN.benchMac, "promisc", "on", "up"]);
    await must(d, ["ip", "link", "set", "vd", "address", PLAN.dutMac]);
    await must(d, ["ip", "addr", "add", `${PLAN.dutIp}/24`, "dev", "vd"]);
    await must(d, ["ip", "link", "set", "vd", "up"]);
    // Frames as they are on a wire: no segmentation or checksum offload toward the bench.
    for (const [ns, dev] of [[d, "vd"], [b, "vb"]] as const) {
      await must(ns, ["ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", "tx", "off"]);
    }
    const agent = piped(d, [PY, `${HERE}linux_agent.py`], "linux agent");
    procs.push(agent);
    await agent.ready();
    const bench = piped(b, benchCmd("vb"), "bench (linux)");
    procs.push(bench);
    await bench.ready();
    return { agent: new Agent(agent), bench: new Bench(bench), close };
  } catch (e) {
    await close();
    throw e;
  }
}

async function ourDut(): Promise<Dut> {
  const b = await createNetns();
  const procs: JsonProc[] = [];
  const close = async (): Promise<void> => {
    for (const p of procs) await p.close().catch(() => {});
    await b.delete();
  };
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${ROOT}tools/conformance_agent.ts`,
        b.name,
        "tap0",
        `${PLAN.dutIp}/24`,
        PLAN.dutMac,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const agent = new JsonProc(child, "our agent");
    procs.push(agent);
    await agent.ready(60_000);
    await must(b, ["ip", "link", "set", "tap0", "address", PLAN.benchMac, "promisc", "on", "up"]);
    const bench = piped(b, benchCmd("tap0"), "bench (ours)");
    procs.push(bench);
    await bench.ready();
    return { agent: new Agent(agent), bench: new Bench(bench), close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** The observation of one case on one DUT. */
export interface Outcome {
  name: string;
  rfc: string;
  linux: string;
  ours: string;
  verdict: "agree" | "documented" | "fail";
  reason?: string;
}

const CASE_TIMEOUT_MS = 15_000;

async function runAll(dut: Dut, label: string, cases: Case[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let n = 0;
  for (const c of cases) {
    n++;
    let bp = 30000 + n * 16;
    const ctx: Ctx = {
      bench: dut.bench,
      agent: dut.agent,
      dut: label,
      port: 20000 + n,
      bport: () => bp++,
    };
    await dut.bench.drain();
    let obs: string;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      obs = await Promise.race([
        c.run(ctx),
        new Promise<string>((_, rej) =>
          timer = setTimeout(() => rej(new Error("case timed out")), CASE_TIMEOUT_MS)
        ),
      ]);
    } catch (e) {
      obs = `error: ${(e as Error).message}`;
    } finally {
      clearTimeout(timer);
    }
    out.set(c.name, obs);
    await dut.agent.reset().catch(() => {});
    if (Deno.env.get("CONFORMANCE_VERBOSE")) console.log(`  [${label}] ${c.name}: ${obs}`);
  }
  return out;
}

/** Options of {@link runConformance}. */
export interface RunOptions {
  /** Only cases whose name contains one of these. */
  filter?: string[];
  /** Write docs/conformance.md (default true when every case ran). */
  writeDoc?: boolean;
  log?: (line: string) => void;
}

/** Run the bench; returns the outcomes and the summary line. */
export async function runConformance(
  o: RunOptions = {},
): Promise<{ outcomes: Outcome[]; summary: string; failures: number }> {
  const log = o.log ?? console.log;
  const cases = o.filter?.length
    ? CASES.filter((c) => o.filter!.some((f) => c.name.includes(f)))
    : CASES;
  const results: Record<string, Map<string, string>> = {};
  for (const [label, make] of [["linux", linuxDut], ["ours", ourDut]] as const) {
    const t0 = performance.now();
    const dut = await make();
    try {
      results[label] = await runAll(dut, label, cases);
    } finally {
      await dut.close();
    }
    log(`${label}: ${cases.length} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const outcomes: Outcome[] = cases.map((c) => {
    const linux = results.linux!.get(c.name)!;
    const ours = results.ours!.get(c.name)!;
    const doc = DIFFERENCES[c.name];
    const bad = linux.startsWith("error:") || ours.startsWith("error:");
    let verdict: Outcome["verdict"] = "fail";
    if (!bad && linux === ours) verdict = "agree";
    else if (!bad && doc && doc.ours === ours && doc.linux === linux) verdict = "documented";
    return { name: c.name, rfc: c.rfc, linux, ours, verdict, reason: doc?.reason };
  });
  const a = outcomes.filter((x) => x.verdict === "agree").length;
  const d = outcomes.filter((x) => x.verdict === "documented").length;
  const f = outcomes.length - a - d;
  for (const x of outcomes) {
    if (x.verdict === "fail") log(`FAIL ${x.name}: linux "${x.linux}" / ours "${x.ours}"`);
  }
  if (o.writeDoc ?? !o.filter?.length) {
    const doc = `${ROOT}docs/conformance.md`;
    await Deno.writeTextFile(doc, renderDoc(outcomes, a, d, f));
    // The table as `deno fmt` lays it out, so the checked-in file passes `deno fmt --check`.
    await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", doc], stdout: "null" }).output();
  }
  const summary =
    `conformance: ${outcomes.length} cases, ${a} agree with Linux, ${d} documented differences, ${f} failures`;
  return { outcomes, summary, failures: f };
}

function cell(s: string): string {
  return s.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function renderDoc(outcomes: Outcome[], a: number, d: number, f: number): string {
  const lines = [
    "# Conformance against Linux",
    "",
    "Written by `deno task conformance` (tests/conformance/, tools/conformance.ts): every case is",
    "run against the Linux kernel (veth in a namespace) and against our stack (TAP in a namespace),",
    "driven by the same scapy bench and the same agent protocol; the observations are abstract",
    "(flags, sequence numbers relative to what each side sent, socket results), never raw ISNs or",
    "timestamps. A case agrees, differs for a documented reason (tests/conformance/differences.ts,",
    "with the RFC text that allows it), or fails.",
    "",
    `${outcomes.length} cases, ${a} agree with Linux, ${d} documented differences, ${f} failures.`,
    "",
    "| Case | RFC | Linux | Ours | Verdict |",
    "| ---- | --- | ----- | ---- | ------- |",
    ...outcomes.map((x) =>
      `| ${x.name} | ${cell(x.rfc)} | ${cell(x.linux)} | ${cell(x.ours)} | ${
        x.verdict === "documented" ? `documented: ${cell(x.reason ?? "")}` : x.verdict
      } |`
    ),
    "",
  ];
  return lines.join("\n");
}
