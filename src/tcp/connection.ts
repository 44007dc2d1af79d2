/**
 * One TCP connection: the public handle (`TcpHandle`: socket calls and events) over its control
 * block, whose records (send and receive sequence space, recovery, loss probe, timers,
 * statistics; RFC 9293 section 3.3.1 names) live in `tcb.ts`. Segment arrival lives in
 * `tcp_input.ts`, sending in `tcp_output.ts`, timers in `tcp_timers.ts`. `ConnHost`, what a
 * connection needs from its layer, is declared here so that this module imports nothing that
 * imports it back.
 *
 * Socket calls never transmit: they mark the connection dirty and the layer's next `poll(now)`
 * flushes.
 *
 * @module
 */

import { ipNum } from "../wire/ip_handle.ts";
import { seqAdd, seqDiff } from "../wire/seq.ts";
import { type CongestionControl, NewReno } from "./congestion.ts";
import type { Engine } from "../kernels/engine.ts";
import type { BufferBudget } from "./buf_tune.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import type { TcpTransmit } from "./contract.ts";
import { connInfo } from "./conn_info.ts";
import { RttEstimator } from "./rtt.ts";
import {
  ConnStats,
  LossProbe,
  NEVER,
  Recovery,
  RecvSpace,
  SendSpace,
  type TimerName,
  Timers,
} from "./tcb.ts";
import { peerWindowBlocked, windowUpdateDue } from "./rcv_window.ts";
import {
  abortSendsRst,
  isSynchronized,
  type TcpConnInfo,
  TcpError,
  type TcpEvent,
  type TcpOptions,
  type TcpState,
} from "./types.ts";

export type { TcpConnInfo } from "./types.ts";

/**
 * The layer as its connections see it (internal): the engine, the transmit seam, a reusable
 * outgoing segment, counters, scheduling and removal.
 */
export interface ConnHost {
  /** The hot-path engine (buffers). */
  readonly engine: Engine;
  /** The layer below. */
  readonly tx: TcpTransmit;
  /** The reusable outgoing segment. */
  readonly out: TcpSegment;
  /** Count one layer event or drop reason. */
  count(name: string): void;
  /** A timer of `c` is due at `at`. */
  schedule(at: number, c: TcpConnection): void;
  /** `c` has output to flush at the next poll. */
  markDirty(c: TcpConnection): void;
  /** `c` reached CLOSED: forget it. */
  release(c: TcpConnection): void;
  /** A passive connection became established (hand to its listener). */
  established(c: TcpConnection): void;
  /** Send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> for `c` (built in tcp_replies.ts). */
  sendRst(c: TcpConnection): void;
  /** Challenge ACK budget (RFC 5961 section 7): true when one may be sent now. */
  challengeAllowed(now: number): boolean;
  /** The layer's budget for buffer growth (buf_tune.ts). */
  readonly budget: BufferBudget;
  /**
   * The handshake ACK of `c` (its third segment) is owed: true when the layer holds it for the
   * application's first turn (`TcpLayer.holdHandshakeAck`); false: it goes at the next poll.
   */
  holdAck(c: TcpConnection): boolean;
  /** A handshake ACK sent alone was followed at once by the first data or FIN (ack_hold.ts). */
  ackAvoidable(): void;
  /** True while the TIME-WAIT record of key `key` lives (time_wait.ts). */
  timeWaitLive(key: number): boolean;
  /** The owner closed `c`, whose TIME-WAIT lives on as a record: the layer lets it go. */
  timeWaitOrphan(c: TcpConnection): void;
}

/**
 * The public handle of a connection: what socket code (src/api) uses. The control block
 * behind it (the records of tcb.ts) is not part of it.
 */
