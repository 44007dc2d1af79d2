/**
 * Reference rows of the end-to-end benchmark, measured in the same run as our stack:
 *
 * - kernel to kernel over a veth pair between two namespaces (iperf3 for bulk transfer, the
 *   shared latency client against a Python echo server for request/response and connection
 *   setup);
 * - slirp4netns, a C userspace stack over TAP. slirp4netns itself runs inside a dedicated
 *   "host" namespace and gives a second "sandbox" namespace its TAP device (10.0.2.100, gateway
 *   10.0.2.2). Connections from the sandbox to 10.0.2.2 come out of slirp4netns as sockets to
 *   127.0.0.1 of the host namespace, where the iperf3 and echo servers listen. The main
 *   namespace is never touched.
 *
 * "receive" means the kernel sends and the userspace stack receives (iperf3 client in the
 * sandbox); "send" is iperf3 -R.
 *
 * @module
 */

import { createNetns, type Netns } from "../tools/netns.ts";
import { APPS } from "./e2e_apps.ts";
import {
  benchScript,
  lastJson,
  pyAcceptClose,
  pyEcho,
  pyRequestReply,
  runDenoIn,
  sleep,
  socatSink,
  socatSource,
  stop,
  waitListening,
} from "./e2e_peers.ts";

/** What a latency reference measures. */
export type LatencyKind = "rr" | "cps" | "crr";

/**
 * One latency or connection-rate figure of the kernel client, with the CPU its Deno process
 * used per connection for "cps" and "crr" (microseconds; kernel TCP work done in the client's
 * system calls counts, the server's and softirq work elsewhere does not).
 */
export interface LatencyFigure {
  value: number;
  cpuUsPerConn?: number;
}

