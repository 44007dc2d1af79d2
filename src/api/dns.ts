/**
 * A DNS stub resolver (RFC 1035 7, RFC 1123 6.1.3) over the stack's own UDP and TCP sockets:
 * queries with random identifiers from random ports (RFC 5452), answers checked against the
 * question, retries over the configured servers with a timeout per try, TCP when an answer is
 * truncated (RFC 7766), a bounded TTL cache with negative caching (RFC 2308), a bounded
 * number of queries in flight, and a static hosts map ("localhost" built in, RFC 6761 6.3).
 * Results and errors are shaped like `Deno.resolveDns`: `NotFound` for a name or record that
 * does not exist, `TimedOut` when no server answers.
 *
 * @module
 */

import {
  CLASS_IN,
  decodeDns,
  type DnsMessage,
  type DnsRecord,
  encodeDnsQuery,
  encodeName,
  RCODE_NOERROR,
  RCODE_NXDOMAIN,
  TYPE_A,
  TYPE_AAAA,
  TYPE_CAA,
  TYPE_CNAME,
  TYPE_MX,
  TYPE_NS,
  TYPE_PTR,
  TYPE_SOA,
  TYPE_SRV,
  TYPE_TXT,
} from "../wire/dns.ts";
import { formatIpv4, parseIpv4 } from "./addr.ts";
import { DnsCache } from "./dns_cache.ts";

/** Record types `resolveDns` answers (a subset of `Deno.RecordType`). */
export type DnsRecordType =
  | "A"
  | "AAAA"
  | "CAA"
  | "CNAME"
  | "MX"
  | "NS"
  | "PTR"
  | "SOA"
  | "SRV"
  | "TXT";

const TYPES: Record<DnsRecordType, number> = {
  A: TYPE_A,
  AAAA: TYPE_AAAA,
  CAA: TYPE_CAA,
  CNAME: TYPE_CNAME,
  MX: TYPE_MX,
  NS: TYPE_NS,
  PTR: TYPE_PTR,
  SOA: TYPE_SOA,
  SRV: TYPE_SRV,
  TXT: TYPE_TXT,
};

/** The result of `resolveDns` for each record type, as `Deno.resolveDns` gives it. */
export interface DnsResultMap {
  /** IPv4 addresses. */
  A: string[];
  /** IPv6 addresses. */
  AAAA: string[];
  /** CAA records. */
  CAA: Deno.CaaRecord[];
  /** Canonical names. */
  CNAME: string[];
  /** Mail exchanges. */
  MX: Deno.MxRecord[];
  /** Name servers. */
  NS: string[];
  /** Pointer names. */
  PTR: string[];
  /** SOA records. */
  SOA: Deno.SoaRecord[];
  /** Service records. */
  SRV: Deno.SrvRecord[];
  /** The strings of each TXT record. */
  TXT: string[][];
}

/** DNS options of `createStack` (`dns`). */
export interface DnsOptions {
  /** Name servers: dotted quads, optionally with a port ("10.7.0.1" or "10.7.0.1:5353"). */
  servers?: string[];
  /**
   * Static names (like /etc/hosts): name -> IPv4 address or addresses. Consulted before DNS
   * for host lookups and A queries. "localhost" (and names under it) is 127.0.0.1 unless
   * given here.
   */
  hosts?: Record<string, string | string[]>;
  /** Time to wait for an answer from one server, per try, in ms. Default 2000. */
  timeoutMs?: number;
  /** Rounds over the server list before giving up (glibc `attempts`). Default 2. */
  attempts?: number;
  /** Answers kept in the cache (least recently used evicted). Default 512. */
  cacheSize?: number;
  /** Longest time an answer is cached, in seconds, whatever its TTL. Default 86400. */
  maxTtl?: number;
  /** Longest time a "not found" answer is cached, in seconds (RFC 2308 5). Default 900. */
  maxNegativeTtl?: number;
  /** Queries in flight at once; more wait for a free slot. Default 64. */
  maxPending?: number;
}

