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
  formatIp6,
  formatIpv4,
  formatMac,
  parseCidr,
  parseCidr6,
  parseIpLiteral,
  parseIpv4,
  parseMac,
} from "./addr.ts";
import { mapLayerError } from "./errors.ts";
import { formatIpv6 } from "../wire/ipv6_address.ts";
import { isIpv6Handle } from "../wire/ip_handle.ts";
import { EPHEMERAL_FIRST } from "../iface/udp.ts";
import { Conn } from "./conn.ts";
import { Listener } from "./listener.ts";
import { DatagramConn } from "./datagram.ts";
import { type ServeArgs, serveArgs, serveHttp, type StackHttpServer } from "./http_serve.ts";
import { stackFetch, type StackFetchInit } from "./http_fetch.ts";
import * as tlsApi from "./tls.ts";
import type { TlsConn } from "./tls_conn.ts";
import { createNodeNet, type NodeNetModule } from "./node_net.ts";
import {
  type DnsOptions,
  type DnsRecordType,
  DnsResolver,
  type DnsResultMap,
  isDottedQuad,
  type ResolveDnsOptions,
} from "./dns.ts";
import { openTrace, type StackTrace, type TraceOptions } from "./trace.ts";

/** Options of `createStack`. */
export interface StackOptions {
  /** The link: `openTap()`, one end of `createMemoryLinkPair()`, or a decorated link. */
  link: Link;
  /**
   * Our address and prefix, for example "10.7.0.2/24"; or a list with one IPv4 CIDR and IPv6
   * ones (`["10.7.0.2/24", "fd00::2/64"]`). TCP and UDP work over both; IPv6 also answers
   * neighbor discovery and ping on these addresses and the link-local one from the MAC.
   * The word "slaac" in the list (`["10.7.0.2/24", "slaac"]`) also forms an address from each
   * prefix a router advertises for autoconfiguration (RFC 4862). Every IPv6 address is used
   * once duplicate address detection passed, about one second after start: with IPv6 CIDRs in
   * the list, `createStack` resolves once they passed (a duplicate is counted in `stats()` as
   * `ndp-dad-duplicates` and not used).
   */
  address: string | string[];
  /** The default gateway (dotted quad), for destinations outside the prefix. */
  gateway?: string;
  /** Our MAC ("02:00:00:00:00:01" or 6 bytes); a random locally administered one by default. */
  mac?: string | Uint8Array;
  /**
   * The hot-path engine: "wasm" (default) or "js"; or an `Engine` object (see `./testing.ts`:
   * `createJsEngine`, `createWasmEngine`).
   */
  engine?: EngineKind | object;
  /** Capture every frame in and out to this pcap file. */
  pcap?: string;
  /** TCP tuning: buffer sizes, MSS, RTO bounds, no-delay default, keepalive, ISN function. */
  tcp?: Partial<TcpOptions>;
  /** Interface limits (ARP cache, fragment memory, UDP queue...). */
  limits?: Partial<IfaceLimits>;
  /** The clock: real by default; a `VirtualClock` (or "virtual") for simulations. */
  clock?: "real" | "virtual" | Clock;
  /**
   * Name resolution: DNS servers reached over this stack, a static hosts map, timeouts and
   * cache bounds. Without it only dotted quads, "localhost" and `hosts` names resolve.
   */
  dns?: DnsOptions;
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
  constructor(
    driver: Driver<TcpLayer>,
    address: string,
    prefixLength: number,
    dns: DnsResolver = new DnsResolver(),
  ) {
    this.driver = driver;
    this.address = address;
    this.prefixLength = prefixLength;
    this.#dns = dns;
    dns.attach(this);
    driver.onClose(() => this.#dns.close());
  }

  #dns: DnsResolver;

  /** Our MAC address, colon-separated hex. */
  get mac(): string {
    return formatMac(this.driver.iface.mac);
  }

  /**
   * This stack's addresses, shaped like `Deno.networkInterfaces()`: the IPv4 one, then the IPv6
   * ones that passed duplicate address detection (the link-local one from the MAC, those
   * configured, those formed by SLAAC from router advertisements). `name` is the link's name.
   *
   * @example List the addresses
   * ```ts
   * import { createMemoryLinkPair, createStack } from "../../mod.ts";
   * const [a] = createMemoryLinkPair();
   * const stack = await createStack({ link: a, address: ["10.9.0.2/24", "fd00::2/64"] });
   * const v6 = stack.networkInterfaces().filter((i) => i.family === "IPv6");
   * if (!v6.some((i) => i.cidr === "fd00::2/64")) throw new Error("missing");
   * if (!v6.some((i) => i.address.startsWith("fe80::") && i.scopeid !== 0)) throw new Error("ll");
   * await stack.close();
   * ```
   */
  networkInterfaces(): Deno.NetworkInterfaceInfo[] {
    const iface = this.driver.iface;
    const name = this.driver.link.name;
    const mac = this.mac;
    const out: Deno.NetworkInterfaceInfo[] = [{
      family: "IPv4",
      name,
      address: this.address,
      netmask: formatIpv4Mask(this.prefixLength),
      scopeid: null,
      cidr: `${this.address}/${this.prefixLength}`,
      mac,
    }];
    for (const a of iface.ip6Host.nd.addrs.list) {
      if (!a.usable) continue;
      const address = formatIpv6(a.addr);
      out.push({
        family: "IPv6",
        name,
        address,
        netmask: formatIpv6(prefixMask6(a.prefixLength)),
        // Link-local addresses are scoped to the link (RFC 4007); there is one link: index 1.
        scopeid: a.addr[0] === 0xfe && (a.addr[1]! & 0xc0) === 0x80 ? 1 : 0,
        cidr: `${address}/${a.prefixLength}`,
        mac,
      });
    }
    return out;
  }

  /**
   * Listen for TCP connections on `port` (any address of ours, or `hostname`: our address or
   * one of 127.0.0.0/8). Port 0 picks a free port from 49152-65535; `addr.port` tells which.
   * Throws `AddrInUse` when the port is taken, `AddrNotAvailable` for an address not ours.
   */
  listen(options: { port: number; hostname?: string; transport?: "tcp" }): Listener {
    const port = checkPort(options.port, true);
    const ip = this.#localIp(options.hostname, port);
    // No hostname or "::": IPv4 and IPv6 (Linux bindv6only=0); "0.0.0.0": IPv4 only.
    const bare = options.hostname?.replace(/^\[(.*)\]$/, "$1");
    const only = { ipv4Only: bare === "0.0.0.0" };
    const anyName = bare === "::" ? "::" : undefined;
    const fmt = this.#fmt;
    if (port !== 0) {
      try {
        return new Listener(
          this.driver,
          this.driver.tcp.listen(ip, port, undefined, only),
          anyName,
        );
      } catch (err) {
        throw mapLayerError(err, endpoint(ip, port, fmt));
      }
    }
    // Port 0 (as Linux inet_csk_get_port): a free port of the ephemeral range, from a random
    // start, skipping ports that have a listener on an overlapping address.
    const span = 65536 - EPHEMERAL_FIRST;
    const start = Math.floor(Math.random() * span);
    for (let i = 0; i < span; i++) {
      const p = EPHEMERAL_FIRST + (start + i) % span;
      try {
        return new Listener(this.driver, this.driver.tcp.listen(ip, p, undefined, only), anyName);
      } catch (err) {
        if ((err as { code?: unknown }).code !== "addr-in-use") {
          throw mapLayerError(err, endpoint(ip, p, fmt));
        }
      }
    }
    throw new Deno.errors.AddrInUse(`No free port to listen on at ${this.#fmt(ip)}`);
  }

  /**
   * Our IPv6 addresses are used once duplicate address detection passed (RFC 4862 5.4, about
   * one second after start): a connect made before waits for it (at most 3 s).
   */
  async #dadSettled(signal: AbortSignal | undefined): Promise<void> {
    const host = this.driver.iface.ip6Host;
    for (let i = 0; i < 150 && host.dadPending && !this.driver.closed; i++) {
      if (signal?.aborted) throw signal.reason;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Formats this stack's numeric addresses (IPv6 handles through its interface). */
  readonly #fmt = (ip: number): string => this.driver.iface.formatAddress(ip);

  /**
   * The numeric address of a literal: a u32, or the handle of an IPv6 address (valid until
   * the next received frame: for a call that holds it at once).
   */
  #literal(lit: number | Uint8Array): number {
    return typeof lit === "number" ? lit : this.driver.iface.ipv6Handle(lit);
  }

  /**
   * The local address `hostname` names (0 for any; "localhost" and hosts-map names too);
   * `AddrNotAvailable` when not ours.
   */
  #localIp(hostname: string | undefined, port: number): number {
    const lit = hostname === undefined ? null : parseIpLiteral(hostname);
    if (lit instanceof Uint8Array) {
      if (lit.every((b) => b === 0)) return 0; // "::": any address, both families
      if (!this.driver.iface.isOwnIpv6(lit)) {
        throw new Deno.errors.AddrNotAvailable(
          `Cannot bind to [${formatIp6(lit)}]:${port}: not an address of this stack`,
        );
      }
      return this.#literal(lit);
    }
    const named = hostname === undefined || isDottedQuad(hostname)
      ? undefined
      : this.#dns.staticLookup(hostname)?.[0];
    const ip = hostIp(named ?? hostname);
    if (ip !== 0 && ip !== this.driver.iface.address && ip >>> 24 !== 127) {
      throw new Deno.errors.AddrNotAvailable(
        `Cannot bind to ${endpoint(ip, port)}: not an address of this stack`,
      );
    }
    return ip;
  }

