/**
 * The fuzz run shared by `deno task fuzz` (tools/fuzz.ts, a million frames per engine) and the
 * short run in the test suite (tests/e2e/robust_fuzz.test.ts): one world per engine in lockstep,
 * the same hostile frames injected into every victim between the frames of live transfers.
 *
 * Checked for every injected frame: no exception escapes; the frame is counted (some counter
 * beyond frames-in moved); every engine counted the same things and answered with the same
 * bytes. Checked over the run: the protected transfers complete byte-exact in bounded virtual
 * time; the interface's memory stays within its limits. A failure throws a FuzzFailure naming
 * the seed, the frame number, the mutation and the frame in hex.
 *
 * @module
 */

import type { EngineKind } from "../../src/kernels/engine.ts";
import type { IfaceLimits } from "../../src/iface/limits.ts";
import { protectPorts, Traffic } from "./fuzz_apps.ts";
import { seedCorpus } from "./fuzz_corpus.ts";
import { hex, mutate } from "./fuzz_frames.ts";
import { Rng } from "./rng.ts";
import type { TcpFactory } from "./fuzz_tcp_types.ts";
import { World } from "./fuzz_world.ts";

/** What a fuzz run does. */
export interface FuzzOptions {
  seed: number;
  /** Hostile frames injected into each victim. */
  frames: number;
  /** The TCP layer (null: interface level only, no live transfers). */
  tcp: TcpFactory | null;
  /** Engines run in lockstep (default js and wasm). */
  engines?: EngineKind[];
  /** Bytes per client per session (default 20000). */
  bytes?: number;
  /**
   * Frame loops between the nodes (more than 600 frames in one pump) are failures unless
   * this is true; then they are cut (frames dropped) and counted in the report.
   */
  tolerateStorms?: boolean;
  /** Called every `progressEvery` frames with the frames done. */
  progress?: (done: number) => void;
  progressEvery?: number;
}

/** What a fuzz run measured. */
export interface FuzzReport {
  frames: number;
  ms: number;
  /** Counters moved by injected frames (a frame counts under every counter it moved). */
  histogram: Record<string, number>;
  /** Mutation operators used. */
  ops: Record<string, number>;
  /** Sessions of live transfers completed byte-exact, and their bytes. */
  sessions: number;
  verifiedBytes: number;
  /** Real frames moved between the nodes (per world). */
  moved: number;
  /** Frame loops cut (see FuzzOptions.tolerateStorms). */
  storms: number;
  /** Victim stats of the first world at the end. */
  finalStats: Record<string, number>;
}

/** A failed fuzz check, with what it takes to reproduce it. */
export class FuzzFailure extends Error {
  override name = "FuzzFailure";
}

/** The victim's interface limits during fuzzing: small, so the edges are reached. */
export const FUZZ_LIMITS: Partial<IfaceLimits> = {
  arpCacheSize: 16,
  fragMemory: 65536,
  fragDatagrams: 8,
  udpQueueDatagrams: 4,
  fragTimeoutMs: 5000,
};

/** Counters that move for every frame or are gauges: they say nothing about the verdict. */
const NOISE = new Set([
  "frames-in",
  "bytes-in",
  "frames-out",
  "bytes-out",
  "arp-cache-entries",
  "frag-memory",
  "frag-datagrams",
  "udp-sockets",
]);

function diff(a: Record<string, number>, b: Record<string, number>): string[] {
  const keys: string[] = [];
  for (const k in b) if (!NOISE.has(k) && b[k] !== (a[k] ?? 0)) keys.push(k);
  return keys.sort();
}

function same(a: Uint8Array[], b: Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (x.length !== y.length) return false;
    for (let k = 0; k < x.length; k++) if (x[k] !== y[k]) return false;
  }
  return true;
}