/** Per-call options of `resolveDns`, as `Deno.ResolveDnsOption`. */
export interface ResolveDnsOptions {
  /** Ask this server instead of the configured ones. */
  nameServer?: { ipAddr: string; port?: number };
  /** Abort the lookup (rejects with the signal's reason, an `AbortError`). */
  signal?: AbortSignal;
}

/** What the resolver needs of the stack: its own sockets. */
export interface DnsTransport {
  /** A UDP socket on a free port. */
  listenDatagram(options: { port: number }): {
    send(data: Uint8Array, addr: Deno.NetAddr): Promise<number>;
    receive(): Promise<[Uint8Array, Deno.NetAddr]>;
    close(): void;
  };
  /** A TCP connection. */
  connect(options: { hostname: string; port: number; signal?: AbortSignal }): Promise<{
    write(p: Uint8Array): Promise<number>;
    read(p: Uint8Array): Promise<number | null>;
    close(): void;
  }>;
}

interface Server {
  ip: string;
  port: number;
}

type Answer = { records: DnsRecord[]; ttl: number } | { notFound: string; ttl: number };

/** Counters of the resolver (in `stack.stats()` as `dns-*`). */
export interface DnsCounters {
  [name: string]: number;
}

/**
 * The stub resolver of one stack. Made by `createStack` from its `dns` option.
 *
 * @example Names from the hosts map resolve without a server
 * ```ts
 * import { createMemoryLinkPair, createStack } from "../../mod.ts";
 * const [link] = createMemoryLinkPair();
 * const stack = await createStack({
 *   link,
 *   address: "10.9.0.2/24",
 *   dns: { hosts: { "db.internal": "10.9.0.7" } },
 * });
 * if ((await stack.resolveDns("db.internal", "A"))[0] !== "10.9.0.7") throw new Error();
 * if ((await stack.resolveHost("localhost")) !== "127.0.0.1") throw new Error();
 * await stack.close();
 * ```
 */
export class DnsResolver {
  /** Counters: queries sent, answers, retries, TCP fallbacks, cache hits, drops. */
  readonly counters: DnsCounters = {};
  #net: DnsTransport | null = null;
  #servers: Server[];
  #hosts = new Map<string, string[]>();
  #timeoutMs: number;
  #attempts: number;
  #maxTtl: number;
  #maxNegTtl: number;
  #maxPending: number;
  #cache: DnsCache<Answer>;
  #inflight = new Map<string, Promise<Answer>>();
  #active = 0;
  #waiting: Array<() => void> = [];
  #closed = false;

  /** A resolver with `options`; throws TypeError/RangeError for bad ones. See `attach`. */
  constructor(options: DnsOptions = {}) {
    this.#servers = (options.servers ?? []).map(parseServer);
    this.#timeoutMs = positive("timeoutMs", options.timeoutMs ?? 2000);
    this.#attempts = positive("attempts", options.attempts ?? 2);
    this.#maxTtl = positive("maxTtl", options.maxTtl ?? 86400);
    this.#maxNegTtl = nonNegative("maxNegativeTtl", options.maxNegativeTtl ?? 900);
    this.#maxPending = positive("maxPending", options.maxPending ?? 64);
    this.#cache = new DnsCache(positive("cacheSize", options.cacheSize ?? 512));
    for (const [name, v] of Object.entries(options.hosts ?? {})) {
      const list = Array.isArray(v) ? v : [v];
      if (list.length === 0) throw new TypeError(`Hosts entry "${name}" has no address`);
      this.#hosts.set(normalize(name), list.map((a) => formatIpv4(parseIpv4(a))));
    }
  }

  /** Send queries through `net` (the stack's sockets). */
  attach(net: DnsTransport): void {
    this.#net = net;
  }

  #transport(): DnsTransport {
    if (this.#net === null) throw new Deno.errors.BadResource("The resolver has no stack");
    return this.#net;
  }

  /** Answers in the cache. */
  get cacheEntries(): number {
    return this.#cache.size;
  }

  /** Queries waiting for an answer now. */
  get pending(): number {
    return this.#active;
  }

  /** Stop: later lookups reject with `BadResource`. */
  close(): void {
    this.#closed = true;
    this.#cache.clear();
  }

