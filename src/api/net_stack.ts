/**
 * `createStack` and `NetStack`: what a Deno program holds. Options are parsed here (CIDR,
 * gateway, MAC, engine choice, pcap capture, TCP tuning, clock), the driver is started, and
 * `listen`/`connect`/`listenDatagram` hand out objects shaped like Deno's own.
 *
 * @module
 */

import { type CloseMode, Driver } from "../stack.ts";
import { type Clock, realClock, VirtualClock } from "../stack_clock.ts";
import type { Engine, EngineKind } from "../kernels/engine.ts";
import { createJsEngine } from "../kernels/js_engine.ts";
import { createWasmEngine } from "../kernels/wasm_engine.ts";
import type { Link } from "../link/link.ts";
import { withPcap } from "../link/pcap.ts";
import type { IfaceLimits } from "../iface/limits.ts";
import { TcpLayer, type TcpOptions } from "../tcp/tcp_layer.ts";
import {
  checkPort,
  endpoint,
  formatIpv4,
  formatMac,
  parseCidr,
  parseIpv4,
  parseMac,
} from "./addr.ts";
import { mapLayerError } from "./errors.ts";
import { Conn } from "./conn.ts";
import { Listener } from "./listener.ts";
import { DatagramConn } from "./datagram.ts";
import { type ServeArgs, serveArgs, serveHttp, type StackHttpServer } from "./http_serve.ts";
import { stackFetch, type StackFetchInit } from "./http_fetch.ts";
import * as tlsApi from "./tls.ts";
import type { TlsConn } from "./tls_conn.ts";
import { createNodeNet, type NodeNetModule } from "./node_net.ts";

/** Options of `createStack`. */
export interface StackOptions {
  /** The link: `openTap()`, one end of `createMemoryLinkPair()`, or a decorated link. */
  link: Link;
  /** Our address and prefix, for example "10.7.0.2/24". */
  address: string;
  /** The default gateway (dotted quad), for destinations outside the prefix. */
  gateway?: string;
  /** Our MAC ("02:00:00:00:00:01" or 6 bytes); a random locally administered one by default. */
  mac?: string | Uint8Array;
  /** The hot-path engine: "wasm" (default), "js", or an engine object. */
  engine?: EngineKind | Engine;
  /** Capture every frame in and out to this pcap file. */
  pcap?: string;
  /** TCP tuning: buffer sizes, MSS, RTO bounds, no-delay default, keepalive, ISN function. */
  tcp?: Partial<TcpOptions>;
  /** Interface limits (ARP cache, fragment memory, UDP queue...). */
  limits?: Partial<IfaceLimits>;
  /** The clock: real by default; a `VirtualClock` (or "virtual") for simulations. */
  clock?: "real" | "virtual" | Clock;
}

/** Options of `NetStack.close`. */
export interface StackCloseOptions {
  /** "reset" (default) sends RST on every connection; "graceful" closes them with FIN first. */
  mode?: CloseMode;
  /** How long a graceful close waits before resetting what remains (default 2000 ms). */
  timeoutMs?: number;
}

/**
 * A running TCP/IP stack on one link.
 *
 * @example Create a stack on a memory link and close it
 * ```ts
 * import { createMemoryLinkPair, createStack } from "../../mod.ts";
 * const [link] = createMemoryLinkPair();
 * const stack = await createStack({ link, address: "10.9.0.2/24", engine: "js" });
 * if (stack.address !== "10.9.0.2") throw new Error("wrong address");
 * await stack.close();
 * ```
 */
export class NetStack implements AsyncDisposable {
  /**
   * The driver (loop, clock, interface and TCP layers): for tests and tools.
   *
   * @ignore
   */
  readonly driver: Driver<TcpLayer>;
  /** Our address as a dotted quad. */
  readonly address: string;
  /** Our prefix length. */
  readonly prefixLength: number;

  /**
   * Internal: use `createStack`.
   *
   * @ignore
   */
  constructor(driver: Driver<TcpLayer>, address: string, prefixLength: number) {
    this.driver = driver;
    this.address = address;
    this.prefixLength = prefixLength;
  }

