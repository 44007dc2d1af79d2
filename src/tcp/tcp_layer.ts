/**
 * The TCP layer: demultiplexing, listeners, active open, timers and flushing for every
 * connection. Sans-I/O: `now` (ms) is passed in; segments go out through `TcpTransmit`.
 *
 * @example Two layers joined back to back
 * ```ts
 * import assert from "node:assert/strict";
 * import { createJsEngine } from "../kernels/js_engine.ts";
 * import { TcpLayer } from "./tcp_layer.ts";
 * const tx = { sendTcp: () => true, pathMtu: () => 1500, sourceFor: () => 0x0a000001 };
 * const layer = new TcpLayer(createJsEngine(), tx);
 * const c = layer.connect(0x0a000002, 80, 0);
 * layer.poll(0); // sends the SYN
 * assert(c.state === "SYN-SENT");
 * c.abort();
 * ```
 *
 * @module
 */

import type { Engine } from "../kernels/engine.ts";
import { AckHold } from "./ack_hold.ts";
import { BufferBudget } from "./buf_tune.ts";
import { ipNum, isIpv6Handle, tcpIpOverhead } from "../wire/ip_handle.ts";
import { F_ACK, F_RST, F_SYN } from "../wire/layout.ts";
import { seqAdd, seqGt, seqLt } from "../wire/seq.ts";
import { TcpSegment } from "../wire/tcp_segment.ts";
import type { TcpHandler, TcpIcmpReport, TcpTransmit } from "./contract.ts";
import { TcpConnection } from "./connection.ts";
import { ConnTable, endpointKey } from "./demux.ts";
import { initSend } from "./handshake.ts";
import { makeIsn } from "./isn.ts";
import { Listener, type ListenerHost, type TcpListener } from "./listener.ts";
import { EphemeralPorts } from "./ports.ts";
import { SynCookies } from "./syncookie.ts";
import { TimerHeap } from "./timer_heap.ts";
import { connInput } from "./tcp_input.ts";
import { output } from "./tcp_output.ts";
import { connRst, replyRst } from "./tcp_replies.ts";
import { runTimers } from "./tcp_timers.ts";
import { TimeWaitTable, TW_SACK, TW_TS } from "./time_wait.ts";
import { offeredWindow, timeWaitInput } from "./time_wait_input.ts";
import { resolveOptions, TCP_DEFAULTS, TcpError, type TcpOptions } from "./types.ts";

export { TcpConnection } from "./connection.ts";
export type { TcpConnInfo, TcpHandle } from "./connection.ts";
export type { TcpListener } from "./listener.ts";
export { TCP_DEFAULTS, TcpError } from "./types.ts";
export type { IsnFunction, TcpErrorCode, TcpEvent, TcpOptions, TcpState } from "./types.ts";
export type { TcpHandler, TcpIcmpError, TcpTransmit } from "./contract.ts";
export type { TcpSegment } from "../wire/tcp_segment.ts";

/** RFC 5961 section 7: challenge ACKs per second (Linux tcp_challenge_ack_limit is 1000). */
const CHALLENGE_PER_SEC = 1000;
/** A TIME-WAIT key's slot (time_wait.ts). */
const TW_SLOT = 2 ** 24;

