/**
 * Public types of the TCP layer: states, events, tuning options with their defaults, and the
 * error a connection ends with.
 *
 * @module
 */

import { MAX_BUFFER_CAPACITY } from "../kernels/buffer_limits.ts";

/** The eleven connection states of RFC 9293 section 3.3.2. */
export type TcpState =
  | "CLOSED"
  | "LISTEN"
  | "SYN-SENT"
  | "SYN-RECEIVED"
  | "ESTABLISHED"
  | "FIN-WAIT-1"
  | "FIN-WAIT-2"
  | "CLOSE-WAIT"
  | "CLOSING"
  | "LAST-ACK"
  | "TIME-WAIT";

/** States in which an abort sends RST (RFC 9293 3.10.5; Linux tcp_need_reset). */
export function abortSendsRst(st: TcpState): boolean {
  return st === "SYN-RECEIVED" || st === "ESTABLISHED" || st === "FIN-WAIT-1" ||
    st === "FIN-WAIT-2" || st === "CLOSE-WAIT";
}

/** States after the handshake (the user timeout clamps their timers). */
export function isSynchronized(st: TcpState): boolean {
  return st !== "SYN-SENT" && st !== "SYN-RECEIVED" && st !== "CLOSED" && st !== "LISTEN";
}

/**
 * What a connection tells its owner, synchronously, from `input()` or `poll()`. "closed": it
 * reached CLOSED, or it is in TIME-WAIT (a compact record of the layer, time_wait.ts) and its
 * owner closed it; nothing follows.
 */
export type TcpEvent = "established" | "readable" | "writable" | "closed";

/** Why a call failed or a connection ended abnormally. */
export type TcpErrorCode =
  | "refused"
  | "reset"
  | "timed-out"
  | "addr-in-use"
  | "not-connected"
  | "broken-pipe"
  | "unreachable"
  | "aborted"
  | "closed";

/**
 * The error of a TCP call or connection; `code` says what happened.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TcpError } from "./types.ts";
 * const e = new TcpError("reset", "Connection reset by peer");
 * assert(e.code === "reset");
 * ```
 */
export class TcpError extends Error {
  /** The machine-readable reason. */
  readonly code: TcpErrorCode;
  /** Make an error with a code and a sentence-case message. */
  constructor(code: TcpErrorCode, message: string) {
    super(message);
    this.name = "TcpError";
    this.code = code;
  }
}

