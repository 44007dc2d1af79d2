/**
 * `deno task tap-demo`: the seed note's story made real against the Linux kernel. Creates a
 * network namespace with a TAP device (kernel side 10.7.0.1/24), brings our stack up on it
 * (10.7.0.2), serves A.bmp (1.4 MB, generated) over HTTP/1.1 to the kernel's `curl`, checks
 * the SHA-256, pings our stack, then reverses the roles (our client downloads from a Python
 * web server on the kernel side), and prints the handshake ladder, throughput,
 * retransmissions, windows and a verdict. Everything is deleted at the end, on failure and on
 * Ctrl-C too.
 *
 *   deno task tap-demo [--slow-reader] [--engine=js|wasm] [--pcap=FILE] [--offload] [--plots=DIR]
 *
 * The ladders come from the trace API (`stack.trace()`); each scene writes its time-sequence
 * plot (SVG) into DIR (default: a new temporary directory) and prints the path.
 *
 * `--offload` opens the TAP device with checksum and segmentation offloads (`TapOptions.offload`):
 * the kernel then sends segments of up to 64 KiB.
 *
 * Without root or /dev/net/tun it says what is needed and points to `deno task demo`.
 *
 * @module
 */

import { createStack } from "../mod.ts";
import type { NetStack } from "../src/api/net_stack.ts";
import { type Netns, tapAvailable, withTapNamespace } from "./netns.ts";
import { makeBmp, rate, serveHttp, sha256, type TracedLink, traceLink } from "./demo_lib.ts";
import {
  collectTrace,
  connectionOf,
  plotDir,
  printSeedLadder,
  type TraceCollector,
  writePlot,
} from "./demo_trace.ts";
import type { TraceSegmentEvent } from "../src/api/trace.ts";
import { download, printDownload, printTimeline, slowReader } from "./demo_scenes.ts";

const KERNEL = "10.7.0.1";
const OURS = "10.7.0.2";
const engine = Deno.args.includes("--engine=js") ? "js" : "wasm";
const pcap = Deno.args.find((a) => a.startsWith("--pcap="))?.slice(7);
const slow = Deno.args.includes("--slow-reader");
const offload = Deno.args.includes("--offload");

function missingTools(): string[] {
  const missing: string[] = [];
  for (const cmd of ["curl", "python3", "ping"]) {
    try {
      const r = new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
        .outputSync();
      if (!r.success) missing.push(cmd);
    } catch {
      missing.push(cmd);
    }
  }
  return missing;
}

/** The first SYN (without ACK) sent to `server` in the trace: the client's "ip:port". */
function clientOf(trace: TraceSegmentEvent[], server: string): string {
  const syn = trace.find((e) => e.dst === server && (e.flags & 0x12) === 0x02);
  return syn?.src ?? "?";
}

/** Where the scenes' plots go. */
let plots = "";

async function kernelRetrans(ns: Netns): Promise<string> {
  const r = await ns.run(["nstat", "-az", "TcpRetransSegs", "TcpExtTCPZeroWindowDrop"]);
  if (r.code !== 0) return "n/a";
  const m = /TcpRetransSegs\s+(\d+)/.exec(r.stdout);
  return m ? m[1]! : "n/a";
}