/** A whole TCP layer over one engine and one transmit seam. */
export class TcpLayer implements TcpHandler {
  readonly #opt: TcpOptions;
  readonly #conns = new ConnTable();
  /** Compact TIME-WAIT records (time_wait.ts), at most `maxTimeWait`. */
  readonly #tw: TimeWaitTable;
  /** The connections of TIME-WAIT records whose owner has not closed them yet, by slot. */
  readonly #twHandles = new Map<number, TcpConnection>();
  readonly #listeners = new Map<number, Listener>();
  /**
   * Connections with output to flush: the first `#dirtyN` slots. Slots are emptied, never the
   * array truncated: `length = 0` gave up its backing store, and the next push made a new one
   * (several per short connection, a measurable share of its garbage).
   */
  readonly #dirty: (TcpConnection | undefined)[] = [];
  #dirtyN = 0;
  /** Connections whose handshake ACK is held (holdHandshakeAck), until releaseAcks(). */
  readonly #hold = new AckHold();
  readonly #counters: Record<string, number> = {};
  /** What connections and listeners see of the layer (not part of its public surface). */
  readonly #host: ListenerHost;
  #nextAt = Infinity;
  /** Connections by their earliest timer. */
  readonly #timers = new TimerHeap<TcpConnection>();
  readonly #ports: EphemeralPorts; // RFC 6056 algorithm 4
  /** Inside a call of the driver (input, ICMP error, poll, closeAll): it polls afterwards. */
  #driven = false;
  /** The clock of the last call that carried one (for RSTs sent from socket calls). */
  #lastNow = 0;
  #challengeSec = -1;
  #challengeLeft = 0;