/** Tuning of the TCP layer and of each connection. */
export interface TcpOptions {
  /**
   * Initial receive buffer in bytes (the most we advertise at first). Default 262144. It grows
   * with what the application drains per round trip up to `rcvBufMax` (buf_tune.ts). Setting
   * `rcvBuf` without `rcvBufMax` pins the buffer at that size, as Linux SO_RCVBUF does.
   */
  rcvBuf: number;
  /** Initial send ring in bytes. Default 262144. Grows with cwnd up to `sndBufMax`; pinned like rcvBuf. */
  sndBuf: number;
  /**
   * Largest the receive buffer may grow to; the window scale is chosen for it at SYN time.
   * Default 6 MiB, as Linux tcp_rmem[2].
   */
  rcvBufMax: number;
  /** Largest the send ring may grow to. Default 4 MiB, as Linux tcp_wmem[2]. */
  sndBufMax: number;
  /** Buffer auto-tuning; false pins both buffers at rcvBuf and sndBuf. Default true. */
  autotune: boolean;
  /**
   * The peer runs on our thread (two stacks joined by the memory link): a round trip measured
   * there is the peer's turn of the event loop, lengthened by whatever we queue, not a
   * network's. The receive buffer then grows only by the strict rule of buf_tune.ts (the
   * sender filled the window within the least round trip, no standing queue). `createStack`
   * sets it from the link's `sameThreadPeer`. Default false: the network rule, as Linux.
   */
  sameThreadPeer: boolean;
  /**
   * Bytes of buffer growth (beyond the initial sizes) that all connections of one TCP layer may
   * hold together, as Linux tcp_mem; once spent, buffers stop growing until connections close.
   * Read from the layer's options only. Default 256 MiB.
   */
  bufferBudget: number;
  /** Our MSS cap; the effective value is also bounded by `tx.pathMtu() - 40`. Default 65495. */
  mss: number;
  /** RTO before the first RTT sample (RFC 6298 2.1: 1 s). */
  rtoInitialMs: number;
  /** RTO floor: 200 ms as Linux (RFC 6298 2.4 says 1 s; Linux's lower bound recovers faster). */
  rtoMinMs: number;
  /** RTO ceiling (RFC 6298 2.5: at least 60 s); default 120 s as Linux TCP_RTO_MAX. */
  rtoMaxMs: number;
  /** Retransmissions of one segment before the connection fails "timed-out" (Linux tcp_retries2). */
  maxRetries: number;
  /** SYN (and SYN+ACK) retransmissions before giving up (Linux tcp_syn_retries). */
  synRetries: number;
  /** 0 = off; else the longest time unacknowledged data (or a closed peer window) is tolerated. */
  userTimeoutMs: number;
  /** Disable Nagle's algorithm (RFC 9293 3.7.4). Default false: Nagle on, as Linux. */
  noDelay: boolean;
  /** Delayed ACK timeout; capped at 200 ms (RFC 1122 4.2.3.2). Default 40 (Linux minimum). */
  delayedAckMs: number;
  /** Keepalive (RFC 1122 4.2.3.6), off by default. */
  keepAlive: boolean;
  /** Idle time before the first keepalive probe (default 2 h, RFC 1122 4.2.3.6). */
  keepIdleMs: number;
  /** Time between unanswered probes (default 75 s as Linux). */
  keepIntervalMs: number;
  /** Unanswered probes before the connection fails "timed-out" (default 9 as Linux). */
  keepCount: number;
  /** TIME-WAIT duration, 2 MSL (RFC 9293 3.10.7.4); default 60 s as Linux. */
  timeWaitMs: number;
  /**
   * The most connections kept in TIME-WAIT, each as a compact record of about 130 bytes of
   * typed arrays (src/tcp/time_wait.ts; 17 MB at the default bound); past it the record nearest its expiry is dropped
   * (`tcp-time-wait-overflow`), and 0 keeps none. Default 131072, what Linux sets
   * `tcp_max_tw_buckets` to on a machine with 16-32 GiB (half its established-hash buckets).
   * Read from the layer's options only; at most 2^24.
   */
  maxTimeWait: number;
  /**
   * Half-open (SYN-RECEIVED) connections per listener; past it, SYN cookies (when `syncookies`)
   * or a dropped SYN. Default 4096 (Linux tcp_max_syn_backlog on a modern machine).
   */
  synBacklog: number;
  /**
   * Established-not-accepted connections per listener (the `listen` backlog); past it new SYNs
   * are dropped and the peer retries, as Linux. Default 4096 (Linux somaxconn since 5.4).
   */
  acceptBacklog: number;
  /**
   * SYN cookies (RFC 4987 section 3.6, as Linux tcp_syncookies=1): when the half-open queue is
   * full, the SYN+ACK carries the state in its sequence number (and timestamp) and no entry
   * is kept. Default true.
   */
  syncookies: boolean;
  /** Offer window scaling (RFC 7323 section 2). */
  windowScale: boolean;
  /** Offer timestamps (RFC 7323 sections 3-5). */
  timestamps: boolean;
  /** Offer SACK (RFC 2018). */
  sack: boolean;
  /** Congestion control: NewReno (RFC 5681, 6582) or CUBIC (RFC 9438). Default "cubic", as Linux. */
  congestion: "newreno" | "cubic";
  /**
   * Restart from a smaller window after an idle period longer than the RTO (RFC 5681 4.1,
   * RFC 7661 section 4 motivation), decaying as Linux tcp_slow_start_after_idle (default
   * true): cwnd halves per RTO idle, never below the initial window.
   */
  slowStartAfterIdle: boolean;
  /**
   * Tail loss probes (RFC 8985 section 7; Linux tcp_early_retrans 3, the default): with SACK,
   * about two round trips after the last ACK one segment is sent to expose a lost tail before
   * the RTO. Default true.
   */
  tailLossProbe: boolean;
  /**
   * RACK time-based loss detection (RFC 8985 section 6; Linux tcp_recovery 1, the default):
   * with SACK, a segment is lost once a segment sent after it arrived and an RTT plus a
   * reordering window passed. Default true.
   */
  rack: boolean;
  /** Initial sequence numbers; default RFC 6528 keyed hash plus a 4 µs clock. */
  isn?: (
    localIp: number,
    localPort: number,
    remoteIp: number,
    remotePort: number,
    now: number,
  ) => number;
}

/** The injectable initial-sequence-number function (RFC 6528 by default). */
export type IsnFunction = NonNullable<TcpOptions["isn"]>;

/** Defaults of {@link TcpOptions}. */
export const TCP_DEFAULTS: Readonly<TcpOptions> = Object.freeze({
  rcvBuf: 262144,
  sndBuf: 262144,
  rcvBufMax: 6 * 1024 * 1024,
  sndBufMax: 4 * 1024 * 1024,
  autotune: true,
  sameThreadPeer: false,
  bufferBudget: 256 * 1024 * 1024,
  mss: 65495,
  rtoInitialMs: 1000,
  rtoMinMs: 200,
  rtoMaxMs: 120000,
  maxRetries: 15,
  synRetries: 6,
  userTimeoutMs: 0,
  noDelay: false,
  delayedAckMs: 40,
  keepAlive: false,
  keepIdleMs: 7200000,
  keepIntervalMs: 75000,
  keepCount: 9,
  timeWaitMs: 60000,
  maxTimeWait: 131072,
  synBacklog: 4096,
  acceptBacklog: 4096,
  syncookies: true,
  windowScale: true,
  timestamps: true,
  sack: true,
  congestion: "cubic",
  slowStartAfterIdle: true,
  tailLossProbe: true,
  rack: true,
});