export interface TcpHandle {
  /** Local address (u32). */
  readonly localIp: number;
  /** Local port. */
  readonly localPort: number;
  /** Remote address (u32). */
  readonly remoteIp: number;
  /** Remote port. */
  readonly remotePort: number;
  /** Callback for events; must not call back into the layer synchronously. */
  onEvent: ((ev: TcpEvent) => void) | null;
  /** Why the connection ended abnormally, else null. */
  readonly error: TcpError | null;
  /** The current state (RFC 9293 3.3.2). */
  readonly state: TcpState;
  /** Peer's FIN reached and every byte before it read. */
  readonly readEof: boolean;
  /** In-order bytes waiting for the reader. */
  readonly readable: number;
  /** Readable bytes before the end of the urgent data, -1 when none is pending. */
  readonly urgentMark: number;
  /** Free send-ring space (0 once the write side is shut). */
  readonly writable: number;
  /** Queue bytes for sending; returns how many were accepted. */
  write(data: Uint8Array): number;
  /** Copy in-order received bytes into `into`; 0 when none. */
  read(into: Uint8Array): number;
  /**
   * The application waits to read before it wrote: a handshake ACK held for its first data
   * (`TcpLayer.holdHandshakeAck`) goes at the next poll instead of after its turn.
   */
  releaseAck(): void;
  /** Send FIN after the queued data (half-close). */
  shutdownWrite(): void;
  /** Close both directions (RST when received data is unread). */
  close(): void;
  /** Abort: RST now, state CLOSED. */
  abort(): void;
  /** Disable (true) or enable (false) Nagle's algorithm. */
  setNoDelay(on: boolean): void;
  /** Switch keepalive on or off; `idleMs` overrides the idle time. */
  setKeepAlive(on: boolean, idleMs?: number): void;
  /** Statistics of this connection. */
  info(): TcpConnInfo;
}

/**
 * A TCP connection: the public handle ({@link TcpHandle}) over its control block. Made by `TcpLayer.connect` (active open) or handed out by
 * `TcpListener.accept` (passive open).
 */
export class TcpConnection implements TcpHandle {
  /** Local address (u32). */
  readonly localIp: number;
  /** Local port. */
  readonly localPort: number;
  /** Remote address (u32). */
  readonly remoteIp: number;
  /** Remote port. */
  readonly remotePort: number;
  /** Callback for events; must not call back into the layer synchronously. */
  onEvent: ((ev: TcpEvent) => void) | null = null;
  /** Why the connection ended abnormally, else null. */
  error: TcpError | null = null;

  // ---- the control block (RFC 9293 3.3.1): records of tcb.ts, used by tcp_input, tcp_output,
  // tcp_timers, recovery, loss and tlp. Nothing below is part of the public handle.
  /** @internal */ readonly host: ConnHost;
  /** @internal */ readonly opt: TcpOptions;
  /** @internal */ st: TcpState = "CLOSED";
  /** @internal made by a listener (passive open) */ passive = false;
  /** @internal listener while not yet accepted */ listener: {
    onConnDone(c: TcpConnection, ok: boolean): void;
    synRetryLimit(now: number): number;
    cookieOverHalfOpen(c: TcpConnection, seg: TcpSegment, now: number): boolean;
  } | null = null;
  /** @internal send sequence space */ readonly snd: SendSpace = new SendSpace();
  /** @internal receive sequence space */ readonly rcv: RecvSpace = new RecvSpace();
  /** @internal loss recovery: open, fast, sack or rto */ readonly rec: Recovery = new Recovery();
  /** @internal tail loss probe (RFC 8985 section 7) */ readonly tlp: LossProbe = new LossProbe();
  /** @internal every deadline of the connection */ readonly timers: Timers = new Timers();
  /** @internal counters for info() */ readonly stats: ConnStats = new ConnStats();
  /** @internal RTT estimator and RTO (RFC 6298) */ rtt: RttEstimator;
  /** @internal congestion control (RFC 5681 NewReno or RFC 9438 CUBIC) */ cc: CongestionControl;
  /** @internal timestamps negotiated (RFC 7323) */ tsOk = false;
  /** @internal SACK negotiated (RFC 2018) */ sackOk = false;
  /** @internal window scaling negotiated (RFC 7323) */ wsOk = false;
  /** @internal owner called close() */ userClosed = false;
  /** @internal when an ACK last answered an invalid segment (rate limit), -Infinity never */ oowAckAt =
    -Infinity;
  /** @internal */ noDelay: boolean;
  /** @internal */ keepAlive: boolean;
  /** @internal */ keepIdleMs: number;
  /** @internal in the layer's dirty list */ dirty = false;
  /** @internal key of the layer's TIME-WAIT record that replaced it (time_wait.ts), else -1 */ tw =
    -1;
  /** @internal Made by the layer only. */
  constructor(
    host: ConnHost,
    opt: TcpOptions,
    localIp: number,
    localPort: number,
    remoteIp: number,
    remotePort: number,
  ) {
    this.host = host;
    this.opt = opt;
    this.localIp = ipNum(localIp);
    this.localPort = localPort;
    this.remoteIp = ipNum(remoteIp);
    this.remotePort = remotePort;
    this.rtt = new RttEstimator(opt.rtoInitialMs, opt.rtoMinMs, opt.rtoMaxMs);
    this.cc = new NewReno(536);
    this.noDelay = opt.noDelay;
    this.keepAlive = opt.keepAlive;
    this.keepIdleMs = opt.keepIdleMs;
    this.rcv.buf = opt.rcvBuf;
    this.snd.buf = opt.sndBuf;
  }