  /** A layer with options (defaults in `TCP_DEFAULTS`; `mss` also bounded by the path MTU). */
  constructor(engine: Engine, tx: TcpTransmit, options?: Partial<TcpOptions>) {
    this.#opt = resolveOptions(TCP_DEFAULTS, options);
    this.#tw = new TimeWaitTable(this.#opt.maxTimeWait);
    // RFC 6528 / 6056 / 4987 hashes take an IPv6 peer's 16 bytes, not its handle.
    const bytesOf = (ip: number) => tx.addressBytes?.(ip) ?? null;
    const isn = this.#opt.isn ?? makeIsn(undefined, bytesOf);
    // The port secret is random; with an injected ISN function (tests) it is drawn from it,
    // so that a seeded run repeats.
    const given = this.#opt.isn;
    this.#ports = new EphemeralPorts(
      given ? Uint32Array.from({ length: 8 }, (_, i) => given(i, i, i, i, 0)) : undefined,
      bytesOf,
    );
    this.#host = {
      engine,
      tx,
      out: new TcpSegment(),
      isn,
      cookies: new SynCookies(undefined, bytesOf), // RFC 4987 3.6 secret
      count: (name) => this.#count(name),
      schedule: (at, c) => {
        this.#timers.schedule(c, at);
        if (at < this.#nextAt) {
          this.#nextAt = at;
          this.#work();
        }
      },
      markDirty: (c) => {
        this.#dirty[this.#dirtyN++] = c;
        if (this.#dirtyN === 1) this.#work();
      },
      release: (c) => {
        const had = this.#conns.all.has(c);
        this.#conns.delete(c);
        this.#timers.remove(c);
        if (had) tx.releaseAddress?.(c.remoteIp); // held when it entered the table
        // Closed while its TIME-WAIT record lives (abort, or close() with unread data): the
        // record goes too, as the whole connection did (RFC 9293 3.10.5).
        if (c.tw >= 0 && this.#tw.isLive(c.tw)) this.#endTimeWait(c.tw % TW_SLOT);
      },
      timeWaitLive: (key) => this.#tw.isLive(key),
      timeWaitOrphan: (c) => {
        const slot = c.tw % TW_SLOT;
        if (this.#tw.isLive(c.tw) && this.#twHandles.get(slot) === c) {
          this.#twHandles.delete(slot);
          c.emit("closed");
        }
      },
      established: (c) => c.listener?.onConnDone(c, true),
      sendRst: (c) => {
        connRst(c, this.#lastNow);
        this.#work(); // sent from a socket call: the layer below may have queued it (ARP)
      },
      challengeAllowed: (now) => this.#challengeAllowed(now),
      budget: new BufferBudget(this.#opt.bufferBudget),
      addConn: (c) => this.#add(c),
      holdAck: (c) => this.holdHandshakeAck && this.#hold.hold(c),
      ackAvoidable: () => this.#hold.avoidableSeen(),
      removeListener: (l) => {
        const k = endpointKey(l.localIp, l.localPort);
        if (this.#listeners.get(k) === l) this.#listeners.delete(k);
      },
    };
  }

  /**
   * Called when the layer has work for its driver outside the driver's own calls: output was
   * queued (the dirty list became non-empty), a deadline moved earlier, or a socket call sent a
   * segment itself (a reset). The driver answers with a `poll` soon (and a fresh `pollAt`).
   * Socket calls never poll by themselves; this is how their work gets done.
   */
  onWork: (() => void) | null = null;

  /**
   * Hold the third segment of an active open (the ACK of the peer's SYN-ACK) for the
   * application's first turn, so that the data or FIN it sends at once carries that ACK:
   * one segment and one write to the link fewer per client-speaks-first connection (HTTP,
   * TLS), and the peer's kernel accepts and reads in one go. The driver that sets this runs
   * the application between its passes and must call `releaseAcks()` once the application
   * had its turn (before it waits for the link again); a connection's `releaseAck()` (the
   * application waits to read first, as a server-speaks-first client) sends its ACK at the
   * next poll. RFC 9293 3.10.7.3 lets queued data ride on that ACK; RFC 1122 4.2.3.2 allows
   * an ACK to wait, far less than the 500 ms it bounds. Learned: opens hold only after the
   * application was seen writing at once, and stop when a hold ends with the ACK sent alone
   * (ack_hold.ts; counters `tcp-ack-hold-carried`, `tcp-ack-hold-alone` and
   * `tcp-ack-alone-avoidable`). Off by default (a poll sends it).
   */
  holdHandshakeAck = false;

  /** Handshake ACKs held (see `holdHandshakeAck`) and not yet released. */
  get heldAcks(): number {
    return this.#hold.size;
  }

  /**
   * The application had its turn: every handshake ACK still held goes at the next poll
   * (those whose connection sent data or a FIN meanwhile were carried by it).
   */
  releaseAcks(): void {
    const was = this.#driven;
    this.#driven = true; // the caller polls next: no onWork per connection
    this.#hold.release();
    this.#driven = was;
  }

  /**
   * Gateway hook (src/gateway/): asked about a SYN (no ACK, no RST) that no connection or
   * listener claims, whatever its destination address (the interface passes up segments for
   * any address only when told to, `Interface.acceptForeign`). It answers, before any SYN-ACK:
   * a listener from `relayListener()` to take the SYN (the handshake proceeds as in LISTEN);
   * "hold" to drop it silently while it decides (the peer retransmits; the decider may also
   * hand a copy back to `input` later); or "reset" to refuse it with RST (RFC 9293 3.10.7.1).
   * Null (the default): such SYNs are answered with RST as always.
   */
  onUnclaimedSyn: ((seg: TcpSegment, now: number) => TcpListener | "hold" | "reset") | null = null;

  /**
   * A listener bound to no address or port and absent from the demux table, for
   * `onUnclaimedSyn`: the connections it makes take the SYN's destination as their local
   * address and port. `backlog` bounds its accept queue.
   */
  relayListener(backlog?: number): TcpListener {
    return new Listener(this.#host, this.#opt, 0, 0, backlog);
  }

  /** Enter a connection; its peer's IPv6 address is held while it is in the table. */
  #add(c: TcpConnection): void {
    // The listener and connect() checked sourceFor, which fails for an address that cannot
    // be held; a failure here would be a bug of the layer below.
    if (this.#host.tx.holdAddress?.(c.remoteIp) === false) {
      throw new TcpError("unreachable", "The peer's address cannot be held");
    }
    this.#conns.add(c);
  }

  #work(): void {
    if (!this.#driven) this.onWork?.();
  }

  /** The layer's options, defaults filled in (each connection may override them). */
  get options(): Readonly<TcpOptions> {
    return this.#opt;
  }

  /** Connections in the table (every state but CLOSED, including TIME-WAIT records). */
  get connectionCount(): number {
    return this.#conns.size + this.#tw.size;
  }

  /** TIME-WAIT records held (at most `maxTimeWait`; time_wait.ts). */
  get timeWaitCount(): number {
    return this.#tw.size;
  }

  /** Layer counters: events and drop reasons. */
  stats(): Record<string, number> {
    const b = this.#host.budget;
    return {
      ...this.#counters,
      "tcp-listeners": this.#listeners.size,
      "tcp-time-wait": this.#tw.size,
      "tcp-buffer-growth-bytes": b.used,
      "tcp-buffer-growth-refused": b.refused,
      "tcp-ack-hold-carried": this.#hold.carried,
      "tcp-ack-hold-alone": this.#hold.alone,
      "tcp-ack-alone-avoidable": this.#hold.avoidable,
    };
  }

  #count(name: string): void {
    this.#counters[name] = (this.#counters[name] ?? 0) + 1;
  }

  /** RFC 5961 section 7: a per-second budget for challenge ACKs, as Linux. */
  #challengeAllowed(now: number): boolean {
    const sec = Math.floor(now / 1000);
    if (sec !== this.#challengeSec) {
      this.#challengeSec = sec;
      this.#challengeLeft = CHALLENGE_PER_SEC;
    }
    if (this.#challengeLeft <= 0) return false;
    this.#challengeLeft--;
    return true;
  }

  /**
   * Listen on `localIp:localPort` (0 = any of our addresses, IPv4 and IPv6 alike, as Linux
   * with bindv6only=0; with `ipv4Only`, IPv4 ones only: "0.0.0.0"). Throws TcpError("addr-in-use").
   */
  listen(
    localIp: number,
    localPort: number,
    backlog?: number,
    opts?: { ipv4Only?: boolean },
  ): TcpListener {
    if (!Number.isInteger(localPort) || localPort <= 0 || localPort > 65535) {
      throw new RangeError(`Invalid port to listen on: ${localPort}`);
    }
    const ip = ipNum(localIp);
    const v4Any = ip === 0 && opts?.ipv4Only === true;
    for (const l of this.#listeners.values()) {
      if (l.localPort !== localPort) continue;
      // "0.0.0.0" and one IPv6 address do not overlap (as Linux with a v4 and a v6 socket).
      if ((l.ipv4Only && isIpv6Handle(ip)) || (v4Any && isIpv6Handle(l.localIp))) continue;
      if (l.localIp === 0 || ip === 0 || l.localIp === ip) {
        throw new TcpError("addr-in-use", `Address already in use: port ${localPort}`);
      }
    }
    const l = new Listener(this.#host, this.#opt, ip, localPort, backlog);
    if (v4Any) l.ipv4Only = true;
    this.#listeners.set(endpointKey(ip, localPort), l);
    return l;
  }

  /**
   * Active open (RFC 9293 3.10.1). The SYN goes out at the next `poll`. Throws
   * TcpError("unreachable") when there is no route, TcpError("addr-in-use") when the four-tuple
   * is taken or no ephemeral port is free.
   */
  connect(
    remoteIp: number,
    remotePort: number,
    now: number,
    opts?: { localIp?: number; localPort?: number; options?: Partial<TcpOptions> },
  ): TcpConnection {
    if (!Number.isInteger(remotePort) || remotePort <= 0 || remotePort > 65535) {
      throw new RangeError(`Invalid port to connect to: ${remotePort}`);
    }
    this.#lastNow = now;
    const rip = ipNum(remoteIp);
    let lip = ipNum(opts?.localIp ?? 0);
    if (lip === 0) {
      const src = this.#host.tx.sourceFor(rip);
      if (src < 0) throw new TcpError("unreachable", "No route to the remote address");
      lip = ipNum(src);
    }
    if (isIpv6Handle(rip) !== isIpv6Handle(lip)) {
      throw new RangeError("The local and remote addresses are of different families");
    }
    let lport = opts?.localPort ?? 0;
    let minIss = -1; // ISS when a TIME-WAIT tuple is reused
    if (lport) {
      const tw = this.#conns.has(lip, lport, rip, remotePort)
        ? -1
        : this.#tw.find(lip, lport, rip, remotePort);
      if (tw >= 0) minIss = this.#reuseTimeWait(tw, now);
      if (tw >= 0 ? minIss < 0 : this.#conns.has(lip, lport, rip, remotePort)) {
        throw new TcpError("addr-in-use", `Address already in use: port ${lport}`);
      }
    } else {
      this.#pickLip = lip;
      this.#pickRip = rip;
      this.#pickRport = remotePort;
      lport = this.#ports.pick(lip, rip, remotePort, this.#portTaken);
      if (!lport) throw new TcpError("addr-in-use", "No ephemeral port is free");
    }
    const opt = opts?.options ? this.#connectOptions(opts.options) : this.#opt;
    const c = new TcpConnection(this.#host, opt, lip, lport, rip, remotePort);
    initSend(c, minIss >= 0 ? minIss : this.#host.isn(lip, lport, rip, remotePort, now), now);
    c.st = "SYN-SENT";
    c.timers.progressAt = now;
    c.snd.rttStart = now;
    c.snd.rttSeq = c.snd.iss;
    this.#add(c);
    c.touch();
    return c;
  }

  // The four-tuple being given a port by connect(): read by #portTaken, one function for
  // every connect instead of a closure each.
  #pickLip = 0;
  #pickRip = 0;
  #pickRport = 0;
  readonly #portTaken = (p: number): boolean =>
    this.#conns.has(this.#pickLip, p, this.#pickRip, this.#pickRport) ||
    this.#tw.find(this.#pickLip, p, this.#pickRip, this.#pickRport) >= 0;

  // The last per-connect options and what they resolved to: an application passing the same
  // options to every connect (or none: `{}`) resolves them once, not per connection (~2 us).
  #lastOver: Partial<TcpOptions> | null = null;
  #lastOverCopy: Partial<TcpOptions> = {};
  #lastResolved: TcpOptions | null = null;

  /** The layer's options with `over` applied (validated, as resolveOptions). */
  #connectOptions(over: Partial<TcpOptions>): TcpOptions {
    let empty = true;
    for (const _ in over) {
      empty = false;
      break;
    }
    if (empty) return this.#opt;
    // Reused only while `over` holds the same keys and values (the caller may change it).
    if (
      over === this.#lastOver && this.#lastResolved !== null &&
      sameOptions(over, this.#lastOverCopy)
    ) {
      return this.#lastResolved;
    }
    const resolved = resolveOptions(this.#opt, over);
    this.#lastOver = over;
    this.#lastOverCopy = { ...over };
    this.#lastResolved = resolved;
    return resolved;
  }

  /**
   * @internal The connection of a four-tuple, if any (the trace API reads its state); none for
   * a tuple in TIME-WAIT, which is a compact record (time_wait.ts).
   */
  find(lip: number, lport: number, rip: number, rport: number): TcpConnection | undefined {
    return this.#conns.get(lip, lport, rip, rport);
  }

  /** A segment for one of our addresses (checksum verified by the layer below). */
  input(seg: TcpSegment, now: number): void {
    this.#lastNow = now;
    const was = this.#driven;
    this.#driven = true;
    try {
      this.#input(seg, now);
    } finally {
      this.#driven = was;
    }
  }

  #input(seg: TcpSegment, now: number): void {
    if (seg.srcPort === 0 || seg.dstPort === 0) {
      this.#count("tcp-bad-port");
      return;
    }
    const c = this.#conns.get(seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort);
    if (c) {
      connInput(c, seg, now);
      if (c.st === "TIME-WAIT" && c.tw < 0) this.#toTimeWait(c);
      return;
    }
    const tw = this.#tw.find(seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort);
    if (tw >= 0 && !this.#reusable(tw, seg)) {
      if (!timeWaitInput(this.#tw, tw, seg, this.#host, now)) this.#endTimeWait(tw);
      return;
    }
    let l = this.#listeners.get(endpointKey(seg.dstIp, seg.dstPort)) ??
      this.#listeners.get(endpointKey(0, seg.dstPort));
    if (l?.ipv4Only && isIpv6Handle(seg.dstIp)) l = undefined; // bound to "0.0.0.0"
    if (l) {
      l.input(seg, now);
      return;
    }
    if (this.onUnclaimedSyn && (seg.flags & (F_SYN | F_ACK | F_RST)) === F_SYN) {
      const v = this.onUnclaimedSyn(seg, now);
      if (v instanceof Listener) return v.input(seg, now);
      if (v === "hold") return this.#count("tcp-syn-held");
      this.#count("tcp-syn-refused");
      return replyRst(this.#host, seg, now);
    }
    // RFC 9293 3.10.7.1: no connection: RST (never in reply to a RST).
    this.#count(seg.flags & F_SYN ? "tcp-no-listener" : "tcp-no-connection");
    replyRst(this.#host, seg, now);
  }

  /**
   * A connection just entered TIME-WAIT (tcp_input.ts): the layer keeps a compact record of it
   * for 2 MSL instead (time_wait.ts, as Linux inet_timewait_sock) and lets the connection go:
   * out of the table and the timers, its buffers released (unread data stays readable for its
   * owner until read or close()). An owner that already closed it is told "closed" now; one
   * that still holds it open (after a half-close) keeps seeing TIME-WAIT until the record ends
   * or it closes it. Past `maxTimeWait` records, the one nearest its expiry is dropped
   * (`tcp-time-wait-overflow`); with `maxTimeWait` 0 the connection goes straight to CLOSED.
   */
  #toTimeWait(c: TcpConnection): void {
    const t = this.#tw;
    if (t.size >= t.max && t.max > 0) {
      const old = t.popOldest();
      if (old >= 0) {
        this.#count("tcp-time-wait-overflow");
        this.#endTimeWait(old);
      }
    }
    const key = t.add(c, c.timers.timeWait, c.opt.timeWaitMs);
    if (key < 0) {
      this.#count("tcp-time-wait-overflow");
      c.toClosed(null);
      return;
    }
    const s = key % TW_SLOT;
    t.sndNxt[s] = c.snd.max;
    t.maxWnd[s] = c.snd.maxWnd;
    t.rcvNxt[s] = c.rcv.nxt;
    t.rcvWnd[s] = offeredWindow(c.rcv.adv, c.rcv.nxt);
    t.wscale[s] = c.rcv.wscale;
    t.flags[s] = t.flags[s]! | (c.tsOk ? TW_TS : 0) | (c.sackOk ? TW_SACK : 0);
    t.tsRecent[s] = c.rcv.tsRecent;
    t.tsRecentAt[s] = c.rcv.tsRecentAt;
    t.oowAckAt[s] = c.oowAckAt;
    // The record keeps the peer's address held (an IPv6 handle) until it ends.
    this.#conns.delete(c);
    this.#timers.remove(c);
    c.compact(key);
    if (c.userClosed) c.emit("closed");
    else this.#twHandles.set(s, c);
    const at = t.expiry[s]!;
    if (at < this.#nextAt) this.#nextAt = at;
  }

  /** End the TIME-WAIT record in `slot`: its address is released, its connection CLOSED. */
  #endTimeWait(slot: number): void {
    const rip = this.#tw.rip[slot]!;
    this.#tw.free(slot);
    this.#host.tx.releaseAddress?.(rip);
    const c = this.#twHandles.get(slot);
    if (c !== undefined) {
      this.#twHandles.delete(slot);
      c.toClosed(null);
    }
  }

  /**
   * A new SYN may end TIME-WAIT when it is clearly newer: a higher sequence number or a newer
   * timestamp (RFC 9293 3.10.7.4 note, RFC 6191; as Linux). The record ends.
   */
  #reusable(slot: number, seg: TcpSegment): boolean {
    if ((seg.flags & (F_SYN | F_ACK | F_RST)) !== F_SYN) return false;
    const t = this.#tw;
    const newer = (t.flags[slot]! & TW_TS) && seg.hasTs
      ? seqGt(seg.tsVal, t.tsRecent[slot]!)
      : seqGt(seg.seq, t.rcvNxt[slot]!);
    if (!newer) return false;
    this.#count("tcp-time-wait-reuse");
    this.#endTimeWait(slot);
    return true;
  }

  /**
   * Active open on the four-tuple of a TIME-WAIT record (as Linux tcp_tw_reuse): allowed when
   * the connection negotiated timestamps (PAWS, RFC 7323 5, rejects its old duplicates) and its
   * last segment (the FIN that started TIME-WAIT, or its retransmission) came in an earlier
   * second. The record ends. Returns the ISS for the new connection, beyond anything the old
   * one sent (as Linux: snd.nxt + 65537), or -1 when the tuple stays in use.
   */
  #reuseTimeWait(slot: number, now: number): number {
    const t = this.#tw;
    if (!(t.flags[slot]! & TW_TS)) return -1;
    // Linux compares seconds: the last segment arrived in an earlier second of the clock.
    if (Math.floor(now / 1000) <= Math.floor((t.expiry[slot]! - t.twMs[slot]!) / 1000)) {
      return -1;
    }
    const minIss = seqAdd(t.sndNxt[slot]!, 65537);
    this.#count("tcp-time-wait-reuse");
    this.#endTimeWait(slot);
    return minIss;
  }

  /** ICMP errors (RFC 1122 4.2.3.9; RFC 1191 for fragmentation-needed). */
  icmpError(report: Readonly<TcpIcmpReport>, _now: number): boolean {
    const was = this.#driven;
    this.#driven = true;
    try {
      return this.#icmpError(report);
    } finally {
      this.#driven = was;
    }
  }

  #icmpError(report: Readonly<TcpIcmpReport>): boolean {
    const { kind, localIp, localPort, remoteIp, remotePort, seq, mtu } = report;
    const c = this.#conns.get(ipNum(localIp), localPort, ipNum(remoteIp), remotePort);
    if (!c) {
      const tw = this.#tw.find(ipNum(localIp), localPort, ipNum(remoteIp), remotePort);
      if (tw >= 0) {
        // TIME-WAIT has nothing in flight but its FIN's sequence number (RFC 5927).
        this.#count(`tcp-icmp-${kind}`);
        return (seq >>> 0) === this.#tw.sndNxt[tw];
      }
      this.#count("tcp-icmp-no-connection");
      return false;
    }
    this.#count(`tcp-icmp-${kind}`);
    // RFC 5927: only believe errors quoting a sequence number in flight.
    if (seqLt(seq >>> 0, c.snd.una) || seqGt(seq >>> 0, c.snd.max)) return false;
    if (kind === "fragmentation-needed") {
      if (mtu >= 68) {
        const m = Math.max(mtu - tcpIpOverhead(c.remoteIp) - (c.tsOk ? 12 : 0), 28);
        if (m < c.snd.mss) {
          c.snd.mss = m;
          c.snd.nxt = c.snd.una; // resend what was too big (as Linux tcp_simple_retransmit)
          c.touch();
        }
      }
      return true;
    }
    if (c.state !== "SYN-SENT") return true; // soft errors for synchronized connections
    if (kind === "port-unreachable" || kind === "protocol-unreachable") {
      c.toClosed(new TcpError("refused", "Connection refused"));
    } else if (kind !== "time-exceeded" && kind !== "parameter-problem") {
      c.toClosed(new TcpError("unreachable", "Host unreachable"));
    }
    return true;
  }

  /**
   * ARP gave up on `remoteIp` (the interface dropped the frames queued for it): connections
   * still connecting to it fail, and half-open connections of our listeners whose SYN+ACK
   * could not be delivered are released at once instead of living through their SYN+ACK
   * retries (a SYN from a spoofed on-link source; as Linux, whose request socket goes when
   * the neighbour fails).
   */
  unreachable(remoteIp: number, _now: number): void {
    const ip = ipNum(remoteIp);
    // The few toward `ip` are picked first (closing changes the table), without copying the
    // whole table per failed address: a flood from spoofed on-link sources fails hundreds.
    const toward: TcpConnection[] = [];
    for (const c of this.#conns.all) if (c.remoteIp === ip) toward.push(c);
    for (const c of toward) {
      if (c.state === "SYN-SENT") c.toClosed(new TcpError("unreachable", "Host unreachable"));
      else if (c.state === "SYN-RECEIVED" && c.passive) {
        this.#count("tcp-syn-recv-unreachable");
        c.toClosed(null);
      }
    }
  }

  /**
   * Flush what socket calls queued at `now`, then run the timers due by `dueBy` (default
   * `now`). A driver passes the time it last read its link as `dueBy`: what leaves counts its
   * timers from `now` (a probe timeout armed from a stale clock fired before the ACK could
   * come), while a timer that came due during a long batch waits for the next pass, which
   * reads the ACKs that came meanwhile first.
   */
  poll(now: number, dueBy: number = now): void {
    this.#lastNow = now;
    const was = this.#driven;
    this.#driven = true;
    try {
      this.#poll(now, Math.min(now, dueBy));
    } finally {
      this.#driven = was;
    }
  }

  #poll(now: number, dueBy: number): void {
    const d = this.#dirty;
    for (let i = 0; i < this.#dirtyN; i++) { // output may mark more connections dirty
      const c = d[i]!;
      d[i] = undefined;
      c.dirty = false;
      output(c, now);
    }
    this.#dirtyN = 0;
    if (this.#hold.size > 0) this.#hold.settle(); // carried or released since (ack_hold.ts)
    if (dueBy < this.#nextAt) return;
    // Only the connections with a timer due (timer_heap.ts); one whose timers moved later is
    // queued again at its real deadline.
    const q = this.#timers;
    for (let c = q.popDue(dueBy); c !== undefined; c = q.popDue(dueBy)) {
      if (c.deadline() <= dueBy) runTimers(c, dueBy);
      const t = c.deadline();
      if (t < Infinity && c.st !== "CLOSED") q.schedule(c, t);
    }
    const tw = this.#tw;
    if (tw.nextAt() <= dueBy) {
      // 2 MSL passed: the record ends (RFC 9293 3.10.7.4 timeout).
      for (let s = tw.popExpired(dueBy); s >= 0; s = tw.popExpired(dueBy)) this.#endTimeWait(s);
    }
    this.#nextAt = Math.min(q.peek(), tw.nextAt());
  }

  /** The earliest deadline (Infinity when none; 0 when output is queued). */
  pollAt(): number {
    return this.#dirtyN > 0 ? 0 : this.#nextAt;
  }

  /** Stack shutdown: reset every connection, or close them gracefully (FIN). */
  closeAll(mode: "reset" | "graceful", now: number): void {
    this.#lastNow = now;
    const was = this.#driven;
    this.#driven = true;
    try {
      this.#closeAll(mode, now);
    } finally {
      this.#driven = was;
    }
  }

  #closeAll(mode: "reset" | "graceful", now: number): void {
    for (const l of [...this.#listeners.values()]) l.close();
    // TIME-WAIT ended normally for its owner: released silently, no RST (RFC 9293 3.10.5).
    for (const s of this.#tw.slots()) this.#endTimeWait(s);
    for (const c of [...this.#conns.all]) {
      if (mode === "reset") c.reset(true, new TcpError("aborted", "Stack closed"));
      else c.close();
    }
    this.poll(now);
  }
}

/** True when `a` and `b` hold the same own keys with identical values. */
function sameOptions(a: Partial<TcpOptions>, b: Partial<TcpOptions>): boolean {
  let n = 0;
  for (const k in a) {
    if (!Object.hasOwn(a, k)) continue;
    const key = k as keyof TcpOptions;
    if (!Object.hasOwn(b, key) || !Object.is(a[key], b[key])) return false;
    n++;
  }
  for (const k in b) if (Object.hasOwn(b, k)) n--;
  return n === 0;
}