/** Merge partial options over a base, validating what would break the engine. */
export function resolveOptions(
  base: Readonly<TcpOptions>,
  over: Partial<TcpOptions> | undefined,
): TcpOptions {
  const o: TcpOptions = { ...base, ...(over ?? {}) };
  for (const k of ["rcvBuf", "sndBuf", "mss", "rtoMinMs", "rtoMaxMs", "rtoInitialMs"] as const) {
    if (!(o[k] > 0)) throw new RangeError(`Invalid TCP option ${k}: ${o[k]}`);
  }
  if (!Number.isInteger(o.maxTimeWait) || o.maxTimeWait < 0 || o.maxTimeWait > 2 ** 24) {
    throw new RangeError(`Invalid TCP option maxTimeWait: ${o.maxTimeWait}`);
  }
  if (!(o.bufferBudget >= 0)) {
    throw new RangeError(`Invalid TCP option bufferBudget: ${o.bufferBudget}`);
  }
  // Auto-tuning limits (buf_tune.ts): an explicit size without a maximum pins the buffer (as
  // Linux SO_RCVBUF / SO_SNDBUF lock it); a maximum below an inherited size lowers that size.
  for (const [b, m] of [["rcvBuf", "rcvBufMax"], ["sndBuf", "sndBufMax"]] as const) {
    if (!(o[m] > 0)) throw new RangeError(`Invalid TCP option ${m}: ${o[m]}`);
    for (const k of [b, m]) {
      if (!Number.isInteger(o[k]) || o[k] > MAX_BUFFER_CAPACITY) { // the engines' bound
        throw new RangeError(`TCP option ${k} must be whole bytes up to 1 GiB, got ${o[k]}`);
      }
    }
    if (!o.autotune || (over?.[b] !== undefined && over[m] === undefined)) o[m] = o[b];
    else if (o[m] < o[b]) {
      if (over?.[b] !== undefined) {
        throw new RangeError(`TCP option ${m} (${o[m]}) is below ${b} (${o[b]})`);
      }
      o[b] = o[m];
    }
  }
  if (o.delayedAckMs > 200) o.delayedAckMs = 200; // RFC 1122 4.2.3.2: at most 0.5 s; Linux 200 ms
  if (o.delayedAckMs < 0) o.delayedAckMs = 0;
  return o;
}

/** Statistics of one connection (`conn.info()`): state, bytes, segments, RTT, windows, options. */
export interface TcpConnInfo {
  /** Connection state. */
  state: TcpState;
  /** Payload bytes received in order. */
  bytesIn: number;
  /** Payload bytes sent (retransmissions included). */
  bytesOut: number;
  /** Segments received. */
  segsIn: number;
  /** Segments sent. */
  segsOut: number;
  /** Segments retransmitted. */
  retransmits: number;
  /** Smoothed RTT (RFC 6298). */
  srttMs: number;
  /** RTT variation (RFC 6298). */
  rttvarMs: number;
  /** Current retransmission timeout. */
  rtoMs: number;
  /** Congestion window in bytes. */
  cwnd: number;
  /** Slow start threshold in bytes. */
  ssthresh: number;
  /** Peer's window in bytes (scaled). */
  sndWnd: number;
  /** Window we advertise in bytes. */
  rcvWnd: number;
  /** Receive buffer in bytes now (RCV.BUFF: `rcvBuf`, grown by auto-tuning up to `rcvBufMax`). */
  rcvBuf: number;
  /** Send ring in bytes now (`sndBuf`, grown by auto-tuning up to `sndBufMax`). */
  sndBuf: number;
  /** Effective send MSS (payload bytes per segment). */
  mss: number;
  /** Peer's window-scale shift (RFC 7323). */
  sndWscale: number;
  /** Our window-scale shift. */
  rcvWscale: number;
  /** Timestamps negotiated (RFC 7323). */
  timestamps: boolean;
  /** SACK negotiated (RFC 2018). */
  sack: boolean;
  /** Congestion control in use. */
  congestion: string;
  /** Duplicate ACKs counted now. */
  dupAcks: number;
  /** Window probes sent. */
  zeroWindowProbes: number;
  /** Drops by reason on this connection. */
  drops: Record<string, number>;
}
