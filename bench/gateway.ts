/**
 * Gateway benchmark (`deno task bench:gateway`; not a test): bulk TCP throughput between a
 * network namespace and a python 64 KiB sender/receiver on the host's 127.0.0.1, through our
 * gateway (`tools/gateway.ts`, its own process) and through slirp4netns, in the same run, at
 * MTU 1500 and 65520, both directions. Each case runs 3 times alternating the two gateways;
 * the table shows medians and the ratio ours / slirp4netns. At MTU 1500 also the median round
 * trip of 1-byte requests on one connection (TCP_NODELAY) and connections per second (connect,
 * 1-byte exchange, close). Beside each figure, the CPU the gateway process itself used for the
 * work (all its threads, user and system time from /proc): milliseconds per GiB moved, or
 * microseconds per exchange or connection. It moves far less with the machine's load than the
 * rates do (the rates of both gateways swing up to 2x with it), so it says where a ratio comes
 * from: work per byte or per exchange, or waiting.
 *
 * Each transfer starts a fresh gateway process, so a short one also measures the JIT warming up
 * (V8's worker threads took about 8% of the gateway's CPU in the first seconds, with hardly any
 * garbage collection): the default of 1000 MiB per transfer measures the steady state (at MTU
 * 65520 our CPU per GiB was about a fifth lower over 1000 MiB than over 200 MiB; slirp4netns's
 * was not lower).
 *
 *   deno task bench:gateway [--mb=N] [--runs=N] [--mtu=1500,65520] [--cases=down,up,rr,crr]
 *     [--only=ours|slirp4netns] [--cpu-prof-dir=DIR (profiles our gateway process)]
 *
 * Needs root, /dev/net/tun, python3 and slirp4netns. Traffic goes only to 127.0.0.1.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createNetns, type Netns, tapAvailable } from "../tools/netns.ts";

const SERVER = `
import socket, sys, threading
size = int(sys.argv[1])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 0)); l.listen(16)
print(l.getsockname()[1], flush=True)
chunk = b"x" * 65536
def serve(c):
    try:
        cmd = c.recv(1)
        if cmd == b"D":
            left = size
            while left > 0:
                n = c.send(chunk if left >= 65536 else chunk[:left]); left -= n
        elif cmd == b"E":
            while True:
                b = c.recv(65536)
                if not b: break
                c.sendall(b)
        elif cmd == b"U":
            n = 0
            while True:
                b = c.recv(65536)
                if not b: break
                n += len(b)
            c.sendall(str(n).encode())
    finally:
        c.close()
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

const CLIENT = `
import socket, sys, time
mode, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if mode == "crr":
    t0 = time.monotonic()
    for i in range(size):
        s = socket.create_connection(("10.0.2.2", port), timeout=10)
        s.sendall(b"Ex"); assert s.recv(1) == b"x"; s.close()
    print(size, time.monotonic() - t0)
    sys.exit(0)
s = socket.create_connection(("10.0.2.2", port), timeout=60)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
t0 = time.monotonic()
if mode == "rr":
    s.sendall(b"E"); rtts = []
    for i in range(size):
        t = time.monotonic(); s.sendall(b"x"); assert s.recv(1) == b"x"; rtts.append(time.monotonic() - t)
    rtts.sort()
    print(size, rtts[len(rtts) // 2])
    sys.exit(0)
if mode == "down":
    s.sendall(b"D"); n = 0
    while True:
        b = s.recv(65536)
        if not b: break
        n += len(b)
else:
    s.sendall(b"U"); chunk = b"y" * 65536; left = size
    while left > 0:
        left -= s.send(chunk if left >= 65536 else chunk[:left])
    s.shutdown(socket.SHUT_WR)
    n = int(s.recv(64))
dt = time.monotonic() - t0
print(n, dt)
`;

type Kind = "ours" | "slirp4netns";

async function startGateway(
  kind: Kind,
  ns: Netns,
  mtu: number,
  prof: string | undefined,
): Promise<Deno.ChildProcess> {
  const path = `/var/run/netns/${ns.name}`;
  const args = kind === "ours"
    ? [
      "run",
      "-A",
      ...(prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}`] : []),
      new URL("../tools/gateway.ts", import.meta.url).pathname,
      "--configure",
      `--mtu=${mtu}`,
      "--netns-type=path",
      path,
      "tap0",
    ]
    : ["--configure", `--mtu=${mtu}`, "--netns-type=path", path, "tap0"];
  const child = new Deno.Command(kind === "ours" ? Deno.execPath() : "slirp4netns", {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  // Ready when the default route is there and 10.0.2.2 answers a ping (bounded: 20 s).
  for (let i = 0; i < 100; i++) {
    const r = await ns.run(["ping", "-c", "1", "-W", "1", "10.0.2.2"]);
    if (r.code === 0) return child;
    await new Promise((res) => setTimeout(res, 200));
  }
  child.kill("SIGKILL");
  throw new Error(`${kind} did not come up`);
}

/** The cases: bulk both ways (Gbit/s), request/response (median us), connections per second. */
const CASES = {
  down: { what: "host -> namespace, Gbit/s", count: 0 },
  up: { what: "namespace -> host, Gbit/s", count: 0 },
  rr: { what: "1-byte request/response, median us (lower is better)", count: 2000 },
  crr: { what: "connect + 1-byte exchange + close, conn/s", count: 300 },
} as const;
type Mode = keyof typeof CASES;

