/**
 * Our stack's side of one end-to-end measurement, in its own Deno process (so its CPU and its
 * `--cpu-prof` profile are its own). bench/e2e.ts starts it once per run and reads the JSON
 * line it prints last.
 *
 *   deno run -A bench/e2e_ours.ts <mode> --engine wasm|js --mtu 1500 --seconds 10
 *     [--max-bytes N] [--warmup-bytes N] [--buf N] [--no-offload] [--app KEY] [--busy-poll-us N]
 *     [--ipv6] [--concurrency N]
 *
 * Our stack runs with its default options (offloads on, buffers auto-tuned) unless
 * `--no-offload` (the TAP device without checksum and segmentation offloads) or `--buf N`
 * (both buffers pinned at N bytes). Modes over TAP (a namespace with a TAP device, kernel
 * 10.7.0.1/24, our stack 10.7.0.2/24; the kernel side is an application inside that namespace):
 * - tap-app:  our stack listens and plays the role the application `--app` needs (e2e_apps.ts:
 *   python3 sendall / recv_into, curl upload / download, socat); the application connects.
 * - tap-recv: the kernel sends (socat from /dev/zero), our stack reads and discards.
 * - tap-send: our stack writes a pattern, the kernel discards (socat to /dev/null).
 * - tap-rr:   1-byte request/response against a Python echo server in the namespace.
 * - tap-cps:  connection setup rate against a Python listener that closes at once.
 * - tap-crr:  the same with a 1-byte request and a 1-byte answer on each connection.
 * `--concurrency N` runs N clients of tap-cps, tap-crr, mem-cps or mem-crr side by side (one
 * program with N connections in flight, as a crawler or a load generator); default 1.
 * With `--ipv6` the TAP modes run over IPv6 (kernel fd00:7::1/64, our stack fd00:7::2/64, the
 * same namespace and device; the kernel's applications connect to or serve the IPv6 address).
 * Modes over the memory link (two of our stacks in this process, no device):
 * - mem-bulk, mem-rr, mem-cps, mem-crr: the same measurements between the two stacks.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type Conn, createMemoryLinkPair, createStack, type NetStack } from "../mod.ts";
import type { TcpOptions } from "../mod.ts";
import { withTapNamespace } from "../tools/netns.ts";
import { APPS, playRole } from "./e2e_apps.ts";
import {
  cpsConcurrentLoop,
  cpsLoop,
  type LoopConn,
  rrLoop,
  sinkLoop,
  sourceLoop,
} from "./e2e_loops.ts";
import {
  pyAcceptClose,
  pyEcho,
  pyRequestReply,
  socatSink,
  socatSource,
  stop,
  waitListening,
} from "./e2e_peers.ts";

const KERNEL4 = "10.7.0.1";
const OURS4 = "10.7.0.2";
const KERNEL6 = "fd00:7::1";
const OURS6 = "fd00:7::2";
let KERNEL = KERNEL4;
let OURS = OURS4;

interface Opts {
  engine: "wasm" | "js";
  mtu: number;
  seconds: number;
  maxBytes: number;
  warmupBytes: number;
  tcp: Partial<TcpOptions>;
  /** false: `--no-offload`; undefined: the default (offloads on). */
  offload: boolean | undefined;
  app: string;
  /** The memory link's segmentation offload (`MemoryLinkOptions.offload`). */
  memOffload: boolean;
  /** `TapOptions.busyPollUs` (undefined: the default). */
  busyPollUs: number | undefined;
  /** TAP modes over IPv6. */
  ipv6: boolean;
  /** Clients in flight at once in the connection modes. */
  concurrency: number;
}

function parse(): { mode: string; opts: Opts } {
  const { positionals, values } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      engine: { type: "string", default: "wasm" },
      mtu: { type: "string", default: "1500" },
      seconds: { type: "string", default: "10" },
      "max-bytes": { type: "string", default: String(1 << 30) },
      "warmup-bytes": { type: "string", default: String(64 << 20) },
      buf: { type: "string" },
      "no-offload": { type: "boolean", default: false },
      app: { type: "string", default: "" },
      "mem-offload": { type: "boolean", default: false },
      "busy-poll-us": { type: "string" },
      ipv6: { type: "boolean", default: false },
      concurrency: { type: "string", default: "1" },
    },
  });
  const engine = values.engine;
  if (engine !== "wasm" && engine !== "js") throw new TypeError(`Unknown engine ${engine}`);
  const tcp: Partial<TcpOptions> = {};
  if (values.buf !== undefined) tcp.rcvBuf = tcp.sndBuf = Number(values.buf);
  return {
    mode: positionals[0] ?? "",
    opts: {
      engine,
      mtu: Number(values.mtu),
      seconds: Number(values.seconds),
      maxBytes: Number(values["max-bytes"]),
      warmupBytes: Number(values["warmup-bytes"]),
      tcp,
      offload: values["no-offload"] ? false : undefined,
      app: values.app,
      memOffload: values["mem-offload"],
      busyPollUs: values["busy-poll-us"] === undefined ? undefined : Number(values["busy-poll-us"]),
      ipv6: values.ipv6,
      concurrency: Number(values.concurrency),
    },
  };
}

