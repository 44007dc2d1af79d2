/**
 * `deno task ladder capture.pcap [--conn N] [--max N] [--no-time] [--relative]`: print the
 * explaining SEQ/ACK ladder (ladder_lib.ts) of every TCP connection in a capture, or of
 * connection N (numbered from 1 in order of first appearance); `--max` limits the lines per
 * connection, `--relative` counts sequence numbers from each side's ISN as Wireshark does. Reads classic pcap and pcapng from our
 * `withPcap`, tcpdump, tshark or Wireshark (pcap_read.ts says which link types).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { readCaptureFile, runCaptureCli } from "./pcap_read.ts";
import { explainLadder, relativeSeq, splitConnections } from "./ladder_lib.ts";

const USAGE = "usage: deno task ladder capture.pcap [--conn N] [--max N] [--no-time] [--relative]";

/** Parse a positive integer option, or throw a RangeError naming it. */
export function intOption(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new RangeError(`--${name} must be an integer >= ${min}, got "${v}"`);
  }
  return n;
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      conn: { type: "string" },
      max: { type: "string" },
      "no-time": { type: "boolean" },
      relative: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || positionals.length !== 1) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const path = positionals[0]!;
  const want = intOption("conn", values.conn, 1);
  const max = intOption("max", values.max, 0) ?? 0;
  const cap = await readCaptureFile(path);
  const conns = splitConnections(cap.segments);
  const skipped = Object.entries(cap.skipped).map(([k, n]) => `${n} ${k}`).join(", ");
  console.log(
    `${path}: ${cap.frames} frames, ${cap.segments.length} TCP segments in ${conns.length} ` +
      `connections${skipped ? ` (skipped: ${skipped})` : ""}`,
  );
  if (want !== undefined && want > conns.length) {
    throw new RangeError(`--conn ${want}: the capture has ${conns.length} TCP connections`);
  }
  conns.forEach((c, i) => {
    if (want !== undefined && want !== i + 1) return;
    console.log(`\nConnection ${i + 1}: ${c.segments.length} segments`);
    const shown = values.relative ? relativeSeq(c) : c;
    for (const line of explainLadder(shown, { times: !values["no-time"], max })) console.log(line);
  });
  return 0;
}

if (import.meta.main) await runCaptureCli("ladder", main);
