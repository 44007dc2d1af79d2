/**
 * Helpers of the gateway tests: a namespace whose TAP device is served by a gateway (as
 * `--configure` leaves it: 10.0.2.100/24, default route via 10.0.2.2), host services on
 * 127.0.0.1 only (a SHA-256 sink, a blob source, a UDP echo), and a python client run in the
 * namespace. Every loop is bounded in count and time.
 */
import dgram from "node:dgram";
import { createGateway, type Gateway, type GatewayOptions, openTap } from "../../mod.ts";
import { createNetns, type Netns } from "../../tools/netns.ts";
import { pattern } from "../support/rng.ts";
import { sha } from "../support/kernel_peer.ts";

export { pattern, sha };

/** A namespace with a configured TAP served by a gateway. */
export interface GatewayEnv {
  ns: Netns;
  gw: Gateway;
}

/** Run `fn` with a fresh namespace and gateway (TAP MTU `mtu`); both are removed afterwards. */
export async function withGateway(
  opts: Omit<GatewayOptions, "link">,
  fn: (env: GatewayEnv) => Promise<void>,
  mtu?: number,
): Promise<void> {
  const ns = await createNetns("dgw-", { ipv6: opts.ipv6 ?? false });
  try {
    const link = openTap({
      name: "tap0",
      netns: ns.name,
      peer: "10.0.2.100/24",
      ...(mtu ? { mtu } : {}),
    });
    let gw: Gateway;
    try {
      gw = await createGateway({ link, ...opts });
    } catch (e) {
      link.close();
      throw e;
    }
    try {
      const r = await ns.run(["ip", "route", "add", "default", "via", "10.0.2.2", "dev", "tap0"]);
      if (r.code !== 0) throw new Error(`ip route add default failed: ${r.stderr}`);
      await fn({ ns, gw });
    } finally {
      await gw.close();
    }
  } finally {
    await ns.delete();
  }
}

/** The python client run in the namespace (modes: up, down, connect, udp, dns, hold). */
export const PY_CLIENT = `
import socket, sys, hashlib, struct, time
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def pat(n):
    return bytes((i * 7 + 3) & 255 for i in range(n))
if mode == "up":
    data = pat(int(sys.argv[4]))
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    resp = b""
    while True:
        c = s.recv(4096)
        if not c: break
        resp += c
    print(hashlib.sha256(data).hexdigest(), resp.decode().strip())
elif mode == "down":
    s = socket.create_connection((host, port), timeout=30)
    h = hashlib.sha256(); n = 0
    while True:
        c = s.recv(65536)
        if not c: break
        h.update(c); n += len(c)
    print(h.hexdigest(), n)
elif mode == "connect":
    try:
        s = socket.create_connection((host, port), timeout=float(sys.argv[4]) if len(sys.argv) > 4 else 5)
        print("ok")
    except ConnectionRefusedError:
        print("refused")
    except socket.timeout:
        print("timeout")
    except OSError as e:
        print("oserror", e.errno)
elif mode == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    got = []
    for i in range(int(sys.argv[4]) if len(sys.argv) > 4 else 3):
        msg = ("ping %d" % i).encode()
        s.sendto(msg, (host, port))
        try:
            d, a = s.recvfrom(2048)
            got.append("%s|%s:%d" % (d.decode(), a[0], a[1]))
        except socket.timeout:
            got.append("timeout")
    print(" ".join(x.replace(" ", "_") for x in got))
elif mode == "dns":
    name = sys.argv[4]
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\0"
    q += struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(q, (host, port))
    d, a = s.recvfrom(2048)
    an = struct.unpack(">H", d[6:8])[0]
    # the last answer's RDATA: 4 bytes of an A record at the end
    print("answers", an, "addr", ".".join(str(b) for b in d[-4:]), "from", "%s:%d" % a)
elif mode == "hold":
    s = socket.create_connection((host, port), timeout=10)
    print("connected", flush=True)
    n = 0
    while True:
        c = s.recv(65536)
        if not c: break
        n += len(c)
        time.sleep(0.01)
    print("done", n)
`;