  /** The static addresses of `hostname` (hosts map, "localhost"), or undefined. */
  staticLookup(hostname: string): string[] | undefined {
    const n = normalize(hostname);
    const h = this.#hosts.get(n);
    if (h) return h;
    if (n === "localhost" || n.endsWith(".localhost")) return ["127.0.0.1"];
    return undefined;
  }

  /**
   * The IPv4 addresses of `hostname`: a dotted quad as is, then the hosts map, then DNS
   * A records (CNAMEs followed). Rejects with `NotFound`, `TimedOut`, or the signal's reason.
   */
  async lookupIpv4(hostname: string, signal?: AbortSignal): Promise<string[]> {
    if (isDottedQuad(hostname)) return [formatIpv4(parseIpv4(hostname))];
    const s = this.staticLookup(hostname);
    if (s) return s;
    return await this.resolve(hostname, "A", { ...(signal ? { signal } : {}) });
  }

  /** Look up `name`'s records of `type`, shaped like `Deno.resolveDns`. */
  async resolve<T extends DnsRecordType>(
    name: string,
    type: T,
    options: ResolveDnsOptions = {},
  ): Promise<DnsResultMap[T]> {
    const qtype = TYPES[type];
    if (qtype === undefined) {
      throw new TypeError(
        `Unsupported DNS record type "${type}": expected one of ${Object.keys(TYPES).join(", ")}`,
      );
    }
    if (this.#closed) throw new Deno.errors.BadResource("The stack's resolver is closed");
    options.signal?.throwIfAborted();
    const qname = normalize(name);
    encodeName(qname); // a name that cannot be asked is a TypeError, before any lookup
    if (type === "A") {
      const s = this.staticLookup(qname);
      if (s) return [...s] as DnsResultMap[T];
    }
    const servers = options.nameServer
      ? [{
        ip: formatIpv4(parseIpv4(options.nameServer.ipAddr)),
        port: options.nameServer.port ?? 53,
      }]
      : this.#servers;
    const answer = await this.#answer(qname, qtype, servers, options.signal);
    if ("notFound" in answer) throw new Deno.errors.NotFound(answer.notFound);
    return answer.records.map((r) => toDeno(type, r)) as DnsResultMap[T];
  }

  /** A cached answer, a query already in flight, or a new query. */
  async #answer(
    qname: string,
    qtype: number,
    servers: Server[],
    signal?: AbortSignal,
  ): Promise<Answer> {
    const key = `${qtype} ${qname} ${servers.map((s) => `${s.ip}:${s.port}`).join(",")}`;
    const now = performance.now();
    const hit = this.#cache.get(key, now);
    if (hit) {
      this.#count("dns-cache-hits");
      return hit;
    }
    if (servers.length === 0) {
      throw new Deno.errors.NotFound(
        `Cannot resolve "${qname}": no DNS servers are configured (createStack dns.servers)`,
      );
    }
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#query(qname, qtype, servers).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    const answer = await withSignal(p, signal);
    if (answer.ttl > 0) this.#cache.set(key, answer, performance.now() + answer.ttl * 1000);
    return answer;
  }