function bulkLimits(o: Opts): { seconds: number; maxBytes: number; warmupBytes: number } {
  return { seconds: o.seconds, maxBytes: o.maxBytes, warmupBytes: o.warmupBytes };
}

/** Connect to the kernel, retrying while its listener is not up yet (bounded). */
async function connectKernel(stack: NetStack, port: number, o: Opts): Promise<Conn> {
  return await stack.connect({ hostname: KERNEL, port, tcp: o.tcp });
}

async function tapMode(mode: string, o: Opts): Promise<Record<string, number>> {
  let out: Record<string, number> = {};
  // signals: the driver's time limit sends SIGTERM; the namespace (and the peer in it) goes too.
  const ctx = {
    kernelAddr: `${KERNEL4}/24`,
    mtu: o.mtu,
    signals: true,
    offload: o.offload,
    busyPollUs: o.busyPollUs,
    ipv6: o.ipv6,
  };
  if (o.ipv6) [KERNEL, OURS] = [KERNEL6, OURS6];
  await withTapNamespace(ctx, async ({ ns, link, ifname }) => {
    const address = o.ipv6 ? [`${OURS4}/24`, `${OURS6}/64`] : `${OURS4}/24`;
    const stack = await createStack({ link, address, engine: o.engine, tcp: o.tcp });
    if (o.ipv6) {
      const add = await ns.run([
        "ip",
        "-6",
        "addr",
        "add",
        `${KERNEL6}/64`,
        "dev",
        ifname,
        "nodad",
      ]);
      if (add.code !== 0) throw new Error(`ip -6 addr add failed: ${add.stderr}`);
      // Our address is used once duplicate address detection passed (about 1 s).
      for (let i = 0; i < 150 && stack.driver.iface.ip6Host.dadPending; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    let peer: Deno.ChildProcess | undefined;
    try {
      if (mode === "tap-app") {
        const app = APPS[o.app];
        if (!app) throw new TypeError(`Unknown --app ${o.app}`);
        const listener = stack.listen({ port: 5001 });
        peer = ns.spawn(app.cmd(OURS, 5001), { stdout: "null", stderr: "null" });
        const conn = await listener.accept();
        listener.close();
        out = await playRole(conn, app.role, bulkLimits(o));
        conn.abort();
      } else if (mode === "tap-recv") {
        const listener = stack.listen({ port: 5001 });
        peer = ns.spawn(socatSource(OURS, 5001));
        const conn = await listener.accept();
        out = await sinkLoop(conn, bulkLimits(o));
        conn.close();
        listener.close();
      } else if (mode === "tap-send") {
        peer = ns.spawn(socatSink(5001));
        await waitListening(ns, 5001);
        const conn = await connectKernel(stack, 5001, o);
        out = await sourceLoop(conn, bulkLimits(o));
        conn.close();
      } else if (mode === "tap-rr") {
        peer = ns.spawn(pyEcho(KERNEL, 5002));
        await waitListening(ns, 5002);
        const conn = await connectKernel(stack, 5002, o);
        conn.setNoDelay(true);
        out = await rrLoop(conn, { seconds: o.seconds, maxCount: 200000, warmup: 200 });
        conn.close();
      } else if (mode === "tap-cps" || mode === "tap-crr") {
        const request = mode === "tap-crr";
        const port = request ? 5004 : 5003;
        peer = ns.spawn(request ? pyRequestReply(KERNEL, port) : pyAcceptClose(KERNEL, port));
        await waitListening(ns, port);
        out = await connections(
          async (): Promise<LoopConn> => await connectKernel(stack, port, o),
          o,
          request,
        );
      } else {
        throw new TypeError(`Unknown mode ${mode}`);
      }
      report(stack);
      const t = link.stats;
      if (link.stats.rxGsoFrames !== undefined && o.offload !== false) {
        console.error(
          `tap: ${t.rxFrames} frames in (${t.rxGsoFrames} GSO, largest ${t.rxLargestFrame} B), ` +
            `${t.txFrames} out (${t.txMerged} merged into ${t.txGsoFrames} GSO); waits: ` +
            `${t.readyWaits} ready, ${t.busyPollHits} busy-poll hits, ${t.busyPollMisses} misses, ` +
            `${t.busyPollSkips} skips, ${t.parkedWaits} parked; ${t.rxDryReads} dry reads` +
            ((out.count ?? 0) > 0
              ? ` (${(t.rxDryReads / out.count!).toFixed(2)} per connection)`
              : ""),
        );
      }
    } finally {
      if (peer) await stop(peer);
      await stack.close();
    }
  });
  return out;
}

async function memMode(mode: string, o: Opts): Promise<Record<string, number>> {
  const [la, lb] = createMemoryLinkPair({ mtu: o.mtu, offload: o.memOffload });
  const a = await createStack({ link: la, address: "10.9.0.1/24", engine: o.engine, tcp: o.tcp });
  const b = await createStack({ link: lb, address: "10.9.0.2/24", engine: o.engine, tcp: o.tcp });
  try {
    const listener = b.listen({ port: 5001 });
    if (mode === "mem-cps" || mode === "mem-crr") {
      const request = mode === "mem-crr";
      const answer = async (c: Conn): Promise<void> => {
        try {
          if ((await c.read(new Uint8Array(64))) !== null) await c.write(new Uint8Array([0x79]));
        } finally {
          c.close();
        }
      };
      const server = (async (): Promise<void> => {
        for await (const c of listener) {
          if (request) answer(c).catch(() => {});
          else c.close();
        }
      })().catch(() => {});
      const r = await connections(
        async (): Promise<LoopConn> => await a.connect({ hostname: "10.9.0.2", port: 5001 }),
        o,
        request,
      );
      listener.close();
      await server;
      return r;
    }
    const accepted = listener.accept();
    const client = await a.connect({ hostname: "10.9.0.2", port: 5001, tcp: o.tcp });
    const server = await accepted;
    listener.close();
    let r: Record<string, number>;
    if (mode === "mem-bulk") {
      let stopSource = false;
      const source = sourceLoop(
        {
          read: (p) => client.read(p),
          write: (p) => stopSource ? Promise.reject(new Error("Stopped")) : client.write(p),
          close: () => client.close(),
        },
        { seconds: 1e9, maxBytes: Infinity, warmupBytes: 0 },
      ).catch(() => null);
      r = await sinkLoop(server, bulkLimits(o));
      stopSource = true;
      client.abort();
      server.close();
      await source;
    } else if (mode === "mem-rr") {
      client.setNoDelay(true);
      server.setNoDelay(true);
      const echo = (async (): Promise<void> => {
        const buf = new Uint8Array(64);
        for (;;) {
          const n = await server.read(buf);
          if (n === null) break;
          await server.write(buf.subarray(0, n));
        }
      })().catch(() => {});
      r = await rrLoop(client, { seconds: o.seconds, maxCount: 200000, warmup: 200 });
      client.close();
      await echo;
      server.close();
    } else {
      throw new TypeError(`Unknown mode ${mode}`);
    }
    report(a);
    return r;
  } finally {
    await a.close();
    await b.close();
  }
}

/** The connection loop: one client after another, or `--concurrency` side by side. */
function connections(
  connect: () => Promise<LoopConn>,
  o: Opts,
  request: boolean,
): Promise<Record<string, number>> {
  const seconds = o.seconds;
  return o.concurrency > 1
    ? cpsConcurrentLoop(connect, { seconds, maxCount: 100000, request, concurrency: o.concurrency })
    : cpsLoop(connect, { seconds, maxCount: 20000, request });
}

/** A few counters on standard error, to explain a figure (retransmissions, drops). */
function report(stack: NetStack): void {
  const s = stack.stats();
  const keep = Object.entries(s).filter(([k, v]) =>
    v !== 0 && /drop|retrans|error|full|ack-hold/.test(k)
  );
  if (keep.length > 0) console.error(`stats: ${JSON.stringify(Object.fromEntries(keep))}`);
}

if (import.meta.main) {
  const { mode, opts } = parse();
  const r = mode.startsWith("tap-") ? await tapMode(mode, opts) : await memMode(mode, opts);
  console.log(JSON.stringify(r));
}
