/**
 * The demos' view of their connections through the trace API (`stack.trace()`): a collector
 * of segment events, the explaining ladder of one connection (ladder_lib.ts) and its
 * time-sequence plot (plot_svg.ts) written to an SVG file.
 *
 * @module
 */

import type { NetStack } from "../src/api/net_stack.ts";
import type { TraceSegmentEvent } from "../src/api/trace.ts";
import { explainLadder, type LadderConn } from "./ladder_lib.ts";
import { plotSvg } from "./plot_svg.ts";

/** Segment events collected from a stack's trace while a demo runs. */
export interface TraceCollector {
  /** Segments seen so far, in order. */
  readonly events: TraceSegmentEvent[];
  /** Events the trace dropped because the collector fell behind. */
  lost(): number;
  /** Stop collecting (what was buffered is kept). */
  stop(): Promise<void>;
}

/** Collect `stack`'s segment events (at most `max` kept; the trace buffers `limit`). */
export function collectTrace(stack: NetStack, max = 500_000, limit = 65536): TraceCollector {
  const trace = stack.trace({ limit });
  const events: TraceSegmentEvent[] = [];
  const done = (async () => {
    for await (const ev of trace) {
      if (ev.type === "segment" && events.length < max) events.push(ev);
    }
  })();
  return {
    events,
    lost: () => trace.lost,
    async stop() {
      trace.close();
      await done;
    },
  };
}

/** The events of the connection between `client` and `server` ("ip:port" each). */
export function connectionOf(
  events: TraceSegmentEvent[],
  client: string,
  server: string,
): LadderConn<TraceSegmentEvent> {
  return {
    client,
    server,
    segments: events.filter((e) =>
      (e.src === client && e.dst === server) || (e.src === server && e.dst === client)
    ),
  };
}

/** Print the first `rows` lines of the connection's explaining ladder. */
export function printSeedLadder(conn: LadderConn, rows: number): void {
  for (const line of explainLadder(conn, { times: false, max: rows })) console.log(`  ${line}`);
}

/** Write the connection's time-sequence plot to `dir/name.svg`; print and return the path. */
export async function writePlot(
  conn: LadderConn,
  dir: string,
  name: string,
  title: string,
): Promise<string> {
  const r = plotSvg(conn, { title });
  const path = `${dir}/${name}.svg`;
  await Deno.writeTextFile(path, r.svg);
  console.log(
    `  time-sequence plot: ${path} (${r.segments} data segments, ${r.retransmissions} ` +
      `retransmitted, ${r.zeroWindows} zero windows)`,
  );
  return path;
}

/** The directory for the demo's plots: `--plots=DIR` (created), else a new temporary one. */
export async function plotDir(args: string[]): Promise<string> {
  const dir = args.find((a) => a.startsWith("--plots="))?.slice(8);
  if (dir) {
    await Deno.mkdir(dir, { recursive: true });
    return dir;
  }
  return await Deno.makeTempDir({ prefix: "dtcp-plots-" });
}