  /** Our MAC address, colon-separated hex. */
  get mac(): string {
    return formatMac(this.driver.iface.mac);
  }

  /** Listen for TCP connections on `port` (any address of ours, or `hostname`). */
  listen(options: { port: number; hostname?: string; transport?: "tcp" }): Listener {
    const port = checkPort(options.port, false);
    const ip = hostIp(options.hostname);
    try {
      return new Listener(this.driver, this.driver.tcp.listen(ip, port));
    } catch (err) {
      throw mapLayerError(err, endpoint(ip, port));
    }
  }

  /**
   * Open a TCP connection to `hostname:port` (a dotted quad; there is no resolver). Rejects
   * with `ConnectionRefused`, `TimedOut`, `NetworkUnreachable`, or `Interrupted` when
   * `signal` aborts first.
   */
  async connect(options: {
    hostname: string;
    port: number;
    signal?: AbortSignal;
    localPort?: number;
    transport?: "tcp";
    /** Per-connection TCP tuning (an extension: buffer sizes, no-delay...). */
    tcp?: Partial<TcpOptions>;
  }): Promise<Conn> {
    const port = checkPort(options.port, false);
    const ip = parseIpv4(options.hostname);
    const where = endpoint(ip, port);
    const signal = options.signal;
    if (signal?.aborted) throw new Deno.errors.Interrupted(`Connecting to ${where} was aborted`);
    if (this.driver.closed) {
      throw new Deno.errors.BadResource(`Cannot connect to ${where}: the stack is closed`);
    }
    let conn: Conn;
    try {
      const opts = {
        ...(options.localPort === undefined ? {} : { localPort: options.localPort }),
        ...(options.tcp === undefined ? {} : { options: options.tcp }),
      };
      conn = new Conn(this.driver, this.driver.tcp.connect(ip, port, this.driver.now(), opts));
    } catch (err) {
      throw mapLayerError(err, where);
    }
    this.driver.kick();
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      conn.abort();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await conn.established();
    } catch (err) {
      if (aborted) throw new Deno.errors.Interrupted(`Connecting to ${where} was aborted`);
      throw err;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    return conn;
  }

  /** Bind a UDP socket on `port` (0: an ephemeral port). */
  listenDatagram(options: { port: number; hostname?: string; transport?: "udp" }): DatagramConn {
    const port = checkPort(options.port, true);
    const ip = hostIp(options.hostname);
    try {
      return new DatagramConn(
        this.driver,
        this.driver.iface.udpBind(port, ip === 0 ? undefined : ip),
      );
    } catch (err) {
      throw mapLayerError(err, endpoint(ip, port));
    }
  }

  // HTTP, TLS and node:net over the stack: thin delegations to http_*.ts, tls*.ts, node_net*.ts.

  /** Serve HTTP/1.1 (HTTPS with `cert`/`key`) on the stack, shaped like `Deno.serve`. */
  serve(...args: ServeArgs): StackHttpServer {
    const [options, handler] = serveArgs(args);
    return serveHttp(this, options, handler);
  }

  /** `fetch` for http: and https: URLs over the stack (`caCerts` for private CAs). */
  fetch(input: string | URL | Request, init?: StackFetchInit): Promise<Response> {
    return stackFetch(this, input, init);
  }

  /** Open a TLS connection, shaped like `Deno.connectTls`. */
  connectTls(options: tlsApi.StackConnectTlsOptions): Promise<TlsConn> {
    return tlsApi.connectTls(this, options);
  }

  /** Listen for TLS connections, shaped like `Deno.listenTls`. */
  listenTls(options: tlsApi.StackListenTlsOptions): tlsApi.TlsListener {
    return tlsApi.listenTls(this, options);
  }

  /** Upgrade a connection of this stack to TLS (client side), shaped like `Deno.startTls`. */
  startTls(conn: Conn, options?: tlsApi.StackStartTlsOptions): Promise<TlsConn> {
    return tlsApi.startTls(conn, options);
  }

