/**
 * Connection bursts from the Linux kernel against our stack over TAP, optionally during a
 * flood of spoofed SYNs: used by `tests/e2e/burst_tap.test.ts` (correctness, bounded) and by
 * `deno task bench:burst` (figures, medians of 3).
 *
 * Inside a namespace it creates (withTapNamespace), a python client opens `count`
 * non-blocking connections at once to our listener (default options), sends one byte on each
 * and waits for its echo; a second python process, when asked, floods spoofed SYNs through
 * an AF_PACKET socket on the kernel's side of the TAP: from on-link sources that never answer
 * ARP and from off-link sources (their SYN+ACKs go to the gateway, the kernel, which drops
 * them). Nothing leaves the namespace.
 *
 * @module
 */

import { createStack, type NetStack } from "../mod.ts";
import { type FaultOptions, withFaults } from "../src/link/fault.ts";
import { withTapNamespace } from "./netns.ts";

const KERNEL = "10.89.0.1", OURS = "10.89.0.2";

/** The python client: `count` non-blocking connects, then one byte echoed on each. */
export const PY_BURST = String.raw`
import errno, json, resource, selectors, socket, sys, time
host, count, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = count + 256
if hard != resource.RLIM_INFINITY: want = min(want, hard)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
sel = selectors.DefaultSelector()
start = {}
t0 = time.monotonic()
for i in range(count):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((host, 80))
    start[s] = time.monotonic()
    sel.register(s, selectors.EVENT_WRITE)
t_sent = time.monotonic() - t0
lat = []
errors = {}
def error(what):
    errors[what] = errors.get(what, 0) + 1
connected = failed = echoed = 0
t_conn = t_echo = None
waiting = count
deadline = t0 + limit
while waiting and time.monotonic() < deadline:
    for key, ev in sel.select(timeout=0.2):
        s = key.fileobj
        if ev & selectors.EVENT_WRITE:
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                error("connect " + errno.errorcode.get(err, str(err)))
                failed += 1
                waiting -= 1
                sel.unregister(s)
                continue
            connected += 1
            lat.append(time.monotonic() - start[s])
            if connected == count: t_conn = time.monotonic() - t0
            sel.modify(s, selectors.EVENT_READ)
            s.send(b"x")
        else:
            try:
                d = s.recv(1)
            except OSError as e:
                d = None
                error("recv " + errno.errorcode.get(e.errno, str(e.errno)))
            if d == b"x": echoed += 1
            else:
                if d is not None: error("recv %r" % d)
                failed += 1
            waiting -= 1
            sel.unregister(s)
            if echoed == count: t_echo = time.monotonic() - t0
lat.sort()
q = lambda f: round(lat[min(len(lat) - 1, int(f * len(lat)))] * 1000, 1) if lat else None
print(json.dumps({"connected": connected, "echoed": echoed, "failed": failed, "errors": errors,
    "sent_s": round(t_sent, 3), "all_connected_s": t_conn, "all_echoed_s": t_echo,
    "p50_ms": q(0.5), "p99_ms": q(0.99), "max_ms": q(1.0)}))
for s in start: s.close()
`;

/** The flood: `count` spoofed SYNs, half from on-link and half from off-link sources. */
export const PY_FLOOD = String.raw`
import json, os, random, socket, struct, sys, time
iface, ours, count, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
prefix = int(sys.argv[5]) if len(sys.argv) > 5 else 24
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
def ip4(a): return socket.inet_aton(a)
dst = ip4(ours)
net = ours.rsplit(".", 1)[0] if prefix == 24 else ours.rsplit(".", 2)[0]
sk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sk.bind((iface, 0))
src_mac = sk.getsockname()[4]
# Our MAC: from the kernel's neighbour table (the legitimate client resolved it).
dst_mac = None
for _ in range(50):
    for line in open("/proc/net/arp").read().splitlines()[1:]:
        f = line.split()
        if f[0] == ours and f[3] != "00:00:00:00:00:00": dst_mac = bytes.fromhex(f[3].replace(":", ""))
    if dst_mac: break
    time.sleep(0.1)
if dst_mac is None:
    print(json.dumps({"error": "no ARP entry for " + ours})); sys.exit(1)
rnd = random.Random(4987)
frames = []
for i in range(count):
    if i % 2 == 0:   # on-link, never answers ARP (.10 .. .250, not the kernel .1 or us .2)
        if prefix == 24: src = ip4("%s.%d" % (net, 10 + rnd.randrange(241)))
        else: src = ip4("%s.%d.%d" % (net, 1 + rnd.randrange(254), 10 + rnd.randrange(241)))
    else:            # off-link (RFC 6598 shared space): routed via the gateway
        src = ip4("100.%d.%d.%d" % (64 + rnd.randrange(64), rnd.randrange(256), 1 + rnd.randrange(254)))
    sport, seq = 1024 + rnd.randrange(64000), rnd.getrandbits(32)
    opts = struct.pack("!BBH", 2, 4, 1460) + b"\x01\x03\x03\x07"
    tcp = struct.pack("!HHIIBBHHH", sport, 80, seq, 0, (5 + len(opts) // 4) << 4, 0x02, 64240, 0, 0) + opts
    c = csum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xffff, 0, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    frames.append(dst_mac + src_mac + b"\x08\x00" + ip + tcp)
sent = errors = 0
print("sending", flush=True)
t0 = time.monotonic()
chunk = max(1, count // max(1, int(seconds * 100)))
for i in range(0, count, chunk):
    for f in frames[i:i + chunk]:
        try:
            sk.send(f); sent += 1
        except OSError:
            errors += 1
    lag = t0 + seconds * (i + chunk) / count - time.monotonic()
    if lag > 0: time.sleep(lag)
print(json.dumps({"sent": sent, "errors": errors, "flood_s": round(time.monotonic() - t0, 3)}))
`;