  /**
   * The current state (RFC 9293 3.3.2). In TIME-WAIT the layer keeps a compact record instead
   * of the connection (time_wait.ts): TIME-WAIT while that record lives, then CLOSED.
   */
  get state(): TcpState {
    const st = this.st;
    return st === "TIME-WAIT" && this.tw >= 0 && !this.host.timeWaitLive(this.tw) ? "CLOSED" : st;
  }

  /** Peer's FIN reached and every byte before it read. */
  get readEof(): boolean {
    return this.rcv.peerFin && this.readable === 0;
  }

  /** In-order bytes waiting for the reader. */
  get readable(): number {
    return this.rcv.ring >= 0 ? this.host.engine.rcvReadable(this.rcv.ring) : 0;
  }

  /**
   * The urgent mark (RFC 9293 3.8.5, RFC 6093: urgent data stays inline): how many readable
   * bytes lie before the end of the urgent data, or -1 when no urgent data is pending.
   */
  get urgentMark(): number {
    if (this.rcv.up < 0) return -1;
    const readPos = seqAdd(this.rcv.nxt, -(this.readable + (this.rcv.peerFin ? 1 : 0)));
    const d = seqDiff(this.rcv.up, readPos);
    return d > 0 ? d : -1;
  }

  /** Free send-ring space (0 once the write side is shut). */
  get writable(): number {
    if (this.snd.finQueued || this.st === "CLOSED" || this.snd.ring < 0) return 0;
    return this.host.engine.sndFree(this.snd.ring);
  }

  /** @internal Count a drop reason on this connection and on the layer. */
  drop(reason: string): void {
    this.stats.drops[reason] = (this.stats.drops[reason] ?? 0) + 1;
    this.host.count(reason);
  }

  /** @internal Emit an event to the owner. */
  emit(ev: TcpEvent): void {
    this.onEvent?.(ev);
  }

  /** @internal Set a timer and tell the layer. */
  arm(which: TimerName, at: number): void {
    const ut = this.opt.userTimeoutMs;
    if (ut > 0 && (which === "rtx" || which === "persist") && isSynchronized(this.st)) {
      // RFC 5482 / RFC 9293 3.8.3: the user timeout bounds retransmission and window probing;
      // clamp the timer to its deadline (as Linux tcp_clamp_rto_to_user_timeout and
      // tcp_clamp_probe0_to_user_timeout) so the connection ends on time, not at the next probe.
      const end = this.timers.progressAt + ut;
      if (end < at) at = end;
    }
    this.timers[which] = at;
    this.host.schedule(at, this);
  }

  /** @internal The earliest timer. */
  deadline(): number {
    // Field by field, not a loop over TIMERS: a keyed read boxes each double (a short
    // connection asked this a few times per segment; about 0.9 KB of garbage a connection).
    const t = this.timers;
    return Math.min(t.timeWait, t.pto, t.rack, t.rtx, t.persist, t.keep, t.delack);
  }