/** Run the python client in the namespace; its last output line split on spaces. */
export async function py(ns: Netns, args: string[]): Promise<string[]> {
  const r = await ns.run(["python3", "-c", PY_CLIENT, ...args]);
  if (r.code !== 0) throw new Error(`python client ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout.trim().split("\n").at(-1)!.split(" ");
}

/** A host TCP server on 127.0.0.1 running `serve` per connection. */
export function hostServer(serve: (c: Deno.TcpConn) => Promise<void>): {
  port: number;
  close(): Promise<void>;
} {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Promise<void>>();
  const loop = (async () => {
    for await (const c of l) {
      const p = serve(c).catch(() => {}).finally(() => {
        try {
          c.close();
        } catch { /* closed */ }
        conns.delete(p);
      });
      conns.add(p);
    }
  })().catch(() => {});
  return {
    port: l.addr.port,
    async close() {
      l.close();
      await loop;
      await Promise.allSettled([...conns]);
    },
  };
}

/** Read until end of stream (bounded by `max` bytes). */
export async function readAll(
  c: { read(p: Uint8Array): Promise<number | null> },
  max = 64 << 20,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  const buf = new Uint8Array(65536);
  for (;;) {
    const k = await c.read(buf);
    if (k === null) break;
    parts.push(buf.slice(0, k));
    n += k;
    if (n > max) throw new Error("too much data");
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Sink: reads to EOF, answers the hex SHA-256 of what came (the half-close case). */
export function shaSink(): ReturnType<typeof hostServer> {
  return hostServer(async (c) => {
    const data = await readAll(c);
    await c.write(new TextEncoder().encode(`${sha(data)}\n`));
  });
}

/** Source: writes `blob` and closes. */
export function blobSource(blob: Uint8Array): ReturnType<typeof hostServer> {
  return hostServer(async (c) => {
    let off = 0;
    while (off < blob.length) off += await c.write(blob.subarray(off));
  });
}

/** A UDP echo on 127.0.0.1. */
export async function udpEcho(): Promise<{ port: number; close(): void }> {
  const s = dgram.createSocket("udp4");
  s.on("message", (m: Uint8Array, r: { address: string; port: number }) => {
    s.send(m, r.port, r.address);
  });
  await new Promise<void>((res) => s.bind(0, "127.0.0.1", () => res()));
  return { port: s.address().port, close: () => s.close() };
}

/** Wait (bounded) until the namespace has a usable fd00::/64 address and a default route. */
export async function waitSlaac(ns: Netns): Promise<{ addr: string; route: string }> {
  const deadline = Date.now() + 20000;
  for (let i = 0; i < 200 && Date.now() < deadline; i++) {
    const a = await ns.run(["ip", "-6", "-o", "addr", "show", "dev", "tap0", "scope", "global"]);
    const r = await ns.run(["ip", "-6", "route", "show", "default"]);
    const m = /inet6 (fd00::[0-9a-f:]+)\/64 .*dynamic/.exec(a.stdout);
    if (m && !a.stdout.includes("tentative") && r.stdout.includes("via fe80::")) {
      return { addr: m[1]!, route: r.stdout.trim() };
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  const a = await ns.run(["ip", "-6", "addr"]);
  throw new Error(`no SLAAC address or default route in 20 s:\n${a.stdout}`);
}

/** A free TCP port on 127.0.0.1 (for a server that needs a number up front). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = l.addr.port;
  l.close();
  return p;
}

/** The gateway's command line (`tools/gateway.ts`), to run as its own process. */
export const GATEWAY_CLI = new URL("../../tools/gateway.ts", import.meta.url).pathname;

/** `deno run -A tools/gateway.ts ...args`, stdout piped (its ready line), stderr piped. */
export function spawnGatewayCli(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", GATEWAY_CLI, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** The gateway process's first stdout chunk (its "gateway ready ..." line), or "timeout" (30 s). */
export async function readyLine(p: Deno.ChildProcess): Promise<string> {
  const reader = p.stdout.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      reader.read().then((r) => new TextDecoder().decode(r.value ?? new Uint8Array())),
      new Promise<string>((r) => timer = setTimeout(() => r("timeout"), 30000)),
    ]);
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
}

/** Run a command in the network namespace of process `pid` (nsenter), output decoded. */
export async function inPidNs(
  pid: number,
  cmd: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const o = await new Deno.Command("nsenter", {
    args: ["-t", `${pid}`, "-n", ...cmd],
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/**
 * Stop a gateway process: `sig` (SIGTERM by default), SIGKILL if it has not exited within
 * `graceMs`; its piped output is released.
 */
export async function stopGatewayCli(
  p: Deno.ChildProcess,
  sig: Deno.Signal = "SIGTERM",
  graceMs = 5000,
): Promise<void> {
  try {
    p.kill(sig);
  } catch { /* gone */ }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const st = await Promise.race([
    p.status,
    new Promise<null>((r) => timer = setTimeout(() => r(null), graceMs)),
  ]);
  clearTimeout(timer);
  if (st === null) p.kill("SIGKILL");
  await p.status;
  await p.stdout.cancel().catch(() => {});
  await p.stderr.cancel().catch(() => {});
}