/** Options of {@link runBurst}. */
export interface BurstOptions {
  /** Concurrent connections (default 10000). */
  count?: number;
  /** Spoofed SYNs sent during the burst (default 0: none). */
  flood?: number;
  /** Seconds the flood is spread over (default 2). */
  floodSeconds?: number;
  /** How long the client waits for everything (default 20 s). */
  limitS?: number;
  /**
   * How long the flood runs before the client starts (default 300 ms), counted from the
   * flood's first frame (the flood builds its frames first, which takes a while).
   */
  clientDelayMs?: number;
  /**
   * With a flood: the client starts only once this holds for our stack's counters as well
   * (checked every 10 ms for at most 20 s; the run fails when it never holds), so a slow
   * flood on a loaded machine cannot leave the client without the conditions it is tested
   * under (the half-open queue full, cookies sent).
   */
  clientWhen?: (stats: Record<string, number>) => boolean;
  /** Wait this long after the client and the flood finished, before reading counters. */
  settleMs?: number;
  /** Prefix length of the namespace's network, 24 or 16 (default 24): a /16 lets the
   * flood's on-link sources outnumber the ARP cache. */
  prefix?: 16 | 24;
  /** The TAP device's transmit queue (frames the kernel holds for us); openTap's default when absent. */
  txqueuelen?: number;
  /** TAP offloads (`TapOptions.offload`); openTap's default when absent. */
  offload?: boolean;
  /**
   * Faults on the frames we receive (withFaults, seeded, performance.now clock; default none):
   * e.g. `{ drop: 0.3 }`, or a slow reader with a bounded queue (`rateBitsPerSec`,
   * `queueLimit`) that drops at the tail as the TAP queue of a loaded machine does.
   */
  inFaults?: Omit<FaultOptions, "seed" | "clock">;
  /** Interface limits of our stack (default: none, the defaults), e.g. a short ARP entry TTL. */
  limits?: Parameters<typeof createStack>[0]["limits"];
  /** Capture every frame our stack receives (after `inFaults`) and sends to this pcap file. */
  pcap?: string;
  /** TCP options of our stack (default: none, the defaults). */
  tcp?: Parameters<typeof createStack>[0]["tcp"];
}

/** What one run measured. */
export interface BurstResult {
  /**
   * The client's report: connected, echoed, failed, times in seconds, latencies in ms, and
   * `errors` (what failed, by errno name: counts).
   */
  client: Record<string, number | null> & { errors?: Record<string, number> };
  /** The flood's report (sent, errors, flood_s), or null without a flood. */
  flood: Record<string, number> | null;
  /** Connections our listener accepted. */
  accepted: number;
  /** Our stack's counters at the end. */
  stats: Record<string, number>;
  /** Most connections our TCP layer held at once (sampled every 50 ms). */
  maxConnections: number;
  /** JS heap in use before the burst and the most seen during it (bytes, sampled). */
  heapBefore: number;
  /** The most JS heap seen during the run. */
  heapMax: number;
  /** Frames the kernel dropped at the TAP device's transmit queue (-1 unknown). */
  tapTxDropped: number;
}

/** Poll `cond` every 10 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/**
 * A child whose output is read as it comes (`text()`: PY_FLOOD prints "sending" when its
 * first frame leaves) and also returned whole at its end.
 */
export function watched(
  child: Deno.ChildProcess,
): { text(): string; output: Promise<Deno.CommandOutput> } {
  let out = "";
  const chunks: Uint8Array[] = [];
  const dec = new TextDecoder();
  const output = (async () => {
    const stderr = new Response(child.stderr).arrayBuffer();
    for await (const b of child.stdout) {
      chunks.push(b);
      out += dec.decode(b, { stream: true });
    }
    const status = await child.status;
    const stdout = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      stdout.set(c, at);
      at += c.length;
    }
    return { ...status, stdout, stderr: new Uint8Array(await stderr) } as Deno.CommandOutput;
  })();
  output.catch(() => {}); // awaited by the caller, except when the run fails before
  return { text: () => out, output };
}