  /** A `node:net`-compatible module over this stack, for npm clients that take a socket. */
  nodeNet(): NodeNetModule {
    return this.#nodeNet ??= createNodeNet(this);
  }
  #nodeNet: NodeNetModule | undefined;

  /** Counters of the interface, TCP and driver: frames, drops by reason, connections. */
  stats(): Record<string, number> {
    const out: Record<string, number> = {};
    Object.assign(
      out,
      this.driver.iface.stats(),
      this.driver.tcp.stats(),
      this.driver.driverStats(),
    );
    out["tcp-connections"] = this.driver.tcp.connectionCount;
    const faults = (this.driver.link as { faultStats?: Record<string, number> }).faultStats;
    if (faults) { for (const [k, v] of Object.entries(faults)) out[`fault-${k}`] = v; }
    return out;
  }

  /** One service pass (simulations with a virtual clock). Returns frames received. */
  step(): number {
    return this.driver.step();
  }

  /** The earliest deadline (simulations). */
  pollAt(): number {
    return this.driver.pollAt();
  }

  /** Stop the stack: end connections as asked, close the link, leave nothing pending. */
  close(options: StackCloseOptions = {}): Promise<void> {
    return this.driver.close(options.mode ?? "reset", { timeoutMs: options.timeoutMs });
  }

  /** Close the stack (reset mode). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function hostIp(hostname: string | undefined): number {
  if (hostname === undefined || hostname === "0.0.0.0") return 0;
  return parseIpv4(hostname);
}

/**
 * Create and start a stack on a link.
 *
 * @example Two stacks talking over a memory link
 * ```ts
 * import { createMemoryLinkPair, createStack } from "../../mod.ts";
 * const [la, lb] = createMemoryLinkPair();
 * const a = await createStack({ link: la, address: "10.9.0.1/24", engine: "js" });
 * const b = await createStack({ link: lb, address: "10.9.0.2/24" });
 * const listener = b.listen({ port: 9 });
 * const conn = await a.connect({ hostname: "10.9.0.2", port: 9 });
 * conn.close();
 * listener.close();
 * await a.close();
 * await b.close();
 * ```
 */
export async function createStack(options: StackOptions): Promise<NetStack> {
  await Promise.resolve(); // option errors reject the promise rather than throw
  const { address, prefixLength } = parseCidr(options.address);
  const gateway = options.gateway === undefined ? undefined : parseIpv4(options.gateway);
  const mac = typeof options.mac === "string" ? parseMac(options.mac) : options.mac;
  if (mac !== undefined && mac.length !== 6) {
    throw new TypeError(`Invalid MAC: expected 6 bytes, got ${mac.length}`);
  }
  const engineOpt = options.engine ?? "wasm";
  let engine: Engine;
  if (engineOpt === "wasm") engine = createWasmEngine();
  else if (engineOpt === "js") engine = createJsEngine();
  else if (typeof engineOpt === "object") engine = engineOpt;
  else throw new TypeError(`Unknown engine "${String(engineOpt)}": expected "wasm" or "js"`);
  let clock: Clock;
  if (options.clock === undefined || options.clock === "real") clock = realClock;
  else if (options.clock === "virtual") clock = new VirtualClock();
  else clock = options.clock;
  const inner = options.link as Link & { nextDueAt?: () => number };
  const deadlines: Array<() => number> = [];
  if (typeof inner.nextDueAt === "function") deadlines.push(() => inner.nextDueAt!());
  const link = options.pcap
    ? withPcap(inner, options.pcap, clock.virtual ? { clock: () => clock.now() } : {})
    : inner;
  const driver = new Driver({
    link,
    engine,
    clock,
    deadlines,
    createTcp: (e, tx) => new TcpLayer(e, tx, options.tcp),
    iface: {
      address,
      prefixLength,
      ...(gateway !== undefined ? { gateway } : {}),
      ...(mac !== undefined ? { mac } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
    },
  });
  driver.start();
  return new NetStack(driver, formatIpv4(address), prefixLength);
}
