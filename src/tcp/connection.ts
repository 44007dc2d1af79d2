/**
 * One TCP connection: its control block (RFC 9293 section 3.3.1 names), the socket calls of
 * the owner, and the bookkeeping for statistics. Segment arrival lives in `tcp_input.ts`,
 * sending in `tcp_output.ts`, timers in `tcp_timers.ts`.
 *
 * Socket calls never transmit: they mark the connection dirty and the layer's next `poll(now)`
 * flushes.
 *
 * @module
 */

import type { RtxLog } from "./rtx_log.ts";
import type { Rack } from "./rack.ts";
import { seqAdd, seqDiff } from "../wire/seq.ts";
import { type CongestionControl, NewReno } from "./congestion.ts";
import type { ConnHost } from "./host.ts";
import { connInfo } from "./conn_info.ts";
import { RttEstimator } from "./rtt.ts";
import type { SackScoreboard } from "./sack.ts";
import { rcvRightEdge } from "./tcp_output.ts";
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

/** A timer that is not armed. */
const NEVER = Infinity;

/**
 * A TCP connection. Made by `TcpLayer.connect` (active open) or handed out by
 * `TcpListener.accept` (passive open).
 */
export class TcpConnection {
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

  // ---- internal control block (RFC 9293 3.3.1), used by tcp_input/tcp_output/tcp_timers
  /** @internal */ readonly host: ConnHost;
  /** @internal */ readonly opt: TcpOptions;
  /** @internal */ st: TcpState = "CLOSED";
  /** @internal */ passive = false;
  /** @internal listener while not yet accepted */ listener: {
    onConnDone(c: TcpConnection, ok: boolean): void;
    synRetryLimit(): number;
  } | null = null;
  /** @internal */ iss = 0;
  /** @internal */ sndUna = 0;
  /** @internal */ sndNxt = 0;
  /** @internal highest sequence sent */ sndMax = 0;
  /** @internal sequence after the last byte written by the owner */ sndEnd = 0;
  /** @internal scaled peer window */ sndWnd = 0;
  /** @internal */ maxSndWnd = 0;
  /** @internal */ sndWl1 = 0;
  /** @internal */ sndWl2 = 0;
  /** @internal */ sndWscale = 0;
  /** @internal */ rcvWscale = 0;
  /** @internal */ irs = 0;
  /** @internal */ rcvNxt = 0;
  /** @internal right edge of the window we advertised */ rcvAdv = 0;
  /** @internal our advertised MSS */ rcvMss = 536;
  /** @internal largest segment payload received (the peer's MSS estimate), 0 none */ rcvSeg = 0;
  /** @internal peer's MSS option */ peerMss = 536;
  /** @internal effective send MSS (payload bytes per segment) */ mss = 536;
  /** @internal */ sndRing = -1;
  /** @internal */ rcvRing = -1;
  /** @internal FIN queued by shutdownWrite */ finQueued = false;
  /** @internal sequence number of our FIN */ finSeq = 0;
  /** @internal peer FIN received */ peerFin = false;
  /** @internal sequence of a FIN that arrived out of order, -1 none */ rcvFinSeq = -1;
  /** @internal owner called close() */ userClosed = false;
  /** @internal */ ackNow = false;
  /** @internal bytes received since the last ACK */ unackedBytes = 0;
  /** @internal */ delackAt = NEVER;
  /** @internal */ rtxAt = NEVER;
  /** @internal tail loss probe timer (RFC 8985 section 7) */ ptoAt = NEVER;
  /** @internal RACK reordering timer (RFC 8985 6.2 step 5) */ rackAt = NEVER;
  /** @internal RACK state, made with the first data sent when SACK is on */ rack: Rack | null =
    null;
  /** @internal TLP.end_seq: SND.MAX when the probe went, -1 when no probe is out */ tlpEnd = -1;
  /** @internal the probe's first sequence */ tlpSeq = 0;
  /** @internal whether the probe was a retransmission */ tlpRtx = false;
  /** @internal un-SACKed data below this is lost (a SACKed probe, RFC 8985 7.4), -1 none */ probeLost =
    -1;
  /** @internal */ retries = 0;
  /** @internal */ persistAt = NEVER;
  /** @internal */ persistBackoff = 0;
  /** @internal */ keepAt = NEVER;
  /** @internal */ keepProbes = 0;
  /** @internal */ timeWaitAt = NEVER;
  /** @internal time of the last forward progress (user timeout) */ progressAt = 0;
  /** @internal */ rtt: RttEstimator;
  /** @internal classic RTT timing (Karn: never on retransmitted data) */ rttSeq = 0;
  /** @internal */ rttStart = -1;
  /** @internal */ cc: CongestionControl;
  /** @internal */ dupAcks = 0;
  /** @internal duplicate ACK threshold, raised when reordering is detected (as Linux) */ dupThresh =
    3;
  /** @internal Eifel (RFC 3522) state: TSval of the fast retransmission, cwnd and ssthresh before */ undoTs =
    -1;
  /** @internal */ undoCwnd = 0;
  /** @internal */ undoSsthresh = 0;
  /** @internal segments limited transmit may add beyond cwnd (RFC 3042) */ limitedTx = 0;
  /** @internal */ inRecovery = false;
  /** @internal when data was last sent (Linux lsndtime), for restart after idle */ lastDataAt = 0;
  /** @internal recovery driven by the SACK scoreboard and pipe (RFC 6675) */ sackRecovery = false;
  /** @internal PRR (RFC 6937): bytes delivered and sent since recovery began, RecoverFS */ prrDelivered =
    0;
  /** @internal */ prrOut = 0;
  /** @internal */ recoverFs = 1;
  /** @internal */ recover = 0;
  /** @internal */ tsOk = false;
  /** @internal */ tsRecent = 0;
  /** @internal a D-SACK block to report (RFC 2883) while dsackL !== dsackR */ dsackL = 0;
  /** @internal */ dsackR = 0;
  /** @internal when TS.Recent was last set (RFC 7323 5.5 idle rule) */ tsRecentAt = 0;
  /** @internal */ lastAckSent = 0;
  /** @internal */ sackOk = false;
  /** @internal */ wsOk = false;
  /** @internal SACK scoreboard, made on the first SACK block */ sb: SackScoreboard | null = null;
  /** @internal retransmissions of this SACK recovery (rtx_log.ts) */ rtxLog: RtxLog | null = null;
  /** @internal when an ACK last answered an invalid segment (rate limit), -Infinity never */ oowAckAt =
    -Infinity;
  /** @internal */ writeBlocked = false;
  /** @internal urgent pointer (RFC 6093: sequence after the last urgent byte), -1 none */ rcvUp =
    -1;
  /** @internal */ noDelay: boolean;
  /** @internal */ keepAlive: boolean;
  /** @internal */ keepIdleMs: number;
  /** @internal */ dirty = false;
  /** @internal */ bytesIn = 0;
  /** @internal */ bytesOut = 0;
  /** @internal */ segsIn = 0;
  /** @internal */ segsOut = 0;
  /** @internal */ retransmits = 0;
  /** @internal */ zeroWindowProbes = 0;
  /** @internal */ drops: Record<string, number> = {};
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
    this.localIp = localIp >>> 0;
    this.localPort = localPort;
    this.remoteIp = remoteIp >>> 0;
    this.remotePort = remotePort;
    this.rtt = new RttEstimator(opt.rtoInitialMs, opt.rtoMinMs, opt.rtoMaxMs);
    this.cc = new NewReno(536);
    this.noDelay = opt.noDelay;
    this.keepAlive = opt.keepAlive;
    this.keepIdleMs = opt.keepIdleMs;
  }

  /** The current state (RFC 9293 3.3.2). */
  get state(): TcpState {
    return this.st;
  }

  /** Peer's FIN reached and every byte before it read. */
  get readEof(): boolean {
    return this.peerFin && this.readable === 0;
  }

  /** In-order bytes waiting for the reader. */
  get readable(): number {
    return this.rcvRing >= 0 ? this.host.engine.rcvReadable(this.rcvRing) : 0;
  }

  /**
   * The urgent mark (RFC 9293 3.8.5, RFC 6093: urgent data stays inline): how many readable
   * bytes lie before the end of the urgent data, or -1 when no urgent data is pending.
   */
  get urgentMark(): number {
    if (this.rcvUp < 0) return -1;
    const readPos = seqAdd(this.rcvNxt, -(this.readable + (this.peerFin ? 1 : 0)));
    const d = seqDiff(this.rcvUp, readPos);
    return d > 0 ? d : -1;
  }

  /** Free send-ring space (0 once the write side is shut). */
  get writable(): number {
    if (this.finQueued || this.st === "CLOSED" || this.sndRing < 0) return 0;
    return this.host.engine.sndFree(this.sndRing);
  }

  /** @internal Count a drop reason on this connection and on the layer. */
  drop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    this.host.count(reason);
  }

  /** @internal Emit an event to the owner. */
  emit(ev: TcpEvent): void {
    this.onEvent?.(ev);
  }

  /** @internal Set a timer and tell the layer. */
  arm(
    which: "rtxAt" | "ptoAt" | "rackAt" | "persistAt" | "delackAt" | "keepAt" | "timeWaitAt",
    at: number,
  ): void {
    const ut = this.opt.userTimeoutMs;
    if (ut > 0 && (which === "rtxAt" || which === "persistAt") && isSynchronized(this.st)) {
      // RFC 5482 / RFC 9293 3.8.3: the user timeout bounds retransmission and window probing;
      // clamp the timer to its deadline (as Linux tcp_clamp_rto_to_user_timeout and
      // tcp_clamp_probe0_to_user_timeout) so the connection ends on time, not at the next probe.
      const end = this.progressAt + ut;
      if (end < at) at = end;
    }
    this[which] = at;
    this.host.schedule(at);
  }

  /** @internal The earliest timer. */
  deadline(): number {
    return Math.min(
      this.rtxAt,
      this.ptoAt,
      this.rackAt,
      this.persistAt,
      this.delackAt,
      this.keepAt,
      this.timeWaitAt,
    );
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
    if (this.finQueued || this.userClosed || this.st === "CLOSED") {
      throw new TcpError("broken-pipe", "Cannot write after the connection was shut for writing");
    }
    if (this.st === "LAST-ACK" || this.st === "CLOSING" || this.st === "TIME-WAIT") {
      throw new TcpError("broken-pipe", "Cannot write after the connection was shut for writing");
    }
    if (data.length === 0) return 0;
    const n = this.host.engine.sndWrite(this.sndRing, data);
    this.sndEnd = seqAdd(this.sndEnd, n);
    if (n < data.length) this.writeBlocked = true;
    if (n > 0) this.touch();
    return n;
  }

  /** Copy in-order received bytes into `into`; 0 when none. Frees window space. */
  read(into: Uint8Array): number {
    if (this.rcvRing < 0 || into.length === 0) return 0;
    const e = this.host.engine;
    const n = e.rcvRead(this.rcvRing, into);
    if (n > 0) {
      if (this.st === "CLOSED") {
        if (e.rcvReadable(this.rcvRing) === 0) this.#dropRcvRing();
        return n;
      }
      // Window update when reading freed lots of room (RFC 9293 3.8.6.2.2; Linux tcp_cleanup_rbuf:
      // offered window <= half the buffer and would double; none after the peer's FIN). Not
      // while a delayed ACK waits for less than a full-sized segment (a request): the application's
      // answer is to carry the ACK and the window (RFC 1122 4.2.3.2, RFC 9293 3.8.6.3), and
      // the delayed-ACK timer bounds the wait.
      const cur = Math.max(seqDiff(this.rcvAdv, this.rcvNxt), 0);
      const next = seqDiff(rcvRightEdge(this), this.rcvNxt);
      const request = this.delackAt !== Infinity &&
        seqDiff(this.rcvNxt, this.lastAckSent) < this.rcvMss - (this.tsOk ? 12 : 0);
      if (!this.peerFin && !request && 2 * cur <= this.opt.rcvBuf && next > 0 && next >= 2 * cur) {
        this.ackNow = true;
        this.touch();
      }
    }
    return n;
  }

  /** Send FIN after the queued data (half-close, RFC 9293 3.10.4). */
  shutdownWrite(): void {
    if (this.finQueued || this.st === "CLOSED") return;
    this.finQueued = true;
    this.finSeq = this.sndEnd;
    // RFC 9293 3.10.4: ESTABLISHED -> FIN-WAIT-1; SYN-RECEIVED with nothing queued ->
    // FIN-WAIT-1 at once (else the FIN waits for ESTABLISHED); CLOSE-WAIT -> LAST-ACK.
    if (this.st === "ESTABLISHED") this.st = "FIN-WAIT-1";
    else if (this.st === "SYN-RECEIVED" && this.sndEnd === seqAdd(this.iss, 1) && !this.passive) {
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
    this.userClosed = true;
    if (this.st === "SYN-SENT" || this.readable > 0) {
      // RFC 9293 3.10.4: CLOSE in SYN-SENT deletes the TCB; unread data: reset (RFC 1122).
      this.reset(this.st !== "SYN-SENT", null, 0);
      return;
    }
    this.shutdownWrite();
  }

  /** Abort: RST now, state CLOSED, error "aborted" (RFC 9293 3.10.5). */
  abort(): void {
    if (this.st === "CLOSED") return;
    this.reset(this.st !== "SYN-SENT", new TcpError("aborted", "Connection aborted"), 0);
  }

  /**
   * @internal Send RST (when `sendRst` and the state calls for one) and go to CLOSED with `err`.
   * RFC 9293 3.10.5: ABORT in CLOSING, LAST-ACK and TIME-WAIT just deletes the TCB; no RST in
   * SYN-SENT, LISTEN or CLOSED either (as Linux tcp_need_reset).
   */
  reset(sendRst: boolean, err: TcpError | null, _now: number): void {
    if (sendRst && abortSendsRst(this.st)) {
      const s = this.host.out.clear();
      s.srcIp = this.localIp;
      s.dstIp = this.remoteIp;
      s.srcPort = this.localPort;
      s.dstPort = this.remotePort;
      s.seq = this.sndNxt;
      s.ack = this.rcvNxt;
      s.flags = 4 | 16; // RST+ACK
      this.host.tx.sendTcp(s, -1);
      this.segsOut++;
      this.host.count("tcp-rst-sent");
    }
    this.toClosed(err);
  }

  /** @internal Enter CLOSED: stop timers, release buffers, tell the owner. */
  toClosed(err: TcpError | null): void {
    if (this.st === "CLOSED") return;
    if (err && !this.error) this.error = err;
    this.st = "CLOSED";
    this.rtxAt =
      this.ptoAt =
      this.rackAt =
      this.persistAt =
      this.delackAt =
      this.keepAt =
      this.timeWaitAt =
        NEVER;
    const e = this.host.engine;
    if (this.sndRing >= 0) {
      e.sndDestroy(this.sndRing);
      this.sndRing = -1;
    }
    // Unread data of a normally closed connection stays readable until read or close().
    if (err || this.userClosed || this.readable === 0) this.#dropRcvRing();
    this.listener?.onConnDone(this, false);
    this.host.release(this);
    this.emit("closed");
  }

  #dropRcvRing(): void {
    if (this.rcvRing >= 0) {
      this.host.engine.rcvDestroy(this.rcvRing);
      this.rcvRing = -1;
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
    this.keepProbes = 0;
    this.keepAt = NEVER;
    this.touch(); // the next poll arms the timer from its `now`
  }

  /** Statistics of this connection. */
  info(): TcpConnInfo {
    return connInfo(this);
  }
}