async function sceneServe(
  ns: Netns,
  stack: NetStack,
  segs: TraceCollector,
  bmp: Uint8Array,
  bmpSha: string,
  tmp: string,
): Promise<boolean> {
  console.log(`\nScene 1: the kernel's curl (${KERNEL}) downloads A.bmp from our web server`);
  const listener = stack.listen({ port: 80 });
  try {
    const serving = serveHttp(listener, { "/A.bmp": bmp }, 1);
    const out = `${tmp}/A.bmp`;
    const t0 = performance.now();
    const curl = await ns.run([
      "curl",
      "-sS",
      "--max-time",
      "60",
      "-o",
      out,
      "-w",
      "%{http_code} %{size_download} %{speed_download}",
      `http://${OURS}/A.bmp`,
    ]);
    const ms = performance.now() - t0;
    await serving;
    if (curl.code !== 0) {
      console.log(`  curl failed (${curl.code}): ${curl.stderr.trim()}`);
      return false;
    }
    const [code, size, speed] = curl.stdout.trim().split(" ");
    const got = await sha256(await Deno.readFile(out));
    const client = clientOf(segs.events, `${OURS}:80`);
    console.log("\n  The three-way handshake and the request, as the seed note draws them:");
    const conn = connectionOf(segs.events, client, `${OURS}:80`);
    printSeedLadder(conn, 7);
    console.log(
      `\n  curl: HTTP ${code}, ${size} bytes; curl measured ${
        rate(Number(size), (Number(size) / Number(speed)) * 1000)
      }; wall time ${ms.toFixed(0)} ms`,
    );
    const ok = code === "200" && got === bmpSha;
    console.log(`  SHA-256 ${got} ${ok ? "(matches)" : "(MISMATCH)"}`);
    await writePlot(conn, plots, "scene1-curl", `Scene 1: curl downloads A.bmp from our stack`);
    return ok;
  } finally {
    listener.close();
  }
}

async function scenePing(ns: Netns): Promise<boolean> {
  console.log(`\nPing: the kernel pings our stack`);
  const r = await ns.run(["ping", "-c", "3", "-i", "0.2", "-W", "1", OURS]);
  const summary = r.stdout.split("\n").filter((l) => /packets transmitted|rtt/.test(l));
  for (const l of summary) console.log(`  ${l}`);
  return r.code === 0;
}

async function sceneDownload(
  ns: Netns,
  stack: NetStack,
  traced: TracedLink,
  segs: TraceCollector,
  bmpSha: string,
  dir: string,
): Promise<boolean> {
  console.log(`\nScene 2: roles reversed: our client downloads A.bmp from python3 http.server`);
  const server = ns.spawn(
    ["python3", "-m", "http.server", "8080", "--bind", KERNEL, "--directory", dir],
    { stdout: "null", stderr: "null" },
  );
  try {
    await waitForServer(stack, KERNEL, 8080);
    const r = await download(stack, KERNEL, 8080, "/A.bmp", bmpSha);
    console.log("\n  The three-way handshake, our stack now the client:");
    const conn = connectionOf(segs.events, r.client, r.server);
    printSeedLadder(conn, 7);
    console.log();
    printDownload(r, traced);
    await writePlot(conn, plots, "scene2-download", `Scene 2: our client downloads A.bmp`);
    if (slow) {
      console.log(
        "\nScene 3: a slow reader. Our client has a 16 KiB receive buffer and reads 2 KiB every" +
          "\n  20 ms, with one 1.5 s pause half-way; the kernel sends 256 KiB as fast as it may.",
      );
      const s = await slowReader(stack, traced, KERNEL, 8080, "/small.bmp", {
        readChunk: 2048,
        everyMs: 20,
        sampleMs: 25,
        rcvBuf: 16384,
        pauseMs: 1500,
        total: 262144,
      });
      printTimeline(s.samples);
      const zero = s.samples.some((x) => x.rcvWnd === 0);
      await writePlot(
        connectionOf(segs.events, s.result.client, s.result.server),
        plots,
        "scene3-slow-reader",
        "Scene 3: a slow reader (the window shrinks to zero)",
      );
      console.log(
        `  window reached zero: ${zero ? "yes" : "no"}; the kernel probed ${
          s.samples.at(-1)?.probes ?? 0
        } times; transfer ${s.result.ok ? "completed" : "FAILED"}`,
      );
      return r.ok && s.result.ok && zero;
    }
    return r.ok;
  } finally {
    try {
      server.kill("SIGTERM");
    } catch { /* already gone */ }
    await server.status;
  }
}

async function waitForServer(stack: NetStack, host: string, port: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    try {
      const c = await stack.connect({ hostname: host, port });
      c.close();
      return;
    } catch (err) {
      if (!(err instanceof Deno.errors.ConnectionRefused)) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`The kernel-side server on ${host}:${port} did not start within 5 s`);
}