  /** Wait for a slot (maxPending), ask, interpret. */
  async #query(qname: string, qtype: number, servers: Server[]): Promise<Answer> {
    if (this.#active >= this.#maxPending) {
      this.#count("dns-queries-queued");
      await new Promise<void>((resolve) => this.#waiting.push(resolve)); // a slot handed over
    } else {
      this.#active++;
    }
    try {
      const msg = await this.#exchange(qname, qtype, servers);
      return this.#interpret(msg, qname, qtype);
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }

  /** RFC 1034 5.3.3 / RFC 2308: the records answering the question, or why there are none. */
  #interpret(msg: DnsMessage, qname: string, qtype: number): Answer {
    const negTtl = (): number => {
      const soa = msg.authorities.find((r) => r.type === TYPE_SOA);
      if (!soa) return 0; // RFC 2308 5: no SOA, no negative caching
      const min = (soa.data as { minimum: number }).minimum;
      return Math.min(soa.ttl, min, this.#maxNegTtl);
    };
    if (msg.rcode === RCODE_NXDOMAIN) {
      this.#count("dns-nxdomain");
      return { notFound: `No such name "${qname}" (NXDOMAIN)`, ttl: negTtl() };
    }
    if (msg.rcode !== RCODE_NOERROR) {
      throw new Error(`DNS server failed for "${qname}": ${rcodeName(msg.rcode)}`);
    }
    // Follow the CNAME chain inside the answer (bounded by the answer's size).
    let name = qname;
    let ttl = this.#maxTtl;
    const seen = new Set<string>();
    for (;;) {
      const hits = msg.answers.filter((r) =>
        r.name === name && r.type === qtype && r.class === CLASS_IN
      );
      if (hits.length > 0) {
        for (const r of hits) ttl = Math.min(ttl, r.ttl);
        return { records: hits, ttl };
      }
      const cname = msg.answers.find((r) => r.name === name && r.type === TYPE_CNAME);
      if (!cname || seen.has(name)) break;
      seen.add(name);
      ttl = Math.min(ttl, cname.ttl);
      name = cname.data as string;
    }
    this.#count("dns-nodata");
    const what = Object.entries(TYPES).find(([, v]) => v === qtype)?.[0] ?? String(qtype);
    return { notFound: `No ${what} record for "${qname}"`, ttl: negTtl() };
  }

  /** One question over UDP, retried over the servers; TCP when the answer is truncated. */
  async #exchange(qname: string, qtype: number, servers: Server[]): Promise<DnsMessage> {
    const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
    const query = encodeDnsQuery(id, qname, qtype);
    const sock = this.#transport().listenDatagram({ port: 0 });
    // One receive outstanding at a time: a late answer after a timeout is not lost.
    let next: Promise<[Uint8Array, Deno.NetAddr] | null> | null = null;
    const recv = (): Promise<[Uint8Array, Deno.NetAddr] | null> =>
      next ??= sock.receive().catch(() => null).finally(() => next = null);
    let lastError: Error | null = null;
    try {
      const tries = this.#attempts * servers.length;
      for (let k = 0; k < tries; k++) {
        if (this.#closed) throw new Deno.errors.BadResource("The stack's resolver is closed");
        const server = servers[k % servers.length]!;
        if (k > 0) this.#count("dns-retries");
        this.#count("dns-queries-sent");
        try {
          await sock.send(query, { transport: "udp", hostname: server.ip, port: server.port });
        } catch (err) {
          lastError = err as Error;
          continue;
        }
        const msg = await this.#receive(recv, id, qname, qtype, server);
        if (msg === null) continue; // timed out: next server
        if (msg.tc) {
          this.#count("dns-tcp-fallbacks");
          return await this.#exchangeTcp(query, id, qname, qtype, server);
        }
        // RFC 1035 7.3: server failure or refusal: try the next server.
        if (msg.rcode !== RCODE_NOERROR && msg.rcode !== RCODE_NXDOMAIN) {
          lastError = new Error(`DNS server failed for "${qname}": ${rcodeName(msg.rcode)}`);
          continue;
        }
        return msg;
      }
    } finally {
      sock.close();
    }
    if (lastError) throw lastError;
    this.#count("dns-timeouts");
    throw new Deno.errors.TimedOut(
      `No DNS server answered for "${qname}" (${
        servers.map((s) => `${s.ip}:${s.port}`).join(", ")
      }, ` +
        `${this.#attempts} tries of ${this.#timeoutMs} ms each)`,
    );
  }

  /** The matching answer from `server`, or null after the timeout. */
  async #receive(
    recv: () => Promise<[Uint8Array, Deno.NetAddr] | null>,
    id: number,
    qname: string,
    qtype: number,
    server: Server,
  ): Promise<DnsMessage | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((resolve) =>
      timer = setTimeout(() => resolve(null), this.#timeoutMs)
    );
    try {
      for (;;) {
        const got = await Promise.race([recv(), timeout]);
        if (got === null) return null;
        const [data, from] = got;
        // RFC 5452 9.1: accept only the server's address and port, our id and our question.
        if (from.hostname !== server.ip || from.port !== server.port) {
          this.#count("dns-wrong-source");
          continue;
        }
        const r = decodeDns(data);
        if (!r.ok) {
          this.#count("dns-malformed");
          continue;
        }
        if (!matches(r.message, id, qname, qtype)) {
          this.#count("dns-mismatched");
          continue;
        }
        this.#count("dns-answers");
        return r.message;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** RFC 7766 / RFC 1035 4.2.2: the query over TCP with a two-byte length prefix. */
  async #exchangeTcp(
    query: Uint8Array,
    id: number,
    qname: string,
    qtype: number,
    server: Server,
  ): Promise<DnsMessage> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.#timeoutMs);
    let conn: Awaited<ReturnType<DnsTransport["connect"]>> | undefined;
    try {
      conn = await this.#transport().connect({
        hostname: server.ip,
        port: server.port,
        signal: ac.signal,
      });
      const framed = new Uint8Array(2 + query.length);
      framed[0] = query.length >>> 8;
      framed[1] = query.length & 255;
      framed.set(query, 2);
      await conn.write(framed);
      const c = conn;
      ac.signal.addEventListener("abort", () => c.close(), { once: true });
      const head = await readExactly(conn, 2);
      const len = (head[0]! << 8) | head[1]!;
      const body = await readExactly(conn, len);
      const r = decodeDns(body);
      if (!r.ok) {
        throw new Deno.errors.InvalidData(
          `Malformed DNS answer over TCP from ${server.ip}: ${r.error}`,
        );
      }
      if (!matches(r.message, id, qname, qtype)) {
        throw new Deno.errors.InvalidData(
          `DNS answer over TCP from ${server.ip} does not match the question`,
        );
      }
      this.#count("dns-answers");
      return r.message;
    } catch (err) {
      if (ac.signal.aborted) {
        this.#count("dns-timeouts");
        throw new Deno.errors.TimedOut(
          `DNS over TCP to ${server.ip}:${server.port} timed out for "${qname}"`,
        );
      }
      throw err;
    } finally {
      clearTimeout(timer);
      try {
        conn?.close();
      } catch { /* already closed */ }
    }
  }

  #count(name: string): void {
    this.counters[name] = (this.counters[name] ?? 0) + 1;
  }
}

