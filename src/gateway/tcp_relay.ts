/**
 * TCP relaying for the gateway: every SYN from the guest to any address is held while the
 * gateway connects upstream with `Deno.connect`; only when that succeeds is the SYN handed to
 * the TCP layer again and answered with SYN-ACK (so the guest sees exactly what the upstream
 * did: a refused or unreachable upstream gives the guest RST, ECONNREFUSED). A destination the
 * allow list refuses gets RST at once. Each accepted connection is then relayed both ways
 * (relay.ts).
 *
 * @module
 */

import type { Conn } from "../api/conn.ts";
import { TcpSegment } from "../wire/tcp_segment.ts";
import type { TcpConnection, TcpListener } from "../tcp/tcp_layer.ts";
import type { GatewayLimits } from "./config.ts";
import { relay } from "./relay.ts";
import type { GatewayStack } from "./stack_access.ts";

/** Where a guest's connection goes on the host, or null when it is not allowed. */
export type TcpRoute = (
  dstIp: number,
  dstPort: number,
) => { hostname: string; port: number } | null;

/** Counters of the gateway (shared by its parts). */
export type Count = (name: string, n?: number) => void;

interface Pending {
  state: "connecting" | "ready" | "refused" | "taken";
  syn: TcpSegment;
  upstream: Deno.TcpConn | null;
  /** The SYN's IPv6 source handle, held while pending (a received one is only tentative). */
  held: number;
  /** Its IPv6 destination (another host's) handle, held while pending and relayed. */
  heldDst: number;
  /** Aborts the upstream connect (at `deadline` while connecting). */
  abort: AbortController | null;
  /** When the sweep acts on the entry (performance.now() ms): see `#sweep`. */
  deadline: number;
}

/** How long an IPv6 destination's handle outlives its relay (beyond our TIME-WAIT). */
const LINGER_MS = 130000;

/** How long a SYN-ACKed relay waits for the guest's ACK before its upstream is closed. */
const TAKEN_MS = 15000;

/**
 * How often pending entries' deadlines are checked (ms), while there are any: one interval
 * for all of them, where a timer (and an `AbortSignal.timeout`) per connection were a
 * measurable share of a short connection's cost. Deadlines act up to this much late.
 */
const SWEEP_MS = 250;

function keyOf(rip: number, rport: number, lip: number, lport: number): string {
  return `${rip}:${rport}>${lip}:${lport}`;
}

/** The TCP side of a gateway. */
export class TcpRelay {
  readonly #stack: GatewayStack;
  readonly #route: TcpRoute;
  readonly #limits: GatewayLimits;
  readonly #count: Count;
  readonly #listener: TcpListener;
  readonly #pending = new Map<string, Pending>();
  readonly #flows = new Map<Promise<void>, { up: Deno.TcpConn; conn: Conn }>();
  readonly #lingering = new Set<ReturnType<typeof setTimeout>>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** Take over the unclaimed SYNs of `stack`'s TCP layer. */
  constructor(stack: GatewayStack, route: TcpRoute, limits: GatewayLimits, count: Count) {
    this.#stack = stack;
    this.#route = route;
    this.#limits = limits;
    this.#count = count;
    this.#listener = stack.takeSyns(limits.maxPendingConnects, (seg) => this.#onSyn(seg));
    this.#listener.onAcceptable = () => this.#drain();
  }

  /** Relayed connections now, and SYNs waiting for their upstream. */
  get active(): { flows: number; pending: number } {
    return { flows: this.#flows.size, pending: this.#pending.size };
  }

  #onSyn(seg: TcpSegment): TcpListener | "hold" | "reset" {
    const key = keyOf(seg.srcIp, seg.srcPort, seg.dstIp, seg.dstPort);
    const p = this.#pending.get(key);
    if (p) {
      if (p.state === "ready") {
        p.state = "taken";
        // A guest that answers our SYN-ACK with RST (a SYN scan) or never answers leaves a
        // half-open relay: it is dropped, with its upstream, after TAKEN_MS (#sweep).
        p.deadline = performance.now() + TAKEN_MS;
        return this.#listener;
      }
      if (p.state === "refused") {
        this.#forget(key, p);
        return "reset";
      }
      return "hold"; // a retransmitted SYN while the upstream connect runs
    }
    if (this.#closed) return "reset";
    const target = this.#route(seg.dstIp, seg.dstPort);
    if (target === null) {
      this.#count("gateway-tcp-denied");
      return "reset";
    }
    if (
      this.#pending.size >= this.#limits.maxPendingConnects ||
      this.#flows.size >= this.#limits.maxTcpFlows
    ) {
      this.#count("gateway-tcp-busy"); // dropped: the guest retransmits its SYN later
      return "hold";
    }
    const syn = Object.assign(new TcpSegment(), seg);
    syn.sack.set(seg.sack);
    syn.payloadLen = 0; // data on a SYN (TFO) is not kept: the guest sends it again
    if (!this.#stack.holdAddress(seg.srcIp)) {
      this.#count("gateway-tcp-busy"); // the IPv6 address table is full: as above
      return "hold";
    }
    if (!this.#stack.holdAddress(seg.dstIp)) {
      this.#stack.releaseAddress(seg.srcIp);
      this.#count("gateway-tcp-busy");
      return "hold";
    }
    const abort = new AbortController();
    const entry: Pending = {
      state: "connecting",
      syn,
      upstream: null,
      held: seg.srcIp,
      heldDst: seg.dstIp,
      abort,
      deadline: performance.now() + this.#limits.connectTimeoutMs,
    };
    this.#pending.set(key, entry);
    this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_MS);
    this.#count("gateway-tcp-connects");
    Deno.connect({ hostname: target.hostname, port: target.port, signal: abort.signal }).then(
      (c) => this.#connected(key, entry, c),
      () => this.#connected(key, entry, null),
    );
    return "hold";
  }