/** Run one burst (and flood) in a fresh namespace; needs root and /dev/net/tun. */
export async function runBurst(opts: BurstOptions = {}): Promise<BurstResult> {
  const count = opts.count ?? 10000;
  const flood = opts.flood ?? 0;
  let result: BurstResult | null = null;
  const prefix = opts.prefix ?? 24;
  const tap = {
    kernelAddr: `${KERNEL}/${prefix}`,
    ...(opts.txqueuelen !== undefined ? { txqueuelen: opts.txqueuelen } : {}),
    ...(opts.offload !== undefined ? { offload: opts.offload } : {}),
  };
  await withTapNamespace(tap, async ({ ns, link, ifname }) => {
    const lossy = opts.inFaults
      ? withFaults(link, { seed: 9293, clock: () => performance.now(), ...opts.inFaults })
      : link;
    const stack: NetStack = await createStack({
      link: lossy,
      address: `${OURS}/${prefix}`,
      gateway: KERNEL,
      ...(opts.tcp ? { tcp: opts.tcp } : {}),
      ...(opts.pcap ? { pcap: opts.pcap } : {}),
      ...(opts.limits ? { limits: opts.limits } : {}),
    });
    const listener = stack.listen({ port: 80 });
    let accepted = 0, open = 0;
    const serving = (async () => {
      for await (const conn of listener) {
        accepted++;
        open++;
        (async () => {
          const b = new Uint8Array(16);
          try {
            for (let n = await conn.read(b); n !== null; n = await conn.read(b)) {
              await conn.write(b.subarray(0, n));
            }
          } catch { /* reset by the client's close: counted by the stack */ }
          try {
            conn.close();
          } catch { /* already closed */ }
          open--;
        })();
      }
    })();
    let maxConnections = 0;
    const heapBefore = Deno.memoryUsage().heapUsed;
    let heapMax = heapBefore;
    const watch = setInterval(() => {
      maxConnections = Math.max(maxConnections, stack.driver.tcp.connectionCount);
      heapMax = Math.max(heapMax, Deno.memoryUsage().heapUsed);
    }, 50);
    try {
      // The kernel learns our MAC first (the flood needs it), as any client would.
      // (A few tries: with `inFaults` a request or ARP reply may be lost.)
      let warm = await ns.run(["ping", "-c", "1", "-W", "2", OURS]);
      for (let i = 0; i < 5 && warm.code !== 0 && opts.inFaults; i++) {
        warm = await ns.run(["ping", "-c", "1", "-W", "2", OURS]);
      }
      if (warm.code !== 0) throw new Error(`ping failed: ${warm.stderr}`);
      const spawnPy = (src: string, args: string[]) =>
        ns.spawn(["python3", "-c", src, ...args], { stdout: "piped", stderr: "piped" });
      const py = (src: string, args: string[]) => spawnPy(src, args).output();
      const floodRun = flood > 0
        ? watched(spawnPy(PY_FLOOD, [
          ifname,
          OURS,
          String(flood),
          String(opts.floodSeconds ?? 2),
          String(prefix),
        ]))
        : null;
      if (floodRun) {
        // The flood's first frame, then its head start, then the client's conditions.
        const sending = await until(() => floodRun.text().includes("sending"), 60_000);
        if (!sending) throw new Error(`the flood never started: ${floodRun.text()}`);
        await new Promise((r) => setTimeout(r, opts.clientDelayMs ?? 300));
        const when = opts.clientWhen;
        if (when && !(await until(() => when(stack.stats()), 20_000))) {
          throw new Error(
            `the client's start condition never held: ${JSON.stringify(stack.stats())}`,
          );
        }
      }
      const clientOut = await py(PY_BURST, [OURS, String(count), String(opts.limitS ?? 20)]);
      const floodOut = floodRun ? await floodRun.output : null;
      const parse = (o: Deno.CommandOutput, what: string) => {
        const text = new TextDecoder().decode(o.stdout).trim().split("\n").at(-1) ?? "";
        if (!o.success || text === "") {
          throw new Error(`${what} failed: ${new TextDecoder().decode(o.stderr)}`);
        }
        return JSON.parse(text);
      };
      const client = parse(clientOut, "burst client");
      const floodRes = floodOut ? parse(floodOut, "flood") : null;
      // Frames the kernel dropped toward us (its TAP transmit queue was full).
      const ipStats = await ns.run(["ip", "-s", "-j", "link", "show", "dev", ifname]);
      const tapTxDropped = Number(JSON.parse(ipStats.stdout)[0]?.stats64?.tx?.dropped ?? -1);
      // The client closed its sockets: let the closes finish before the counters are read.
      for (let i = 0; i < 100 && open > 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      if (opts.settleMs) await new Promise((r) => setTimeout(r, opts.settleMs));
      result = {
        client,
        flood: floodRes,
        accepted,
        stats: stack.stats(),
        maxConnections,
        heapBefore,
        heapMax,
        tapTxDropped,
      };
    } finally {
      clearInterval(watch);
      listener.close();
      await serving.catch(() => {});
      await stack.close();
    }
  });
  if (result === null) throw new Error("burst did not run");
  return result;
}