async function readExactly(
  conn: { read(p: Uint8Array): Promise<number | null> },
  n: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(out.subarray(got));
    if (r === null) {
      throw new Deno.errors.UnexpectedEof(
        `DNS over TCP: connection closed after ${got} of ${n} bytes`,
      );
    }
    got += r;
  }
  return out;
}

function matches(m: DnsMessage, id: number, qname: string, qtype: number): boolean {
  const q = m.questions[0];
  return m.qr && m.id === id && m.opcode === 0 && m.questions.length === 1 && q !== undefined &&
    q.name === qname && q.type === qtype && q.class === CLASS_IN;
}

function toDeno(type: DnsRecordType, r: DnsRecord): unknown {
  switch (type) {
    case "TXT":
      return [...(r.data as string[])];
    case "MX":
    case "SRV":
    case "SOA":
    case "CAA":
      return { ...(r.data as object) };
    default:
      return r.data;
  }
}

function rcodeName(rcode: number): string {
  return ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"][rcode] ??
    `RCODE ${rcode}`;
}

function normalize(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith(".") ? n.slice(0, -1) : n;
}

function isDottedQuad(s: string): boolean {
  return /^[0-9]{1,3}(\.[0-9]{1,3}){3}$/.test(s);
}

function parseServer(s: string): Server {
  const colon = s.indexOf(":");
  const ip = formatIpv4(parseIpv4(colon < 0 ? s : s.slice(0, colon)));
  const port = colon < 0 ? 53 : Number(s.slice(colon + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`Invalid DNS server "${s}": bad port`);
  }
  return { ip, port };
}

function positive(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`DNS option ${name} must be a positive integer, got ${v}`);
  }
  return v;
}

function nonNegative(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) {
    throw new RangeError(`DNS option ${name} must be an integer >= 0, got ${v}`);
  }
  return v;
}

/** `p`, or the signal's reason when it aborts first (the query itself goes on for others). */
function withSignal<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Exported for `isDottedQuad` users in the API (connect). */
export { isDottedQuad };
