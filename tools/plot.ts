/**
 * `deno task plot capture.pcap --out plot.svg [--conn N]`: draw the time-sequence graph
 * (plot_svg.ts) of one TCP connection of a capture as an SVG file. Without `--conn` it draws
 * the connection that carried the most data; connections are numbered from 1 in order of
 * first appearance, as `deno task ladder` numbers them.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { readCaptureFile, runCaptureCli } from "./pcap_read.ts";
import { splitConnections } from "./ladder_lib.ts";
import { plotSvg } from "./plot_svg.ts";
import { intOption } from "./ladder.ts";

const USAGE = "usage: deno task plot capture.pcap --out plot.svg [--conn N]";

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: "string", short: "o" },
      conn: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || positionals.length !== 1 || !values.out) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const path = positionals[0]!;
  const want = intOption("conn", values.conn, 1);
  const cap = await readCaptureFile(path);
  const conns = splitConnections(cap.segments);
  if (conns.length === 0) throw new RangeError(`${path} holds no TCP segment over IPv4`);
  if (want !== undefined && want > conns.length) {
    throw new RangeError(`--conn ${want}: the capture has ${conns.length} TCP connections`);
  }
  let n = want;
  if (n === undefined) {
    const bytes = conns.map((c) => c.segments.reduce((a, s) => a + s.len, 0));
    n = bytes.indexOf(Math.max(...bytes)) + 1;
  }
  const conn = conns[n - 1]!;
  const r = plotSvg(conn, { title: `Connection ${n}: ${conn.client} <-> ${conn.server}` });
  await Deno.writeTextFile(values.out, r.svg);
  console.log(
    `${values.out}: connection ${n} of ${conns.length}, data from ${r.sender}: ` +
      `${r.segments} segments (${r.retransmissions} retransmitted), ${r.acks} ACKs, ` +
      `${r.sackBlocks} SACK blocks, ${r.zeroWindows} zero windows`,
  );
  return 0;
}

if (import.meta.main) await runCaptureCli("plot", main);