/** Run `cmd` in `ns` and throw when it fails. */
export async function must(ns: Netns, cmd: string[]): Promise<string> {
  const r = await ns.run(cmd);
  if (r.code !== 0) {
    throw new Error(`${cmd.join(" ")} in ${ns.name} failed (${r.code}): ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/**
 * Two namespaces joined by a veth pair: "a" is 10.8.0.1/24, "b" is 10.8.0.2/24; with `ipv6`
 * also fd00:8::1/64 and fd00:8::2/64.
 */
export async function withVeth<T>(
  mtu: number,
  fn: (a: Netns, b: Netns) => Promise<T>,
  ipv6 = false,
): Promise<T> {
  const a = await createNetns(undefined, { ipv6 });
  let b: Netns | undefined;
  try {
    b = await createNetns(undefined, { ipv6 });
    await must(a, [
      "ip",
      "link",
      "add",
      "veth0",
      "mtu",
      String(mtu),
      "type",
      "veth",
      "peer",
      "name",
      "veth1",
      "mtu",
      String(mtu),
      "netns",
      b.name,
    ]);
    await must(a, ["ip", "addr", "add", "10.8.0.1/24", "dev", "veth0"]);
    await must(b, ["ip", "addr", "add", "10.8.0.2/24", "dev", "veth1"]);
    await must(a, ["ip", "link", "set", "veth0", "up"]);
    await must(b, ["ip", "link", "set", "veth1", "up"]);
    if (ipv6) {
      await must(a, ["ip", "-6", "addr", "add", "fd00:8::1/64", "dev", "veth0", "nodad"]);
      await must(b, ["ip", "-6", "addr", "add", "fd00:8::2/64", "dev", "veth1", "nodad"]);
    }
    return await fn(a, b);
  } finally {
    await b?.delete();
    await a.delete();
  }
}

/**
 * slirp4netns with MTU `mtu` running in namespace "host", configuring namespace "sandbox"
 * (tap0 10.0.2.100/24, default route via 10.0.2.2 inside the sandbox only).
 */
export async function withSlirp<T>(
  mtu: number,
  fn: (host: Netns, sandbox: Netns) => Promise<T>,
): Promise<T> {
  const host = await createNetns();
  let sandbox: Netns | undefined;
  let slirp: Deno.ChildProcess | undefined;
  try {
    sandbox = await createNetns();
    slirp = host.spawn([
      "slirp4netns",
      "--configure",
      `--mtu=${mtu}`,
      "--netns-type=path",
      `/var/run/netns/${sandbox.name}`,
      "tap0",
    ], { stderr: "piped", stdout: "null" });
    const deadline = performance.now() + 5000;
    for (;;) {
      const r = await sandbox.run(["ip", "-o", "route", "show", "default"]);
      if (r.stdout.includes("10.0.2.2")) break;
      if (performance.now() > deadline) {
        throw new Error("slirp4netns did not configure the sandbox within 5 s");
      }
      await sleep(20);
    }
    return await fn(host, sandbox);
  } finally {
    if (slirp) {
      await stop(slirp);
      await slirp.stderr.cancel().catch(() => {});
    }
    await sandbox?.delete();
    await host.delete();
  }
}

/**
 * One iperf3 transfer: the server (one test, then exit) in `serverNs` bound to `serverAddr`,
 * the client in `clientNs`; `reverse` makes the server send. Goodput in Gbit/s as the receiver
 * counted it, omitting the first second (slow start).
 */
export async function iperf3(
  serverNs: Netns,
  serverAddr: string,
  clientNs: Netns,
  connectAddr: string,
  opts: { seconds: number; reverse: boolean },
): Promise<number> {
  const port = 5201;
  const server = serverNs.spawn(["iperf3", "-s", "-1", "-B", serverAddr, "-p", String(port)]);
  try {
    await waitListening(serverNs, port);
    const args = ["iperf3", "-c", connectAddr, "-p", String(port), "-J", "-O", "1"];
    args.push("-t", String(Math.max(1, Math.round(opts.seconds))));
    if (opts.reverse) args.push("-R");
    const out = await must(clientNs, args);
    const j = JSON.parse(out) as { end?: { sum_received?: { bits_per_second?: number } } };
    const bps = j.end?.sum_received?.bits_per_second;
    if (typeof bps !== "number") throw new Error(`iperf3 gave no result: ${out.slice(0, 300)}`);
    return bps / 1e9;
  } finally {
    await stop(server);
  }
}

/**
 * One latency measurement with the shared kernel client (e2e_kernel_client.ts) in `clientNs`
 * against a Python server in `serverNs`: the median round trip in microseconds ("rr") or
 * connections per second ("cps": connect, FIN, close; "crr": connect, 1-byte request and answer,
 * FIN, close), with `concurrency` clients in flight for "cps" and "crr" (default 1: one
 * connection after another).
 */
export async function kernelLatency(
  kind: LatencyKind,
  serverNs: Netns,
  serverAddr: string,
  clientNs: Netns,
  connectAddr: string,
  seconds: number,
  concurrency = 1,
): Promise<LatencyFigure> {
  const port = kind === "rr" ? 5002 : kind === "cps" ? 5003 : 5004;
  const server = serverNs.spawn(
    kind === "rr"
      ? pyEcho(serverAddr, port)
      : kind === "cps"
      ? pyAcceptClose(serverAddr, port)
      : pyRequestReply(serverAddr, port),
  );
  try {
    await waitListening(serverNs, port);
    const r = await runDenoIn(clientNs, "e2e_kernel_client.ts", [
      kind,
      connectAddr,
      String(port),
      String(seconds),
      ...(kind !== "rr" && concurrency > 1 ? [String(concurrency)] : []),
    ]);
    const v = kind === "rr" ? r.medianUs : r.rate;
    if (typeof v !== "number") {
      throw new Error(`Kernel client gave no figure: ${JSON.stringify(r)}`);
    }
    return kind === "rr" ? { value: v } : { value: v, cpuUsPerConn: r.cpuUsPerConn };
  } finally {
    await stop(server);
  }
}

/** veth bulk transfer, `runs` times (kernel to kernel; both directions are the same path). */
export function vethThroughput(mtu: number, seconds: number, runs: number): Promise<number[]> {
  return withVeth(mtu, async (a, b) => {
    const out: number[] = [];
    for (let i = 0; i < runs; i++) {
      out.push(await iperf3(b, "10.8.0.2", a, "10.8.0.2", { seconds, reverse: false }));
    }
    return out;
  });
}

/** slirp4netns bulk transfer, `runs` times; `send`: slirp4netns sends to the kernel. */
export function slirpThroughput(
  mtu: number,
  send: boolean,
  seconds: number,
  runs: number,
): Promise<number[]> {
  return withSlirp(mtu, async (host, sandbox) => {
    const out: number[] = [];
    for (let i = 0; i < runs; i++) {
      out.push(await iperf3(host, "127.0.0.1", sandbox, "10.0.2.2", { seconds, reverse: send }));
    }
    return out;
  });
}

/**
 * veth latency (kernel client in one namespace, Python server in the other), `runs` times;
 * `concurrency` clients in flight for "cps" and "crr".
 */
export function vethLatency(
  kind: LatencyKind,
  seconds: number,
  runs: number,
  concurrency = 1,
): Promise<LatencyFigure[]> {
  return withVeth(1500, async (a, b) => {
    const out: LatencyFigure[] = [];
    for (let i = 0; i < runs; i++) {
      out.push(await kernelLatency(kind, b, "10.8.0.2", a, "10.8.0.2", seconds, concurrency));
    }
    return out;
  });
}

/** slirp4netns latency (kernel client in the sandbox, server on the host loopback). */
export function slirpLatency(
  kind: LatencyKind,
  seconds: number,
  runs: number,
  concurrency = 1,
): Promise<LatencyFigure[]> {
  return withSlirp(1500, async (host, sandbox) => {
    const out: LatencyFigure[] = [];
    for (let i = 0; i < runs; i++) {
      out.push(
        await kernelLatency(kind, host, "127.0.0.1", sandbox, "10.0.2.2", seconds, concurrency),
      );
    }
    return out;
  });
}

/**
 * The socat peer of our TAP rows over veth against the kernel client's bulk loops (kernel
 * sockets on both ends): what that peer can carry. `send` false: socat sends, the client
 * sinks (as in our receive rows); true: the client sends, socat sinks. One run, in Gbit/s.
 */
export function vethSocat(
  mtu: number,
  send: boolean,
  limits: { seconds: number; maxBytes: number; warmupBytes: number },
): Promise<number> {
  return withVeth(mtu, async (a, b) => {
    const port = 5001;
    const lim = [String(limits.seconds), String(limits.maxBytes), String(limits.warmupBytes)];
    if (send) {
      const sink = b.spawn(socatSink(port));
      try {
        await waitListening(b, port);
        const r = await runDenoIn(a, "e2e_kernel_client.ts", [
          "source",
          "10.8.0.2",
          "5001",
          ...lim,
        ]);
        return r.gbps ?? NaN;
      } finally {
        await stop(sink);
      }
    }
    const client = b.spawn(
      [
        Deno.execPath(),
        "run",
        "-A",
        benchScript("e2e_kernel_client.ts"),
        "sink",
        "10.8.0.2",
        "5001",
        ...lim,
      ],
      { stdout: "piped", stderr: "piped" },
    );
    let source: Deno.ChildProcess | undefined;
    try {
      await waitListening(b, port);
      source = a.spawn(socatSource("10.8.0.2", port));
      const out = await client.output();
      if (!out.success) {
        throw new Error(`Kernel sink failed: ${new TextDecoder().decode(out.stderr).trim()}`);
      }
      return lastJson(new TextDecoder().decode(out.stdout)).gbps ?? NaN;
    } finally {
      if (source) await stop(source);
    }
  });
}

/**
 * One application row over a kernel path: the role (e2e_kernel_client.ts `serve:<app>`) listens
 * on `roleAddr` in `roleNs`, the application connects from `appNs` to `connectAddr`. Returns
 * the role's result (gbps, cpuPct of the role's process).
 */
async function appOnce(
  app: string,
  roleNs: Netns,
  roleAddr: string,
  appNs: Netns,
  connectAddr: string,
  limits: { seconds: number; maxBytes: number; warmupBytes: number },
): Promise<Record<string, number>> {
  const a = APPS[app];
  if (!a) throw new TypeError(`Unknown application ${app}`);
  const port = 5004;
  const role = roleNs.spawn([
    Deno.execPath(),
    "run",
    "-A",
    benchScript("e2e_kernel_client.ts"),
    `serve:${app}`,
    roleAddr,
    String(port),
    String(limits.seconds),
    String(limits.maxBytes),
    String(limits.warmupBytes),
  ], { stdout: "piped", stderr: "piped" });
  let peer: Deno.ChildProcess | undefined;
  const timer = setTimeout(() => {
    try {
      role.kill("SIGKILL");
    } catch { /* gone */ }
  }, (limits.seconds + 40) * 1000);
  try {
    await waitListening(roleNs, port, 15000);
    peer = appNs.spawn(a.cmd(connectAddr, port), { stdout: "null", stderr: "null" });
    const out = await role.output();
    if (!out.success) {
      throw new Error(`${app} role failed: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    return lastJson(new TextDecoder().decode(out.stdout));
  } finally {
    clearTimeout(timer);
    if (peer) await stop(peer);
  }
}

/** An application row over veth (role in one namespace, application in the other). */
export function vethApp(
  app: string,
  limits: { seconds: number; maxBytes: number; warmupBytes: number },
): Promise<Record<string, number>> {
  return withVeth(1500, (a, b) => appOnce(app, b, "10.8.0.2", a, "10.8.0.2", limits));
}

/** An application row over veth and IPv6 (fd00:8::2), the kernel's own IPv6 reference. */
export function vethApp6(
  app: string,
  limits: { seconds: number; maxBytes: number; warmupBytes: number },
): Promise<Record<string, number>> {
  return withVeth(1500, (a, b) => appOnce(app, b, "fd00:8::2", a, "fd00:8::2", limits), true);
}

/** An application row through slirp4netns (application in the sandbox, role on the host). */
export function slirpApp(
  app: string,
  limits: { seconds: number; maxBytes: number; warmupBytes: number },
): Promise<Record<string, number>> {
  return withSlirp(
    1500,
    (host, sandbox) => appOnce(app, host, "127.0.0.1", sandbox, "10.0.2.2", limits),
  );
}