/** CPU time (user + system, all threads) of process `pid` so far, in ms; NaN if unreadable. */
function cpuMs(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 1000 / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
/** USER_HZ, the unit of /proc/PID/stat times (100 on Linux). */
const CLOCK_TICKS = 100;

/** One client run: the figure (Gbit/s, us or conn/s) and the gateway's CPU per unit. */
async function once(
  ns: Netns,
  mode: Mode,
  port: number,
  size: number,
  gwPid: number,
): Promise<{ value: number; cpu: number }> {
  const n0 = CASES[mode].count || size;
  const c0 = cpuMs(gwPid);
  const r = await ns.run(["python3", "-c", CLIENT, mode, `${port}`, `${n0}`]);
  const used = cpuMs(gwPid) - c0;
  if (r.code !== 0) throw new Error(`client failed: ${r.stderr}`);
  const [n, dt] = r.stdout.trim().split(" ").map(Number);
  if (n !== n0) throw new Error(`moved ${n} of ${n0}`);
  // Per exchange or connection in microseconds; per GiB in milliseconds.
  if (mode === "rr") return { value: dt! * 1e6, cpu: used * 1000 / n0 };
  if (mode === "crr") return { value: n! / dt!, cpu: used * 1000 / n0 };
  return { value: (n! * 8) / dt! / 1e9, cpu: used / (n0 / 2 ** 30) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Options of `gatewayBench` (the command line's flags). */
export interface GatewayBenchOptions {
  /** MiB per bulk transfer. */
  mb: number;
  /** Runs per case and gateway (medians). */
  runs: number;
  /** MTUs to test (request/response and connection rows at 1500 only). */
  mtus: number[];
  /** Cases to run (default all). */
  cases?: Mode[];
  /** Run one gateway only. */
  only?: Kind;
  /** Write `--cpu-prof` profiles of our gateway process here. */
  cpuProfDir?: string;
}

/**
 * Run the gateway benchmark and return its table (markdown), or a one-line note when TAP is
 * not available here. Also used by `bench/e2e.ts --gateway`.
 */
export async function gatewayBench(o: GatewayBenchOptions): Promise<string> {
  const why = tapAvailable();
  if (why !== null) return `bench:gateway skipped: ${why}`;
  if (!(Number.isInteger(o.mb) && o.mb >= 1 && o.mb <= 16384)) {
    throw new RangeError(`--mb must be an integer from 1 to 16384, got ${o.mb}`);
  }
  const size = o.mb * 1048576;
  const runs = o.runs;
  const server = new Deno.Command("python3", {
    args: ["-c", SERVER, `${size}`],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = server.stdout.getReader();
  const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
  reader.releaseLock();
  const rows: string[] = [];
  try {
    for (const mtu of o.mtus) {
      const modes = (o.cases ?? (Object.keys(CASES) as Mode[])).filter((m) =>
        mtu === 1500 || m === "down" || m === "up"
      );
      for (const mode of modes) {
        const got: Record<Kind, number[]> = { ours: [], slirp4netns: [] };
        const cpu: Record<Kind, number[]> = { ours: [], slirp4netns: [] };
        for (let i = 0; i < runs; i++) {
          for (
            const kind of (i % 2 ? ["slirp4netns", "ours"] : ["ours", "slirp4netns"]) as Kind[]
          ) {
            if (o.only && o.only !== kind) continue;
            const ns = await createNetns("dgwb-");
            let gw: Deno.ChildProcess | null = null;
            try {
              gw = await startGateway(kind, ns, mtu, o.cpuProfDir);
              const r = await once(ns, mode, port, size, gw.pid);
              got[kind].push(r.value);
              cpu[kind].push(r.cpu);
            } finally {
              if (gw) {
                gw.kill("SIGTERM");
                await gw.status;
              }
              await ns.delete();
            }
          }
        }
        const ours = got.ours.length ? median(got.ours) : NaN;
        const slirp = got.slirp4netns.length ? median(got.slirp4netns) : NaN;
        const what = CASES[mode].what;
        const co = cpu.ours.length ? median(cpu.ours) : NaN;
        const cs = cpu.slirp4netns.length ? median(cpu.slirp4netns) : NaN;
        const unit = mode === "rr" ? "us/exchange" : mode === "crr" ? "us/conn" : "ms/GiB";
        rows.push(
          `| ${mtu} | ${what} | ${ours.toFixed(2)} | ${slirp.toFixed(2)} | ${
            (ours / slirp).toFixed(2)
          }x | ${co.toFixed(0)} / ${cs.toFixed(0)} ${unit} | ${
            got.ours.map((x) => x.toFixed(2)).join(" ")
          } / ${got.slirp4netns.map((x) => x.toFixed(2)).join(" ")} |`,
        );
        console.error(rows.at(-1));
      }
    }
  } finally {
    server.kill("SIGKILL");
    await server.status;
  }
  return [
    `Gateway (bench/gateway.ts), ${o.mb} MiB per transfer, python 64 KiB sender/receiver on ` +
    `127.0.0.1, medians of ${runs}, ours and slirp4netns alternating in the same run`,
    "",
    "| MTU | case | ours | slirp4netns | ours/slirp | gateway CPU (ours / slirp) | runs (ours / slirp) |",
    "|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      mb: { type: "string", default: "1000" },
      runs: { type: "string", default: "3" },
      mtu: { type: "string", default: "1500,65520" },
      cases: { type: "string", default: "down,up,rr,crr" },
      only: { type: "string" },
      "cpu-prof-dir": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "deno task bench:gateway [--mb=N] [--runs=N] [--mtu=1500,65520] [--cases=down,up,rr,crr]\n" +
        "  [--only=ours|slirp4netns] [--cpu-prof-dir=DIR]",
    );
    return;
  }
  const cases = values.cases!.split(",");
  for (const c of cases) if (!(c in CASES)) throw new TypeError(`Unknown case ${c}`);
  if (values.only !== undefined && values.only !== "ours" && values.only !== "slirp4netns") {
    throw new TypeError(`--only must be ours or slirp4netns, got ${values.only}`);
  }
  console.log(
    "\n" + await gatewayBench({
      mb: Number(values.mb),
      runs: Number(values.runs),
      mtus: values.mtu!.split(",").map(Number),
      cases: cases as Mode[],
      only: values.only as Kind | undefined,
      cpuProfDir: values["cpu-prof-dir"],
    }),
  );
}

if (import.meta.main) await main();