  /** @internal Mark for flushing at the next poll. */
  touch(): void {
    if (!this.dirty) {
      this.dirty = true;
      this.host.markDirty(this);
    }
  }

  /**
   * Queue bytes for sending. Returns how many were accepted (0 when the ring is full).
   * Throws the connection's error when it failed, TcpError("broken-pipe") after the write side
   * was shut.
   */
  write(data: Uint8Array): number {
    if (this.error) throw this.error;
    if (this.snd.finQueued || this.userClosed || this.st === "CLOSED") {
      throw new TcpError("broken-pipe", "Cannot write after the connection was shut for writing");
    }
    if (this.st === "LAST-ACK" || this.st === "CLOSING" || this.st === "TIME-WAIT") {
      throw new TcpError("broken-pipe", "Cannot write after the connection was shut for writing");
    }
    if (data.length === 0) return 0;
    const n = this.host.engine.sndWrite(this.snd.ring, data);
    this.snd.end = seqAdd(this.snd.end, n);
    if (n < data.length) this.snd.writeBlocked = true;
    if (n > 0) this.touch();
    return n;
  }

  /** Copy in-order received bytes into `into`; 0 when none. Frees window space. */
  read(into: Uint8Array): number {
    if (this.rcv.ring < 0 || into.length === 0) return 0;
    const e = this.host.engine;
    const n = e.rcvRead(this.rcv.ring, into);
    if (n > 0) {
      this.rcv.copied += n;
      this.rcv.unread = e.rcvReadable(this.rcv.ring); // left behind (buf_tune.ts)
      if (this.st === "CLOSED" || this.tw >= 0) {
        if (e.rcvReadable(this.rcv.ring) === 0) this.#dropRcvRing();
        return n;
      }
      // Window update when reading freed lots of room (rcv_window.ts). Not while a delayed ACK
      // waits for less than a full-sized segment (a request): the application's answer is to
      // carry the ACK and the window (RFC 1122 4.2.3.2, RFC 9293 3.8.6.3), and the delayed-ACK
      // timer bounds the wait. Unless the peer waits on our window (a buffer smaller than its
      // segments): then every held update would cost a delayed-ACK timeout.
      const request = this.timers.delack !== Infinity &&
        seqDiff(this.rcv.nxt, this.rcv.lastAckSent) < this.rcv.mss - (this.tsOk ? 12 : 0) &&
        !peerWindowBlocked(this.rcv, this.rcv.buf, this.tsOk);
      if (
        !request &&
        windowUpdateDue(this.rcv, e.rcvWindow(this.rcv.ring), this.rcv.buf, this.tsOk)
      ) {
        this.rcv.ackNow = true;
        this.touch();
      }
    }
    return n;
  }

  /** A held handshake ACK goes at the next poll (see {@link TcpHandle.releaseAck}). */
  releaseAck(): void {
    if (this.rcv.ackHeld) {
      this.rcv.ackHeld = false;
      this.touch();
    }
  }

  /** Send FIN after the queued data (half-close, RFC 9293 3.10.4). */
  shutdownWrite(): void {
    if (this.snd.finQueued || this.st === "CLOSED") return;
    this.snd.finQueued = true;
    this.snd.finSeq = this.snd.end;
    // RFC 9293 3.10.4: ESTABLISHED -> FIN-WAIT-1; SYN-RECEIVED with nothing queued ->
    // FIN-WAIT-1 at once (else the FIN waits for ESTABLISHED); CLOSE-WAIT -> LAST-ACK.
    if (this.st === "ESTABLISHED") this.st = "FIN-WAIT-1";
    else if (
      this.st === "SYN-RECEIVED" && this.snd.end === seqAdd(this.snd.iss, 1) && !this.passive
    ) {
      this.st = "FIN-WAIT-1";
    } else if (this.st === "CLOSE-WAIT") this.st = "LAST-ACK";
    this.touch();
  }

