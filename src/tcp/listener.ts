/**
 * Passive open: a listening endpoint with a bounded queue of half-open connections
 * (SYN-RECEIVED) and a bounded queue of established, not yet accepted ones. When the half-open
 * queue is full, SYN cookies (syncookie.ts, RFC 4987 3.6) answer instead of an entry; when the
 * accept queue is full, SYNs and cookie ACKs are dropped and the peer retries (as Linux).
 *
 * @module
 */

import { ipNum } from "../wire/ip_handle.ts";
import { F_ACK, F_FIN, F_RST, F_SYN } from "../wire/layout.ts";
import { seqAdd } from "../wire/seq.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import { TcpConnection } from "./connection.ts";
import { firstWindow, initSend, negotiate } from "./handshake.ts";
import type { ConnHost } from "./host.ts";
import {
  COOKIE_TICK_MS,
  cookieState,
  cookieSyn,
  sendCookieSynAck,
  type SynCookies,
} from "./syncookie.ts";
import { connInput } from "./tcp_input.ts";
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
  /** Established connections waiting for accept(). */
  readonly pending: number;
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
  /** The SYN cookie secret of the layer. */
  readonly cookies: SynCookies;
}

/** The layer's listener implementation. */
export class Listener implements TcpListener {
  /** Local address (0 = any). */
  readonly localIp: number;
  /** Local port. */
  readonly localPort: number;
  /** Accept-ready callback. */
  onAcceptable: (() => void) | null = null;
  /** Bound to "0.0.0.0": IPv4 only (a wildcard listener otherwise takes both families). */
  ipv4Only = false;
  readonly #host: ListenerHost;
  readonly #opt: TcpOptions;
  readonly #halfOpen = new Set<TcpConnection>();
  readonly #ready: TcpConnection[] = [];
  readonly #synBacklog: number;
  readonly #acceptBacklog: number;
  #closed = false;
  /** When this listener last answered with a cookie (cookie ACKs are checked only after). */
  #cookieAt = -Infinity;
  /** Half-open entries never retransmitted, counted at `#youngAt` (synRetryLimit). */
  #young = 0;
  #youngAt = -Infinity;

