/**
 * Conformance DUT agent for our stack: opens a TAP device inside a network namespace, runs a
 * stack on it through `mod.ts`, and performs socket calls on command. The protocol (JSON lines
 * on stdin, one JSON reply per line on stdout) is the one of tests/conformance/linux_agent.py,
 * which drives the Linux kernel: the bench asks both the same questions.
 *
 *   deno run -A tools/conformance_agent.ts <netns> <ifname> <address/prefix> <mac>
 *
 * Error names are the errno names Linux reports (ECONNREFUSED, ECONNRESET, ...).
 *
 * @module
 */

import { type Conn, createStack, type Listener, openTap } from "../mod.ts";

const [netns, ifname, address, mac] = Deno.args;
if (!netns || !ifname || !address || !mac) {
  console.error("usage: conformance_agent.ts <netns> <ifname> <address/prefix> <mac>");
  Deno.exit(2);
}

type Result = Record<string, unknown>;
type Read = { data?: string; eof?: boolean; err?: string };

/** One socket: a listener or a connection, with the pending read/accept that outlives a timeout. */
interface Sock {
  listener?: Listener;
  conn?: Conn;
  connecting?: Promise<Result>;
  accepting?: Promise<Conn | Error>;
  reading?: Promise<Read>;
  opts?: Record<string, unknown>;
}

// Offload off: with it, segments larger than the MTU go to the kernel for segmentation, and the
// bench (an AF_PACKET socket on the device) would see them before they are cut: the bench
// compares what is on the wire, as with the Linux DUT's veth (TSO/GSO off there too).
const link = openTap({ name: ifname, create: true, netns, mtu: 1500, offload: false });
const stack = await createStack({ link, address, mac });
const socks = new Map<number, Sock>();
let nextId = 1;

function add(s: Sock): number {
  socks.set(nextId, s);
  return nextId++;
}

/** Deno's error classes to the errno names Linux uses. */
function errName(e: unknown): string {
  const table: [unknown, string][] = [
    [Deno.errors.ConnectionRefused, "ECONNREFUSED"],
    [Deno.errors.ConnectionReset, "ECONNRESET"],
    [Deno.errors.TimedOut, "ETIMEDOUT"],
    [Deno.errors.BrokenPipe, "EPIPE"],
    [Deno.errors.NotConnected, "ENOTCONN"],
    [Deno.errors.ConnectionAborted, "ECONNABORTED"],
    [Deno.errors.NetworkUnreachable, "EHOSTUNREACH"],
    [Deno.errors.AddrInUse, "EADDRINUSE"],
    [Deno.errors.BadResource, "EBADF"],
  ];
  for (const [cls, name] of table) {
    if (e instanceof (cls as typeof Error)) return name;
  }
  return e instanceof Error ? e.name : String(e);
}

function within<T>(p: Promise<T>, seconds: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), seconds * 1000));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
function bytes(c: Result): Uint8Array {
  const h = String(c.data ?? "");
  const n = Number(c.n ?? 0);
  const out = new Uint8Array(h.length / 2 + n).fill(0x78); // "x", as the Linux agent
  for (let i = 0; i < h.length / 2; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function setopt(conn: Conn, name: string, value: unknown): void {
  if (name === "nodelay") conn.setNoDelay(Boolean(value));
  else if (name === "keepalive") {
    if (Array.isArray(value)) {
      // Interval and count have no per-connection setter: pass them as connect options.
      throw new TypeError("keepalive timing is a connect option here");
    } else conn.setKeepAlive(Boolean(value));
  } else throw new TypeError(`unknown option ${name}`);
}

async function handle(c: Result): Promise<Result> {
  const op = String(c.op);
  const timeout = Number(c.timeout ?? 1);
  if (op === "listen") {
    return { id: add({ listener: stack.listen({ port: Number(c.port) }) }) };
  }
  if (op === "connect") {
    const s: Sock = { opts: c.opts as Record<string, unknown> | undefined };
    const tcp: Record<string, unknown> = {};
    const ka = s.opts?.keepalive;
    if (Array.isArray(ka)) {
      Object.assign(tcp, {
        keepAlive: true,
        keepIdleMs: ka[0] * 1000,
        keepIntervalMs: ka[1] * 1000,
        keepCount: ka[2],
      });
    }
    if (s.opts?.nodelay !== undefined) tcp.noDelay = Boolean(s.opts.nodelay);
    s.connecting = stack.connect({
      hostname: String(c.host),
      port: Number(c.port),
      ...(c.lport ? { localPort: Number(c.lport) } : {}),
      tcp,
    }).then((conn) => {
      s.conn = conn;
      return { ok: true };
    }, (e) => ({ err: errName(e) }));
    return { id: add(s) };
  }
  const s = socks.get(Number(c.id));
  if (op === "reset") {
    for (const x of socks.values()) {
      try {
        x.conn?.abort();
        x.listener?.close();
      } catch { /* already closed */ }
    }
    socks.clear();
    return { ok: true };
  }
  if (!s) return { error: `no socket ${c.id}` };
  if (op === "accept") {
    s.accepting ??= s.listener!.accept().catch((e) => e as Error);
    const r = await within(s.accepting, timeout);
    if (r === "timeout") return { err: "timeout" };
    s.accepting = undefined;
    if (r instanceof Error) return { err: errName(r) };
    return { id: add({ conn: r }) };
  }
  if (op === "wait_connect") {
    const r = await within(s.connecting!, timeout);
    return r === "timeout" ? { err: "timeout" } : r;
  }
  if (op === "close" && s.listener) {
    s.listener.close();
    return { ok: true };
  }
  const conn = s.conn;
  if (!conn) return { err: "ENOTCONN" };
  if (op === "send") {
    try {
      return { n: await conn.write(bytes(c)) };
    } catch (e) {
      return { err: errName(e) };
    }
  }
  if (op === "recv") {
    const max = Number(c.max ?? 65536);
    s.reading ??= (async (): Promise<Read> => {
      const buf = new Uint8Array(max);
      try {
        const n = await conn.read(buf);
        return n === null ? { eof: true } : { data: hex(buf.subarray(0, n)) };
      } catch (e) {
        return { err: errName(e) };
      }
    })();
    const r = await within(s.reading, timeout);
    if (r === "timeout") return { err: "timeout" };
    s.reading = undefined;
    return r;
  }
  if (op === "shutdown") {
    try {
      await conn.closeWrite();
      return { ok: true };
    } catch (e) {
      return { err: errName(e) };
    }
  }
  if (op === "close") {
    conn.close();
    return { ok: true };
  }
  if (op === "abort") {
    conn.abort();
    return { ok: true };
  }
  if (op === "setopt") {
    setopt(conn, String(c.name), c.value);
    return { ok: true };
  }
  return { error: `unknown op ${op}` };
}

const enc = new TextEncoder();
const out = (r: Result): void => {
  Deno.stdout.writeSync(enc.encode(JSON.stringify(r) + "\n"));
};
out({ ready: true, mac: stack.mac });
let buffered = "";
const dec = new TextDecoder();
for await (const chunk of Deno.stdin.readable) {
  buffered += dec.decode(chunk, { stream: true });
  let nl;
  while ((nl = buffered.indexOf("\n")) >= 0) {
    const line = buffered.slice(0, nl).trim();
    buffered = buffered.slice(nl + 1);
    if (!line) continue;
    try {
      out(await handle(JSON.parse(line)));
    } catch (e) {
      out({ error: `${(e as Error).name}: ${(e as Error).message}` });
    }
  }
}
await stack.close();
link.close();