  /**
   * Open a TCP connection to `hostname:port`: a dotted quad, or a name resolved by
   * `resolveHost` (hosts map, "localhost", then DNS). Rejects with `ConnectionRefused`,
   * `TimedOut`, `NetworkUnreachable` or `NotFound` for an unknown name; when `signal` aborts
   * first (during the lookup or the handshake), the half-open connection is dropped and the
   * promise rejects with `signal.reason`, as Deno does (an `AbortError` DOMException from
   * `controller.abort()`, a `TimeoutError` from `AbortSignal.timeout()`, or the caller's own).
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
    const signal = options.signal;
    let lit = parseIpLiteral(options.hostname); // a bad IPv6 literal: TypeError
    if (lit === null) {
      if (signal?.aborted) throw signal.reason;
      try {
        lit = parseIpLiteral(await this.resolveHost(options.hostname, signal ? { signal } : {}))!;
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        throw err;
      }
    }
    if (lit instanceof Uint8Array) await this.#dadSettled(signal);
    // No await from here to tcp.connect, which holds an IPv6 handle.
    const ip = this.#literal(lit);
    // For messages only: an IPv4 address is formatted when one is needed; an IPv6 handle now,
    // while it is surely held.
    const v6 = isIpv6Handle(ip) ? endpoint(ip, port, this.#fmt) : null;
    if (signal?.aborted) throw signal.reason;
    if (this.driver.closed) {
      throw new Deno.errors.BadResource(
        `Cannot connect to ${v6 ?? endpoint(ip, port)}: the stack is closed` +
          (this.driver.linkError ? ` (${this.driver.linkError.message})` : ""),
      );
    }
    let conn: Conn;
    try {
      const opts = options.localPort === undefined && options.tcp === undefined ? undefined : {
        ...(options.localPort === undefined ? {} : { localPort: options.localPort }),
        ...(options.tcp === undefined ? {} : { options: options.tcp }),
      };
      conn = new Conn(this.driver, this.driver.tcp.connect(ip, port, this.driver.now(), opts));
    } catch (err) {
      throw mapLayerError(err, v6 ?? endpoint(ip, port));
    }
    if (signal === undefined) {
      await conn.established();
      return conn;
    }
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      conn.abort();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await conn.established();
    } catch (err) {
      if (aborted) throw signal.reason;
      throw err;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    return conn;
  }

  /**
   * Bind a UDP socket on `port` (0: a free port from 49152-65535, reported in `addr`) on any
   * address of ours, or `hostname` (our address or one of 127.0.0.0/8).
   */
  listenDatagram(options: { port: number; hostname?: string; transport?: "udp" }): DatagramConn {
    const port = checkPort(options.port, true);
    const ip = this.#localIp(options.hostname, port);
    try {
      return new DatagramConn(
        this.driver,
        this.driver.iface.udpBind(port, ip === 0 ? undefined : ip, {
          ipv4Only: options.hostname?.replace(/^\[(.*)\]$/, "$1") === "0.0.0.0",
        }),
      );
    } catch (err) {
      throw mapLayerError(err, endpoint(ip, port, this.#fmt));
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

  /**
   * Look up DNS records of `query`, shaped like `Deno.resolveDns`: A, AAAA, CAA, CNAME, MX,
   * NS, PTR, SOA, SRV and TXT. Asks the stack's `dns.servers` (or `options.nameServer`) over
   * the stack's own UDP, retrying and falling back to TCP for truncated answers; answers are
   * cached for their TTL. A queries also consult the hosts map and "localhost". Rejects with
   * `Deno.errors.NotFound` when the name or record does not exist (or no server is
   * configured), `Deno.errors.TimedOut` when no server answers, an `Error` naming the code
   * when the servers fail (SERVFAIL, REFUSED), and the signal's reason when it aborts.
   *
   * @example Answer from the hosts map (no server needed)
   * ```ts
   * import { createMemoryLinkPair, createStack } from "../../mod.ts";
   * const [link] = createMemoryLinkPair();
   * const stack = await createStack({
   *   link,
   *   address: "10.9.0.2/24",
   *   dns: { hosts: { "db.internal": ["10.9.0.7", "10.9.0.8"] } },
   * });
   * const addrs = await stack.resolveDns("db.internal", "A");
   * if (addrs.join() !== "10.9.0.7,10.9.0.8") throw new Error(`got ${addrs}`);
   * await stack.close();
   * ```
   */
  resolveDns<T extends DnsRecordType>(
    query: string,
    recordType: T,
    options?: ResolveDnsOptions,
  ): Promise<DnsResultMap[T]> {
    return this.#dns.resolve(query, recordType, options);
  }

  /**
   * The IPv4 address to connect to for `hostname` (what `connect` uses; for HTTP clients and
   * servers over the stack): a dotted quad as is, then the `dns.hosts` map and "localhost"
   * (127.0.0.1), then the first A record from DNS (CNAMEs followed, cached for the TTL).
   * Rejects with `Deno.errors.NotFound` for an unknown name, `Deno.errors.TimedOut` when no
   * server answers, the signal's reason when it aborts.
   *
   * @example Static names
   * ```ts
   * import { createMemoryLinkPair, createStack } from "../../mod.ts";
   * const [link] = createMemoryLinkPair();
   * const stack = await createStack({
   *   link,
   *   address: "10.9.0.2/24",
   *   dns: { hosts: { "api.internal": "10.9.0.5" } },
   * });
   * if (await stack.resolveHost("api.internal") !== "10.9.0.5") throw new Error();
   * if (await stack.resolveHost("localhost") !== "127.0.0.1") throw new Error();
   * await stack.close();
   * ```
   */
  async resolveHost(hostname: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    const lit = parseIpLiteral(hostname);
    if (lit instanceof Uint8Array) return formatIp6(lit); // an IPv6 literal is itself
    const all = await this.#dns.lookupIpv4(hostname, options.signal);
    return all[0]!;
  }

  /**
   * Follow this stack's TCP segments (both directions, options, raw and scaled windows) and
   * connection state changes as an async iterable; `conn` narrows it to one connection. At
   * most `limit` events wait for the reader (default 4096): beyond that the oldest is dropped
   * and counted in `lost`. Ends when the stack closes or the trace is closed.
   *
   * @example The seed note's handshake, SEQ 100 and 2000, as events
   * ```ts
   * import { createMemoryLinkPair, createStack } from "../../mod.ts";
   * const [la, lb] = createMemoryLinkPair();
   * const client = await createStack({ link: la, address: "10.9.0.1/24", tcp: { isn: () => 100 } });
   * const server = await createStack({ link: lb, address: "10.9.0.2/24", tcp: { isn: () => 2000 } });
   * const trace = client.trace();
   * const listener = server.listen({ port: 80 });
   * const conn = await client.connect({ hostname: "10.9.0.2", port: 80 });
   * const seen: string[] = [];
   * for await (const ev of trace) {
   *   if (ev.type === "segment") seen.push(`${ev.dir} SEQ=${ev.seq} ACK=${ev.ack}`);
   *   if (seen.length === 3) break;
   * }
   * if (seen.join(", ") !== "out SEQ=100 ACK=0, in SEQ=2000 ACK=101, out SEQ=101 ACK=2001") {
   *   throw new Error(seen.join(", "));
   * }
   * conn.close();
   * listener.close();
   * await client.close();
   * await server.close();
   * ```
   */
  trace(options: TraceOptions = {}): StackTrace {
    return openTrace(this.driver, options);
  }

  /**
   * Counters of the interface, TCP, driver and link: frames, drops by reason, connections,
   * and the link's own counters through every wrapper (`tap-*`, `fault-*`, `pcap-*`).
   */
  stats(): Record<string, number> {
    const out: Record<string, number> = {};
    Object.assign(
      out,
      this.driver.iface.stats(),
      this.driver.tcp.stats(),
      this.driver.driverStats(),
    );
    out["tcp-connections"] = this.driver.tcp.connectionCount;
    // The link's counters, through every decorator (tap-*, fault-*, pcap-*, memory-*).
    Object.assign(out, this.driver.link.counters?.());
    Object.assign(out, this.#dns.counters);
    if (this.#dns.cacheEntries > 0) out["dns-cache-entries"] = this.#dns.cacheEntries;
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

function isEngine(x: unknown): x is Engine {
  const e = x as Partial<Engine> | null;
  return typeof e === "object" && e !== null && typeof e.decode === "function" &&
    typeof e.encode === "function";
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
  const cidrs = typeof options.address === "string" ? [options.address] : options.address;
  if (!Array.isArray(cidrs) || cidrs.some((c) => typeof c !== "string")) {
    throw new TypeError("Invalid address: expected a CIDR string or an array of them");
  }
  const slaac = cidrs.includes("slaac"); // RFC 4862 SLAAC (ndp.ts)
  const v4 = cidrs.filter((c) => !c.includes(":") && c !== "slaac");
  if (v4.length !== 1) {
    throw new TypeError(`Invalid address: expected exactly one IPv4 CIDR, got ${v4.length}`);
  }
  const { address, prefixLength } = parseCidr(v4[0]!);
  const ipv6 = cidrs.filter((c) => c.includes(":")).map(parseCidr6);
  const gateway = options.gateway === undefined ? undefined : parseIpv4(options.gateway);
  const mac = typeof options.mac === "string" ? parseMac(options.mac) : options.mac;
  if (mac !== undefined && mac.length !== 6) {
    throw new TypeError(`Invalid MAC: expected 6 bytes, got ${mac.length}`);
  }
  const dns = new DnsResolver(options.dns); // checks the options before anything starts
  const engineOpt = options.engine ?? "wasm";
  let engine: Engine;
  if (engineOpt === "wasm") engine = createWasmEngine();
  else if (engineOpt === "js") engine = createJsEngine();
  else if (isEngine(engineOpt)) engine = engineOpt;
  else throw new TypeError(`Unknown engine "${String(engineOpt)}": expected "wasm" or "js"`);
  let clock: Clock;
  if (options.clock === undefined || options.clock === "real") clock = realClock;
  else if (options.clock === "virtual") clock = new VirtualClock();
  else clock = options.clock;
  const inner = options.link;
  const link = options.pcap
    ? withPcap(inner, options.pcap, clock.virtual ? { clock: () => clock.now() } : {})
    : inner;
  const driver = new Driver({
    link,
    engine,
    clock,
    // A same-thread peer (link.ts) gets the strict auto-tuning rule unless the options say.
    createTcp: (e, tx) =>
      new TcpLayer(e, tx, { sameThreadPeer: link.sameThreadPeer === true, ...options.tcp }),
    iface: {
      address,
      prefixLength,
      ...(gateway !== undefined ? { gateway } : {}),
      ...(mac !== undefined ? { mac } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
      ...(ipv6.length > 0 ? { ipv6 } : {}),
      ...(slaac ? { slaac } : {}),
    },
  });
  driver.start();
  // RFC 4862 5.4: IPv6 addresses are used once duplicate address detection passed (about 1 s);
  // a stack given IPv6 addresses resolves when they are ready (at most 3 s; virtual time: at once).
  for (let i = 0; i < 150 && ipv6.length > 0 && !clock.virtual; i++) {
    if (!driver.iface.ip6Host.dadPending) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return new NetStack(driver, formatIpv4(address), prefixLength, dns);
}

/** The dotted-quad netmask of a prefix length. */
function formatIpv4Mask(prefixLength: number): string {
  const m = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  return [m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255].join(".");
}

/** The 16-byte netmask of an IPv6 prefix length. */
function prefixMask6(prefixLength: number): Uint8Array {
  const m = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, prefixLength - i * 8));
    m[i] = (0xff00 >> bits) & 0xff;
  }
  return m;
}