  #connected(key: string, p: Pending, c: Deno.TcpConn | null): void {
    if (this.#pending.get(key) !== p || this.#closed) {
      c?.close();
      return;
    }
    p.upstream = c;
    p.abort = null;
    p.state = c ? "ready" : "refused";
    if (!c) this.#count("gateway-tcp-upstream-failed");
    // The held SYN again: now answered (SYN-ACK or RST).
    if (!this.#stack.inputAgain(p.syn)) return this.#forget(key, p);
    // Not taken (a connection already holds the four-tuple): nothing will accept it.
    if (this.#pending.get(key) === p && (p.state as Pending["state"]) !== "taken") {
      this.#forget(key, p);
    }
  }

  /**
   * Act on the pending entries whose deadline passed: a connect still running is aborted (the
   * guest then gets RST, as for a refused one) and dropped one timeout later if it never
   * settles; a SYN-ACKed relay the guest never completed is dropped (TAKEN_MS). The interval
   * stops when nothing is pending.
   */
  #sweep(): void {
    const now = performance.now();
    for (const [key, p] of this.#pending) {
      if (now < p.deadline) continue;
      if (p.state === "connecting" && p.abort !== null) {
        p.abort.abort(); // the connect rejects: #connected answers the guest with RST
        p.abort = null;
        p.deadline = now + this.#limits.connectTimeoutMs; // bounded if it never settles
      } else this.#forget(key, p);
    }
    if (this.#pending.size === 0) this.#stopSweep();
  }

  #stopSweep(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #forget(key: string, p: Pending): void {
    this.#unhold(p);
    p.abort?.abort();
    p.abort = null;
    this.#pending.delete(key);
    if (p.state !== "refused") p.upstream?.close();
    p.upstream = null;
  }

  #unhold(p: Pending, keepDst = false): void {
    if (p.held >= 0) this.#stack.releaseAddress(p.held);
    p.held = -1;
    if (!keepDst && p.heldDst >= 0) this.#stack.releaseAddress(p.heldDst);
    if (!keepDst) p.heldDst = -1;
  }

  #drain(): void {
    for (let tc = this.#listener.accept(); tc; tc = this.#listener.accept()) {
      this.#start(tc);
    }
  }

  #start(tc: TcpConnection): void {
    const key = keyOf(tc.remoteIp, tc.remotePort, tc.localIp, tc.localPort);
    const p = this.#pending.get(key);
    const up = p?.upstream ?? null;
    // The destination's handle (another IPv6 host: our connection's local address) stays held
    // while the relay runs.
    const dst = p !== undefined && up !== null ? p.heldDst : -1;
    if (p) {
      this.#unhold(p, dst >= 0);
      this.#pending.delete(key);
    }
    const conn = this.#stack.wrap(tc);
    if (up === null) {
      conn.abort();
      return;
    }
    // A relay adds no delay of its own: the guest's and the upstream's segmentation already
    // happened, so Nagle would only hold back their small writes (as slirp4netns sets
    // TCP_NODELAY toward the host).
    conn.setNoDelay(true);
    try {
      up.setNoDelay(true);
    } catch { /* closed meanwhile */ }
    this.#count("gateway-tcp-relayed");
    // Reads toward the guest come in whole segments of this connection (relay.ts grownSize).
    const unit = tc.snd.mss;
    const flow = relay(conn, up, this.#limits.relayBufferBytes, () => conn.abort(), unit).then(
      (r) => {
        this.#count("gateway-tcp-bytes-out", r.aToB);
        this.#count("gateway-tcp-bytes-in", r.bToA);
        if (!r.clean) this.#count("gateway-tcp-reset");
      },
      () => this.#count("gateway-tcp-reset"),
    ).finally(() => {
      this.#flows.delete(flow);
      // Later: our side of the connection may linger closing (TIME-WAIT, RFC 9293 3.6.1).
      if (dst >= 0 && this.#closed) this.#stack.releaseAddress(dst);
      else if (dst >= 0) {
        const t = setTimeout(() => {
          this.#lingering.delete(t);
          this.#stack.releaseAddress(dst);
        }, LINGER_MS);
        this.#lingering.add(t);
      }
    });
    this.#flows.set(flow, { up, conn });
  }

  /** Stop relaying: pending upstream connects are closed, open relays reset both ways. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#lingering) clearTimeout(t);
    this.#lingering.clear();
    for (const [k, p] of [...this.#pending]) this.#forget(k, p);
    this.#stopSweep();
    for (const { up, conn } of this.#flows.values()) {
      conn.abort();
      try {
        up.close();
      } catch { /* closed */ }
    }
    this.#stack.releaseSyns();
    this.#listener.close();
  }

  /** Wait for the relays to end (after the stack closed). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#flows.keys()]);
  }
}
