/**
 * The trace API: `stack.trace()` follows the stack's TCP segments and connection states as an
 * async iterable, so a program or a test can watch a connection without a pcap and tshark.
 *
 * The driver hands every frame in (before processing) and out to one observer
 * (`Driver.observer`); this file decodes TCP segments with the JS engine's decoder
 * (`trace_segment.ts`), reads the connection's RFC 9293 state after each segment and at the
 * end of each service pass, and fans the events out to every open trace. With no trace open
 * the driver pays one null check per frame.
 *
 * States are sampled, not hooked: before each segment the stack sends, after each one it
 * receives, and at the end of each service pass. A state that begins and ends within one pass
 * with no segment of its own (FIN-WAIT-1 when the peer's RST arrives before our FIN leaves)
 * is skipped: the event then goes from the state before to the state after.
 *
 * Each trace buffers at most `limit` events (default 4096): when the reader falls behind, the
 * oldest event is dropped and counted in `lost` (docs/limits.md).
 *
 * @module
 */

import { parseIpv6 } from "../wire/ipv6_address.ts";
import type { Driver } from "../stack.ts";
import type { TcpConnection, TcpLayer, TcpState } from "../tcp/tcp_layer.ts";
import { F_SYN } from "../wire/layout.ts";
import { SegmentDecoder, type SegmentInfo } from "./trace_segment.ts";

export { flagNames } from "./trace_segment.ts";
export type { SegmentInfo, SegmentOptions } from "./trace_segment.ts";

/** A TCP segment our stack sent ("out") or received ("in"). */
export interface TraceSegmentEvent extends SegmentInfo {
  /** What happened. */
  type: "segment";
  /** When, in ms: `performance.now()`, or the virtual clock's time in simulations. */
  time: number;
  /** "out": sent by this stack; "in": received by it (before it was processed). */
  dir: "in" | "out";
  /** Our end, "ip:port". */
  local: string;
  /** The peer's end, "ip:port". */
  remote: string;
  /**
   * The window in bytes: `window` shifted by the sender's window scale (RFC 7323 2.3; never
   * for a SYN, RFC 7323 2.2), or null when the connection is unknown to the stack.
   */
  windowScaled: number | null;
}

/** A connection changed its RFC 9293 state (3.3.2). */
export interface TraceStateEvent {
  /** What happened. */
  type: "state";
  /** When, in ms (as in a segment event). */
  time: number;
  /** Our end, "ip:port". */
  local: string;
  /** The peer's end, "ip:port". */
  remote: string;
  /** The state before ("CLOSED" before an active open, "LISTEN" before a passive one). */
  from: TcpState;
  /** The state now. */
  to: TcpState;
}

/** One event of a trace. */
export type TraceEvent = TraceSegmentEvent | TraceStateEvent;

/** Options of `NetStack.trace`. */
export interface TraceOptions {
  /** Follow only this connection (its `localAddr` and `remoteAddr`). */
  conn?: { localAddr: Deno.NetAddr; remoteAddr: Deno.NetAddr };
  /** Events buffered before the oldest is dropped (default 4096, at least 1). */
  limit?: number;
}

/** The default of `TraceOptions.limit`. */
export const TRACE_LIMIT = 4096;
/** Connections whose state a stack's traces follow at once (older ones are forgotten). */
const KNOWN_LIMIT = 65536;

interface Known {
  local: string;
  remote: string;
  tc: TcpConnection | undefined;
  state: TcpState;
}