  /**
   * Close both directions. Sends RST instead of FIN when received data is still unread
   * (RFC 1122 4.2.2.13, as Linux).
   */
  close(): void {
    if (this.st === "CLOSED") {
      this.#dropRcvRing();
      return;
    }
    if (this.tw >= 0 && this.readable === 0) {
      // TIME-WAIT lives on as the layer's record: nothing more for this owner.
      this.userClosed = true;
      this.#dropRcvRing();
      this.host.timeWaitOrphan(this);
      return;
    }
    this.userClosed = true;
    if (this.st === "SYN-SENT" || this.readable > 0) {
      // RFC 9293 3.10.4: CLOSE in SYN-SENT deletes the TCB; unread data: reset (RFC 1122).
      this.reset(this.st !== "SYN-SENT", null);
      return;
    }
    this.shutdownWrite();
  }

  /** Abort: RST now, state CLOSED, error "aborted" (RFC 9293 3.10.5). */
  abort(): void {
    if (this.st === "CLOSED") return;
    this.reset(this.st !== "SYN-SENT", new TcpError("aborted", "Connection aborted"));
  }

  /**
   * @internal Send RST (when `sendRst` and the state calls for one) and go to CLOSED with `err`.
   * RFC 9293 3.10.5: ABORT in CLOSING, LAST-ACK and TIME-WAIT just deletes the TCB; no RST in
   * SYN-SENT, LISTEN or CLOSED either (as Linux tcp_need_reset).
   */
  reset(sendRst: boolean, err: TcpError | null): void {
    if (sendRst && abortSendsRst(this.st)) this.host.sendRst(this);
    this.toClosed(err);
  }

  /** @internal Enter CLOSED: stop timers, release buffers, tell the owner. */
  toClosed(err: TcpError | null): void {
    if (this.st === "CLOSED") return;
    if (err && !this.error) this.error = err;
    this.st = "CLOSED";
    this.#stopTimers();
    this.#dropSndRing();
    // Unread data of a normally closed connection stays readable until read or close().
    if (err || this.userClosed || this.readable === 0) this.#dropRcvRing();
    this.listener?.onConnDone(this, false);
    this.host.release(this);
    this.emit("closed");
  }

  /** Disarm every timer, field by field (see deadline()). */
  #stopTimers(): void {
    const t = this.timers;
    t.timeWait =
      t.pto =
      t.rack =
      t.rtx =
      t.persist =
      t.keep =
      t.delack =
        NEVER;
  }

  /**
   * @internal The layer replaced this connection in TIME-WAIT by its record `key`
   * (time_wait.ts): no timers, no send buffer; unread data stays readable until read or close().
   */
  compact(key: number): void {
    this.tw = key;
    this.#stopTimers();
    this.rcv.ackNow = false;
    this.#dropSndRing();
    if (this.userClosed || this.readable === 0) this.#dropRcvRing();
  }

  #dropSndRing(): void {
    if (this.snd.ring >= 0) {
      this.host.engine.sndDestroy(this.snd.ring);
      this.snd.ring = -1;
      this.host.budget.give(this.snd.grown);
      this.snd.grown = 0;
    }
  }

  #dropRcvRing(): void {
    if (this.rcv.ring >= 0) {
      this.host.engine.rcvDestroy(this.rcv.ring);
      this.rcv.ring = -1;
      this.host.budget.give(this.rcv.grown);
      this.rcv.grown = 0;
    }
  }

  /** Disable (true) or enable (false) Nagle's algorithm. */
  setNoDelay(on: boolean): void {
    this.noDelay = on;
    this.touch();
  }

  /** Switch keepalive (RFC 1122 4.2.3.6) on or off; `idleMs` overrides the idle time. */
  setKeepAlive(on: boolean, idleMs?: number): void {
    this.keepAlive = on;
    if (idleMs !== undefined && idleMs > 0) this.keepIdleMs = idleMs;
    this.timers.keepProbes = 0;
    this.timers.keep = NEVER;
    this.touch(); // the next poll arms the timer from its `now`
  }

  /** Statistics of this connection. */
  info(): TcpConnInfo {
    const i = connInfo(this);
    i.state = this.state;
    return i;
  }
}