async function main(): Promise<number> {
  const reason = tapAvailable();
  if (reason !== null) {
    console.log(`The TAP demo cannot run here: ${reason}.`);
    console.log("It needs Linux, root (CAP_NET_ADMIN and CAP_SYS_ADMIN), /dev/net/tun and -A.");
    console.log("Run `deno task demo` for the same story between two stacks in one process,");
    console.log("over a memory link, with no privileges.");
    if (Deno.stdin.isTerminal() && confirm("Run the memory-link demo now?")) {
      try {
        const child = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            new URL("./demo.ts", import.meta.url).pathname,
            ...Deno.args.filter((a) => !a.startsWith("--pcap")),
          ],
          stdin: "inherit",
          stdout: "inherit",
          stderr: "inherit",
        }).spawn();
        return (await child.status).code;
      } catch (err) {
        console.log(`Could not start it (${(err as Error).message}): run \`deno task demo\``);
      }
    }
    return 2;
  }
  const missing = missingTools();
  if (missing.length > 0) {
    console.log(`The TAP demo needs ${missing.join(", ")} (run \`deno task setup\` as root).`);
    return 2;
  }
  const bmp = makeBmp();
  const bmpSha = await sha256(bmp);
  const tmp = await Deno.makeTempDir({ prefix: "dtcp-demo-" });
  await Deno.writeFile(`${tmp}/A.bmp`, bmp);
  await Deno.writeFile(`${tmp}/small.bmp`, bmp.subarray(0, 262144));
  const dl = await Deno.makeTempDir({ prefix: "dtcp-demo-dl-" });
  // On Ctrl-C withTapNamespace deletes the namespace (and the TAP device in it) and exits;
  // this listener runs first and removes our temporary files.
  const onSignal = (): void => {
    console.log("\nInterrupted: cleaning up the namespace, the TAP device and temporary files");
    for (const d of [tmp, dl]) {
      try {
        Deno.removeSync(d, { recursive: true });
      } catch { /* already gone */ }
    }
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let ok = false;
  plots = await plotDir(Deno.args);
  try {
    console.log(`Namespace with a TAP device: kernel ${KERNEL}/24, our stack ${OURS} (${engine})`);
    console.log(`A.bmp: ${bmp.length} bytes, SHA-256 ${bmpSha.slice(0, 16)}...`);
    const tapNs = { kernelAddr: `${KERNEL}/24`, signals: true, offload };
    await withTapNamespace(tapNs, async ({ ns, link }) => {
      const traced = traceLink(link);
      const stack = await createStack({
        link: traced,
        address: `${OURS}/24`,
        engine,
        ...(pcap ? { pcap } : {}),
      });
      const segs = collectTrace(stack);
      try {
        const s1 = await sceneServe(ns, stack, segs, bmp, bmpSha, dl);
        const p = await scenePing(ns);
        const s2 = await sceneDownload(ns, stack, traced, segs, bmpSha, tmp);
        console.log(`\n  kernel retransmitted segments (nstat): ${await kernelRetrans(ns)}`);
        const st = stack.stats();
        console.log(
          `  our stack: ${st["tcp-rto"] ?? 0} retransmission timeouts, ` +
            `${st["tcp-fast-retransmit"] ?? 0} fast retransmits, ` +
            `${st["frames-in"] ?? 0} frames in, ${st["frames-out"] ?? 0} frames out`,
        );
        ok = s1 && p && s2;
      } finally {
        await segs.stop();
        if (segs.lost() > 0) console.log(`  (the trace dropped ${segs.lost()} events)`);
        await stack.close();
      }
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await Deno.remove(dl, { recursive: true }).catch(() => {});
  }
  console.log(
    `\nVerdict: ${
      ok ? "PASS: both directions delivered A.bmp intact, ping answered" : "FAIL (see above)"
    }`,
  );
  return ok ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
