/**
 * Passive open: a listening endpoint with a bounded queue of half-open connections
 * (SYN-RECEIVED) and a bounded queue of established, not yet accepted ones.
 *
 * @module
 */

import { F_ACK, F_RST, F_SYN } from "../wire/layout.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import { TcpConnection } from "./connection.ts";
import { firstWindow, initSend, negotiate } from "./handshake.ts";
import type { ConnHost } from "./host.ts";
import { sendSyn } from "./tcp_output.ts";
import { replyRst } from "./tcp_replies.ts";
import type { IsnFunction, TcpOptions } from "./types.ts";

/** A listening socket (RFC 9293 LISTEN state). */
export interface TcpListener {
  /** Local address (0 = any of ours). */
  readonly localIp: number;
  /** Local port. */
  readonly localPort: number;
  /** An established connection, or null when none is waiting. */
  accept(): TcpConnection | null;
  /** Stop listening; pending not-accepted connections are reset. */
  close(): void;
  /** Called synchronously from input when accept() would return a connection. */
  onAcceptable: (() => void) | null;
}

/** What the listener needs from the layer. */
export interface ListenerHost extends ConnHost {
  /** Register a new connection in the demux table. */
  addConn(c: TcpConnection): void;
  /** Forget a closed listener. */
  removeListener(l: Listener): void;
  /** The ISN function. */
  readonly isn: IsnFunction;
}

/** The layer's listener implementation. */
export class Listener implements TcpListener {
  /** Local address (0 = any). */
  readonly localIp: number;
  /** Local port. */
  readonly localPort: number;
  /** Accept-ready callback. */
  onAcceptable: (() => void) | null = null;
  readonly #host: ListenerHost;
  readonly #opt: TcpOptions;
  readonly #halfOpen = new Set<TcpConnection>();
  readonly #ready: TcpConnection[] = [];
  readonly #synBacklog: number;
  readonly #acceptBacklog: number;
  #closed = false;

  /** @internal Made by `TcpLayer.listen`. */
  constructor(host: ListenerHost, opt: TcpOptions, ip: number, port: number, backlog?: number) {
    this.#host = host;
    this.#opt = opt;
    this.localIp = ip >>> 0;
    this.localPort = port;
    this.#synBacklog = opt.synBacklog;
    this.#acceptBacklog = backlog !== undefined && backlog > 0 ? backlog : opt.acceptBacklog;
  }

  /** Half-open connections now. */
  get halfOpen(): number {
    return this.#halfOpen.size;
  }

  /** Established connections waiting for accept(). */
  get pending(): number {
    return this.#ready.length;
  }

  /** Take one established connection. */
  accept(): TcpConnection | null {
    const c = this.#ready.shift();
    if (!c) return null;
    c.listener = null;
    return c;
  }

  /** Stop listening and reset what was not accepted. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#host.removeListener(this);
    for (const c of [...this.#halfOpen, ...this.#ready]) {
      c.listener = null;
      c.reset(true, null);
    }
    this.#halfOpen.clear();
    this.#ready.length = 0;
  }

  /** @internal A child connection finished the handshake (ok) or closed. */
  onConnDone(c: TcpConnection, ok: boolean): void {
    if (!this.#halfOpen.delete(c)) return;
    if (!ok) {
      c.listener = null;
      return;
    }
    this.#ready.push(c);
    this.onAcceptable?.();
  }

  /**
   * @internal SYN+ACK retransmissions a half-open connection gets. While the half-open queue
   * is more than half full, fewer, the fewer of its entries are young (never retransmitted):
   * old entries of a SYN flood expire sooner and leave room for real clients (as Linux
   * reqsk_timer_handler, down to 2; RFC 4987 section 3.4 on SYN-RECEIVED timer reduction).
   */
  synRetryLimit(): number {
    let limit = this.#opt.synRetries;
    const qlen = this.#halfOpen.size;
    if (2 * qlen <= Math.max(8, this.#synBacklog)) return limit;
    let young = 0;
    for (const c of this.#halfOpen) if (c.timers.retries === 0) young++;
    young <<= 1;
    while (limit > 2 && qlen >= young) {
      limit--;
      young <<= 1;
    }
    return limit;
  }

  /** @internal Segment arrival in LISTEN (RFC 9293 3.10.7.2). */
  input(seg: TcpSegment, now: number): void {
    const f = seg.flags;
    if (f & F_RST) {
      // RFC 9293 3.10.7.2: an incoming RST is ignored (counted as a drop).
      this.#host.count("tcp-listen-rst");
      return;
    }
    if (f & F_ACK) {
      replyRst(this.#host, seg, now); // <SEQ=SEG.ACK><CTL=RST>
      return;
    }
    if (!(f & F_SYN)) {
      this.#host.count("tcp-listen-no-syn");
      return;
    }
    if (this.#halfOpen.size >= this.#synBacklog) {
      this.#host.count("tcp-syn-backlog-full");
      return;
    }
    if (this.#ready.length >= this.#acceptBacklog) {
      this.#host.count("tcp-accept-queue-full"); // as Linux: drop the SYN, the peer retries
      return;
    }
    const c = new TcpConnection(
      this.#host,
      this.#opt,
      seg.dstIp,
      seg.dstPort,
      seg.srcIp,
      seg.srcPort,
    );
    c.passive = true;
    c.listener = this;
    initSend(c, this.#host.isn(seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort, now), now);
    negotiate(c, seg, now);
    firstWindow(c, seg);
    c.st = "SYN-RECEIVED";
    this.#halfOpen.add(c);
    this.#host.addConn(c);
    c.snd.rttStart = now;
    c.snd.rttSeq = c.snd.iss;
    sendSyn(c, now); // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>
  }
}