/**
 * The events of one trace: an async iterable (use it once) that ends when the stack closes or
 * when `close()` (or a `break` out of `for await`) ends it.
 *
 * @example Follow one connection's states over a memory link
 * ```ts
 * import { createMemoryLinkPair, createStack } from "../../mod.ts";
 * const [la, lb] = createMemoryLinkPair();
 * const a = await createStack({ link: la, address: "10.9.0.1/24" });
 * const b = await createStack({ link: lb, address: "10.9.0.2/24" });
 * const listener = b.listen({ port: 7 });
 * const trace = a.trace({ limit: 100 });
 * const conn = await a.connect({ hostname: "10.9.0.2", port: 7 });
 * conn.close();
 * await new Promise((r) => setTimeout(r, 50));
 * trace.close(); // what is buffered stays readable
 * const states: string[] = [];
 * for await (const ev of trace) if (ev.type === "state") states.push(ev.to);
 * if (states[0] !== "SYN-SENT" || !states.includes("FIN-WAIT-1")) throw new Error(`${states}`);
 * if (trace.lost !== 0) throw new Error("events lost");
 * listener.close();
 * await a.close();
 * await b.close();
 * ```
 */
export class StackTrace implements AsyncIterableIterator<TraceEvent> {
  /** Events dropped because the reader fell behind (oldest first). */
  lost = 0;
  readonly #limit: number;
  readonly #filter: string | null;
  readonly #detach: (t: StackTrace) => void;
  #queue: TraceEvent[] = [];
  #head = 0;
  #closed = false;
  #waiter: ((r: IteratorResult<TraceEvent>) => void) | null = null;

  /** @ignore Internal: use `stack.trace()`. */
  constructor(limit: number, filter: string | null, detach: (t: StackTrace) => void) {
    this.#limit = limit;
    this.#filter = filter;
    this.#detach = detach;
  }