  /** @internal Made by `TcpLayer.listen`. */
  constructor(host: ListenerHost, opt: TcpOptions, ip: number, port: number, backlog?: number) {
    this.#host = host;
    this.#opt = opt;
    this.localIp = ipNum(ip);
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
   * Entries counted young at `now` may have been retried since, within the same tick.
   */
  synRetryLimit(now: number): number {
    let limit = this.#opt.synRetries;
    const qlen = this.#halfOpen.size;
    if (2 * qlen <= Math.max(8, this.#synBacklog)) return limit;
    // Young entries are counted once per clock tick, not per expiring entry: a full queue's
    // timers firing together scanned it once each (quadratic, 3% of a flood's CPU profile).
    if (now !== this.#youngAt) {
      this.#youngAt = now;
      this.#young = 0;
      for (const c of this.#halfOpen) if (c.timers.retries === 0) this.#young++;
    }
    let young = this.#young << 1;
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
      if (!(f & F_SYN) && this.#cookieAck(seg, now)) return;
      replyRst(this.#host, seg, now); // <SEQ=SEG.ACK><CTL=RST>
      return;
    }
    if (!(f & F_SYN)) {
      this.#host.count("tcp-listen-no-syn");
      return;
    }
    if (f & F_FIN) {
      // SYN+FIN opens nothing (a scan probe): dropped as Linux does (tcp_rcv_state_process).
      this.#host.count("tcp-listen-syn-fin");
      return;
    }
    if (this.#ready.length >= this.#acceptBacklog) {
      this.#host.count("tcp-accept-queue-full"); // as Linux: drop the SYN, the peer retries
      return;
    }
    if (this.#host.tx.sourceFor(seg.srcIp) < 0) {
      // No route back: a SYN+ACK could not leave, so keep nothing (as Linux tcp_conn_request,
      // whose route_req failure drops the SYN).
      this.#host.count("tcp-syn-no-route");
      return;
    }
    if (this.#halfOpen.size >= this.#synBacklog) {
      if (!this.#opt.syncookies) {
        this.#host.count("tcp-syn-backlog-full");
        return;
      }
      // RFC 4987 3.6: answer statelessly; the ACK brings the state back.
      this.#cookieAt = now;
      sendCookieSynAck(this.#host, this.#host.cookies, this.#opt, seg, now);
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

  /**
   * @internal An ACK that half-open entry `c` finds unacceptable (RFC 9293 3.10.7.4 would
   * reset) may be the peer's ACK of a cookie SYN+ACK sent for the same tuple while the queue
   * was full, before its retransmitted SYN made `c`: the peer is synchronized to the cookie and
   * did nothing wrong. As Linux (tcp_check_req returns the listener, whose cookie check comes
   * before any reset), a valid cookie ACK replaces `c` with the cookie's connection. Returns
   * true when the segment was taken; false when the caller resets as before.
   */
  cookieOverHalfOpen(c: TcpConnection, seg: TcpSegment, now: number): boolean {
    if (!this.#halfOpen.has(c) || !this.#opt.syncookies) return false;
    if (now - this.#cookieAt >= 2 * COOKIE_TICK_MS) return false;
    const isn = seqAdd(seg.seq, -1), cookie = seqAdd(seg.ack, -1);
    const idx = this.#host.cookies.check(
      seg.dstIp,
      seg.dstPort,
      seg.srcIp,
      seg.srcPort,
      isn,
      cookie,
      now,
    );
    if (idx < 0) return false;
    this.#host.count("tcp-syncookie-over-half-open");
    c.toClosed(null); // leaves the half-open queue and the table: the tuple is free
    return this.#cookieAck(seg, now);
  }

  /**
   * An ACK for no connection: when this listener sent cookies lately, it may complete one
   * (RFC 4987 3.6). Returns true when the segment was taken (connection made, or dropped for
   * a full accept queue); false when it is no valid cookie (the caller answers RST).
   */
  #cookieAck(seg: TcpSegment, now: number): boolean {
    if (!this.#opt.syncookies || now - this.#cookieAt >= 2 * COOKIE_TICK_MS) return false;
    const host = this.#host;
    const isn = seqAdd(seg.seq, -1), cookie = seqAdd(seg.ack, -1);
    const l = seg.dstIp, lp = seg.dstPort, r = seg.srcIp, rp = seg.srcPort;
    const idx = host.cookies.check(l, lp, r, rp, isn, cookie, now);
    if (idx < 0) {
      host.count("tcp-syncookie-failed"); // forged, stale, or for another tuple
      return false;
    }
    if (this.#ready.length >= this.#acceptBacklog) {
      host.count("tcp-accept-queue-full"); // as Linux: dropped; the peer's retransmission retries
      return true;
    }
    if (host.tx.sourceFor(r) < 0) {
      host.count("tcp-syn-no-route"); // no route back, or an IPv6 peer the table cannot hold
      return true;
    }
    if (!host.cookies.claim(l, lp, r, rp, isn, cookie, now)) {
      host.count("tcp-syncookie-replayed"); // its connection came and went: not again
      return false;
    }
    const syn = cookieSyn(seg, cookieState(idx, seg, this.#opt));
    const c = new TcpConnection(host, this.#opt, l, lp, r, rp);
    c.passive = true;
    c.listener = this;
    initSend(c, cookie, now);
    negotiate(c, syn, now);
    firstWindow(c, syn);
    // As if our SYN+ACK had just been sent: SND.NXT past it, the window it offered.
    c.snd.nxt = c.snd.max = seqAdd(cookie, 1);
    c.rcv.adv = seqAdd(c.rcv.nxt, Math.min(this.#opt.rcvBuf, 65535));
    c.rcv.lastAckSent = c.rcv.nxt;
    c.st = "SYN-RECEIVED";
    this.#halfOpen.add(c);
    host.addConn(c);
    host.count("tcp-syncookie-ok");
    seg.tsEcr = 0; // it echoes options in its low bits, not a send time: no RTT sample
    connInput(c, seg, now); // SYN-RECEIVED -> ESTABLISHED, and any data it carries
    return true;
  }
}
