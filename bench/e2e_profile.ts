/**
 * Summarise a V8 `.cpuprofile` (written by `deno run --cpu-prof`) as the functions with the
 * most self time: where the end-to-end benchmark's process spends its CPU. Functions of this
 * repository are shown by path relative to it, so "ours" stands out from V8 and Deno internals.
 *
 *   deno run -A bench/e2e_profile.ts <file.cpuprofile> [top]
 *
 * @module
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** One function's share of the profile. */
export interface ProfileEntry {
  /** "name (file:line)". */
  name: string;
  /** Self time in milliseconds. */
  selfMs: number;
  /** Share of all sampled time, idle included, in percent. */
  percent: number;
}

const REPO = new URL("../", import.meta.url).href;

function label(cf: CallFrame): string {
  const fn = cf.functionName === "" ? "(anonymous)" : cf.functionName;
  if (cf.url === "") return fn;
  const file = cf.url.startsWith(REPO)
    ? cf.url.slice(REPO.length)
    : cf.url.replace(/^.*\/(ext|node|deno)\//, "$1/");
  return `${fn} (${file}:${cf.lineNumber + 1})`;
}

/**
 * Self time per function of `profile`, largest first: each sample's time delta is charged to
 * the function on top of the stack at that sample.
 *
 * @example
 * ```ts
 * import { selfTimes } from "./e2e_profile.ts";
 * const top = selfTimes({
 *   nodes: [{ id: 1, callFrame: { functionName: "f", url: "", lineNumber: 0 } }],
 *   samples: [1, 1],
 *   timeDeltas: [500, 1500],
 * });
 * if (top[0]?.selfMs !== 2) throw new Error("wrong self time");
 * ```
 */
export function selfTimes(profile: CpuProfile): ProfileEntry[] {
  const byId = new Map<number, string>();
  for (const n of profile.nodes) byId.set(n.id, label(n.callFrame));
  const us = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample; charge it to sample i.
    const d = Math.max(0, profile.timeDeltas[i] ?? 0);
    const name = byId.get(profile.samples[i]!) ?? "(unknown)";
    us.set(name, (us.get(name) ?? 0) + d);
    total += d;
  }
  return [...us.entries()]
    .map(([name, t]) => ({ name, selfMs: t / 1000, percent: total > 0 ? (100 * t) / total : 0 }))
    .sort((a, b) => b.selfMs - a.selfMs);
}

/** Read a `.cpuprofile` file and format its top `top` functions by self time, one per line. */
export async function summariseProfile(path: string, top = 15): Promise<string> {
  const profile = JSON.parse(await Deno.readTextFile(path)) as CpuProfile;
  const entries = selfTimes(profile);
  const busy = entries.filter((e) => e.name !== "(idle)").reduce((s, e) => s + e.percent, 0);
  const lines = entries.slice(0, top).map((e) =>
    `${e.percent.toFixed(1).padStart(5)}%  ${e.selfMs.toFixed(0).padStart(7)} ms  ${e.name}`
  );
  return [`not idle: ${busy.toFixed(1)}% of the sampled time`, ...lines].join("\n");
}

/** The newest `.cpuprofile` file in `dir`, or null. */
export function newestProfile(dir: string): string | null {
  let best: string | null = null;
  let bestTime = -1;
  for (const e of Deno.readDirSync(dir)) {
    if (!e.isFile || !e.name.endsWith(".cpuprofile")) continue;
    const t = Deno.statSync(`${dir}/${e.name}`).mtime?.getTime() ?? 0;
    if (t > bestTime) {
      bestTime = t;
      best = `${dir}/${e.name}`;
    }
  }
  return best;
}

if (import.meta.main) {
  const [path, top] = Deno.args;
  if (!path) throw new TypeError("Usage: e2e_profile.ts <file.cpuprofile> [top]");
  console.log(await summariseProfile(path, top ? Number(top) : 15));
}