/** Run the fuzz. Throws FuzzFailure on the first failed check. */
export function runFuzz(o: FuzzOptions): FuzzReport {
  const engines = o.engines ?? ["js", "wasm"];
  const worlds = engines.map((kind) =>
    new World({ kind, seed: o.seed, tcp: o.tcp, limits: FUZZ_LIMITS })
  );
  const traffic = o.tcp === null ? null : worlds.map((w) => new Traffic(w));
  const rng = new Rng(o.seed);
  const appRng = worlds.map(() => new Rng(o.seed ^ 0x1234567));
  const corpus = seedCorpus();
  const histogram: Record<string, number> = {};
  const ops: Record<string, number> = {};
  const fail = (i: number, why: string, frame?: Uint8Array, op?: string): never => {
    throw new FuzzFailure(
      `Fuzz failed (seed ${o.seed}, frame ${i}${op ? `, mutation ${op}` : ""}): ${why}` +
        (frame ? `\nframe (${frame.length} bytes):\n${hex(frame)}` : ""),
    );
  };
  const start = performance.now();
  const startSession = () =>
    traffic?.forEach((t, k) => {
      t.start(appRng[k]!, 2, 2, o.bytes ?? 20000);
    });
  for (const w of worlds) w.settle();
  startSession();
  let done = 0;
  const every = o.progressEvery ?? 100000;
  while (done < o.frames) {
    // A few hostile frames, then let the real traffic move for one millisecond.
    const burst = 1 + rng.int(32);
    for (let b = 0; b < burst && done < o.frames; b++, done++) {
      const live = worlds[0]!.recent;
      const useLive = live.length > 0 && rng.chance(0.6);
      const src = useLive ? rng.pick(live) : rng.pick(corpus);
      const { frame, op } = mutate(rng, src);
      if (traffic !== null) protectPorts(frame, true);
      ops[op] = (ops[op] ?? 0) + 1;
      let firstOut: Uint8Array[] | null = null;
      let firstDiff: string[] | null = null;
      for (const w of worlds) {
        const before = w.victim.stats();
        let out: Uint8Array[];
        try {
          out = w.inject(frame);
        } catch (e) {
          return fail(done, `${w.victim.engine.kind} threw ${(e as Error).stack}`, frame, op);
        }
        const d = diff(before, w.victim.stats());
        if (firstOut === null || firstDiff === null) {
          firstOut = out;
          firstDiff = d;
          if (d.length === 0) fail(done, "the frame was not counted anywhere", frame, op);
          for (const k of d) histogram[k] = (histogram[k] ?? 0) + 1;
          // Segments TCP took without counting anything (accepted, or dropped silently).
          if (d.length === 1 && d[0] === "tcp-in") {
            histogram["(tcp-in, no TCP counter)"] = (histogram["(tcp-in, no TCP counter)"] ?? 0) +
              1;
          }
        } else {
          if (d.join() !== firstDiff.join()) {
            fail(done, `engines disagree: ${firstDiff.join(",")} vs ${d.join(",")}`, frame, op);
          }
          if (!same(out, firstOut)) fail(done, "engines answered with different bytes", frame, op);
        }
      }
      if (o.progress && done % every === 0 && done > 0) o.progress(done);
    }
    for (let k = 0; k < worlds.length; k++) {
      const w = worlds[k]!;
      try {
        traffic?.[k]?.step();
        w.tick(1);
        traffic?.[k]?.step();
      } catch (e) {
        fail(done, `${w.victim.engine.kind} world threw ${(e as Error).stack}`);
      }
      if (w.storms > 0 && !o.tolerateStorms) {
        fail(
          done,
          "a frame loop between the nodes (over 600 frames in one pump): see " +
            "tests/e2e/robust_ack_storm.test.ts; tolerateStorms (--tolerate-storms) cuts and counts them",
        );
      }
      const s = w.victim.iface.stats();
      if ((s["frag-memory"] ?? 0) > FUZZ_LIMITS.fragMemory!) fail(done, "fragment memory");
      if ((s["arp-cache-entries"] ?? 0) > FUZZ_LIMITS.arpCacheSize!) fail(done, "ARP cache");
    }
    if (traffic !== null) {
      const f = traffic.flatMap((t) => t.failures());
      if (f.length > 0) fail(done, `protected transfer failed: ${f.join("; ")}`);
      if (traffic[0]!.age() > 300000) fail(done, "protected transfers hung for 300 s");
      const states = traffic.map((t) => t.sessionDone());
      if (states.some((x) => x !== states[0])) fail(done, "worlds diverged on session end");
      if (states[0]) startSession();
    }
  }
  const ms = performance.now() - start;
  // Let the last session finish without fuzz, then everything must end.
  if (traffic !== null) {
    for (let i = 0; i < 200000; i++) {
      const states = traffic.map((t) => t.sessionDone());
      if (states.some((x) => x !== states[0])) fail(done, "worlds diverged on session end");
      if (states[0]) break;
      for (let k = 0; k < worlds.length; k++) {
        traffic[k]!.step();
        worlds[k]!.tick(1, true);
        traffic[k]!.step();
      }
      const f = traffic.flatMap((t) => t.failures());
      if (f.length > 0) fail(done, `protected transfer failed: ${f.join("; ")}`);
    }
    if (traffic[0]!.age() > 600000) fail(done, "the last session never ended");
  }
  const finals = worlds.map((w) => w.victim.stats());
  for (const f of finals.slice(1)) {
    const a = JSON.stringify(finals[0]), b = JSON.stringify(f);
    if (a !== b) fail(done, `final stats differ:\n${a}\n${b}`);
  }
  return {
    frames: done,
    ms,
    histogram,
    ops,
    sessions: traffic?.[0]?.sessions ?? 0,
    verifiedBytes: traffic?.[0]?.verified ?? 0,
    moved: worlds[0]!.moved,
    storms: worlds[0]!.storms,
    finalStats: finals[0]!,
  };
}