  /** Events waiting to be read. */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /** @ignore Internal: the hub delivers an event. */
  push(ev: TraceEvent): void {
    if (this.#closed) return;
    if (this.#filter !== null && `${ev.local}|${ev.remote}` !== this.#filter) return;
    const w = this.#waiter;
    if (w) {
      this.#waiter = null;
      w({ value: ev, done: false });
      return;
    }
    if (this.pending >= this.#limit) {
      this.#head++;
      this.lost++;
    }
    this.#queue.push(ev);
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The next event; done when the trace is closed and drained. */
  next(): Promise<IteratorResult<TraceEvent>> {
    if (this.pending > 0) {
      const value = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as TraceEvent;
      return Promise.resolve({ value, done: false });
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    if (this.#waiter) throw new TypeError("A trace has one reader: next() is already waiting");
    return new Promise((resolve) => this.#waiter = resolve);
  }

  /** Stop tracing: buffered events stay readable, then the iteration ends. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#detach(this);
    const w = this.#waiter;
    this.#waiter = null;
    w?.({ value: undefined, done: true });
  }

  /** `break` out of `for await`: close and drop what is buffered. */
  return(): Promise<IteratorResult<TraceEvent>> {
    this.close();
    this.#queue = [];
    this.#head = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The trace itself. */
  [Symbol.asyncIterator](): StackTrace {
    return this;
  }
}

/** The one observer of a driver, shared by its traces. */
class TraceHub {
  readonly traces = new Set<StackTrace>();
  readonly #driver: Driver<TcpLayer>;
  readonly #decoder = new SegmentDecoder();
  readonly #known = new Map<string, Known>();
  readonly #pending = new Set<Known>();

  constructor(driver: Driver<TcpLayer>) {
    this.#driver = driver;
  }

  #time(): number {
    const now = this.#driver.clock.virtual ? this.#driver.now() : performance.now();
    return Math.round(now * 1000) / 1000;
  }

  #emit(ev: TraceEvent): void {
    for (const t of this.traces) t.push(ev);
  }

  frame(dir: "in" | "out", buf: Uint8Array, off: number, len: number): void {
    const seg = this.#decoder.decode(buf, off, len);
    if (typeof seg === "string") return;
    this.#checkPending();
    const local = dir === "out" ? seg.src : seg.dst;
    const remote = dir === "out" ? seg.dst : seg.src;
    const k = this.#knownOf(local, remote);
    if (dir === "out") this.#check(k);
    const tc = k.tc;
    let windowScaled: number | null = null;
    if (seg.flags & F_SYN) windowScaled = seg.window;
    else if (tc) windowScaled = seg.window * 2 ** (dir === "out" ? tc.rcv.wscale : tc.snd.wscale);
    this.#emit({ type: "segment", time: this.#time(), dir, local, remote, windowScaled, ...seg });
    if (dir === "in") this.#pending.add(k);
  }

  passEnd(): void {
    this.#checkPending();
    for (const k of this.#known.values()) this.#check(k);
  }

  #checkPending(): void {
    for (const k of this.#pending) this.#check(k);
    this.#pending.clear();
  }

  #knownOf(local: string, remote: string): Known {
    const key = `${local}|${remote}`;
    let k = this.#known.get(key);
    if (!k) {
      if (this.#known.size >= KNOWN_LIMIT) {
        const oldest = this.#known.keys().next().value!;
        this.#known.delete(oldest);
      }
      k = { local, remote, tc: undefined, state: "CLOSED" };
      this.#known.set(key, k);
    }
    return k;
  }

  /** Emit a state event when the connection's state moved; forget it once CLOSED. */
  #check(k: Known): void {
    if (!k.tc) {
      const [lip, lport] = this.#endpointOf(k.local);
      const [rip, rport] = this.#endpointOf(k.remote);
      k.tc = lip < 0 || rip < 0 ? undefined : this.#driver.tcp.find(lip, lport, rip, rport);
      if (!k.tc) return;
      // Found: an opening is reported from CLOSED (active) or LISTEN (passive); a connection
      // already further along when the trace began is taken as it is.
      const st = k.tc.state;
      k.state = st === "SYN-RECEIVED" ? "LISTEN" : st === "SYN-SENT" ? "CLOSED" : st;
    }
    const now = k.tc.state;
    if (now === k.state) return;
    this.#emit({
      type: "state",
      time: this.#time(),
      local: k.local,
      remote: k.remote,
      from: k.state,
      to: now,
    });
    k.state = now;
    if (now === "CLOSED") this.#known.delete(`${k.local}|${k.remote}`);
  }

  /** "10.0.0.1:80" or "[fd00::1]:80" to the numeric address (-1: no such IPv6 entry), port. */
  #endpointOf(s: string): [number, number] {
    const colon = s.lastIndexOf(":");
    const port = Number(s.slice(colon + 1));
    if (s.startsWith("[")) {
      const a = parseIpv6(s.slice(1, colon - 1));
      return [a ? this.#driver.iface.ipv6Lookup(a) : -1, port];
    }
    const parts = s.slice(0, colon).split(".");
    return [parts.reduce((a, p) => a * 256 + Number(p), 0), port];
  }
}

const hubs = new WeakMap<Driver<TcpLayer>, TraceHub>();

/**
 * Open a trace on `driver` (what `NetStack.trace` does). Throws a RangeError for a bad limit.
 */
export function openTrace(driver: Driver<TcpLayer>, options: TraceOptions = {}): StackTrace {
  const limit = options.limit ?? TRACE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`Trace limit must be a positive integer, got ${limit}`);
  }
  const c = options.conn;
  const ep = (a: Deno.NetAddr) =>
    a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
  const filter = c ? `${ep(c.localAddr)}|${ep(c.remoteAddr)}` : null;
  let hub = hubs.get(driver);
  const trace = new StackTrace(limit, filter, (t) => {
    const h = hubs.get(driver);
    if (!h) return;
    h.traces.delete(t);
    if (h.traces.size === 0) {
      hubs.delete(driver);
      if (driver.observer === h) driver.observer = null;
    }
  });
  if (driver.closed) {
    trace.close();
    return trace;
  }
  if (!hub) {
    hub = new TraceHub(driver);
    hubs.set(driver, hub);
    driver.observer = hub;
    driver.onClose(() => {
      for (const t of [...hub!.traces]) t.close();
    });
  }
  hub.traces.add(trace);
  return trace;
}
