/**
 * `deno task demo`: the seed note's story between two stacks in one process over a memory
 * link, with no privileges. A web server (10.9.0.2) sends A.bmp (1.4 MB, generated) to a
 * client (10.9.0.1) over HTTP/1.1; the handshake replays the seed's numbers (client ISN 100,
 * server ISN 2000) and is printed as a SEQ/ACK ladder; then throughput, windows and a verdict.
 *
 *   deno task demo [--slow-reader] [--engine=js|wasm] [--plots=DIR] [--pcap=FILE]
 *
 * The ladder comes from the trace API (`stack.trace()`); each scene also writes its
 * time-sequence plot (SVG) into DIR (default: a new temporary directory) and prints the path.
 * `--pcap=FILE` captures the client's frames for `deno task ladder` and `deno task plot`.
 *
 * `--slow-reader` adds the flow-control scene: the client reads slower than the network
 * delivers, its window shrinks to zero, the sender waits and probes, and the transfer resumes.
 *
 * @module
 */

import { createMemoryLinkPair, createStack } from "../mod.ts";
import { makeBmp, serveHttp, sha256, traceLink } from "./demo_lib.ts";
import { collectTrace, connectionOf, plotDir, printSeedLadder, writePlot } from "./demo_trace.ts";
import { download, printDownload, printTimeline, slowReader } from "./demo_scenes.ts";

const args = new Set(Deno.args);
const engine = Deno.args.includes("--engine=js") ? "js" : "wasm";
const CLIENT = "10.9.0.1";
const SERVER = "10.9.0.2";
const SLOW_TOTAL = 262144;
const pcap = Deno.args.find((a) => a.startsWith("--pcap="))?.slice(7);

async function main(): Promise<boolean> {
  console.log(`Two TCP/IP stacks in one process, joined by a memory link (engine: ${engine}).`);
  const bmp = makeBmp();
  const bmpSha = await sha256(bmp);
  console.log(`A.bmp: ${bmp.length} bytes, SHA-256 ${bmpSha.slice(0, 16)}...`);
  const [la, lb] = createMemoryLinkPair();
  const traced = traceLink(la);
  // The seed note's initial sequence numbers: the client starts at 100, the server at 2000.
  const client = await createStack({
    link: traced,
    address: `${CLIENT}/24`,
    engine,
    tcp: { isn: () => 100 },
    ...(pcap ? { pcap } : {}),
  });
  const server = await createStack({
    link: lb,
    address: `${SERVER}/24`,
    engine,
    tcp: { isn: () => 2000 },
  });
  let ok = true;
  const plots = await plotDir(Deno.args);
  const segs = collectTrace(client);
  try {
    const listener = server.listen({ port: 80 });
    const serving = serveHttp(listener, { "/A.bmp": bmp }, 1);

    console.log(`\nScene 1: ${CLIENT} downloads A.bmp from the web server ${SERVER}:80`);
    const r = await download(client, SERVER, 80, "/A.bmp", bmpSha);
    console.log("\n  The three-way handshake and the request, as the seed note draws them:");
    const conn1 = connectionOf(segs.events, r.client, r.server);
    printSeedLadder(conn1, 7);
    console.log();
    printDownload(r, traced);
    await writePlot(conn1, plots, "scene1-download", `Scene 1: ${r.client} downloads A.bmp`);
    ok &&= r.ok;

    if (args.has("--slow-reader")) {
      console.log(
        "\nScene 2: a slow reader. The client has an 8-segment (11584-byte) receive buffer and" +
          "\n  reads 2 segments every 20 ms, with one 1.5 s pause half-way; the server sends" +
          "\n  256 KiB as fast as the window lets it.",
      );
      const raw = server.listen({ port: 81 });
      const sending = (async () => {
        const c = await raw.accept();
        await c.write(bmp.subarray(0, SLOW_TOTAL));
        await c.closeWrite();
        while ((await c.read(new Uint8Array(64))) !== null) { /* until the client closes */ }
        c.close();
      })();
      const s = await slowReader(client, traced, SERVER, 81, null, {
        readChunk: 2896,
        everyMs: 20,
        sampleMs: 25,
        rcvBuf: 11584,
        pauseMs: 1500,
        total: SLOW_TOTAL,
      });
      await sending;
      raw.close();
      printTimeline(s.samples);
      const zero = s.samples.some((x) => x.rcvWnd === 0);
      const probes = s.samples.at(-1)?.probes ?? 0;
      console.log(
        `  window reached zero: ${zero ? "yes" : "no"}; the sender probed ${probes} times; ` +
          `transfer ${s.result.ok ? "completed" : "FAILED"} (${s.result.bytes} bytes in ${
            s.result.ms.toFixed(0)
          } ms)`,
      );
      await writePlot(
        connectionOf(segs.events, s.result.client, s.result.server),
        plots,
        "scene2-slow-reader",
        "Scene 2: a slow reader (the window shrinks to zero)",
      );
      ok &&= s.result.ok && zero;
    }
    await serving;
    listener.close();
  } finally {
    await segs.stop();
    if (segs.lost() > 0) console.log(`  (the trace dropped ${segs.lost()} events)`);
    await client.close();
    await server.close();
  }
  return ok;
}

if (import.meta.main) {
  const ok = await main();
  console.log(`\nVerdict: ${ok ? "PASS: every byte arrived intact" : "FAIL"}`);
  if (!ok) Deno.exit(1);
}
