/**
 * The records of a TCP control block (RFC 9293 section 3.3.1), grouped by concern in the spirit
 * of gVisor's `sender`, `receiver`, `fastRecovery` and `rackControl`: the send sequence space,
 * the receive sequence space, loss recovery, the tail loss probe, the timers and the
 * statistics. `TcpConnection` (connection.ts) holds one of each; the functions of
 * tcp_input.ts, tcp_output.ts, tcp_timers.ts, recovery.ts, loss.ts and tlp.ts read and write
 * them. Sequence numbers are u32 compared only through `wire/seq.ts`.
 *
 * @module
 */

import type { Rack } from "./rack.ts";
import type { RtxLog } from "./rtx_log.ts";
import type { SackScoreboard } from "./sack.ts";

/** A timer that is not armed. */
export const NEVER = Infinity;

/** Send sequence space (RFC 9293 3.3.1 figure 3) and what the sender keeps beside it. */
export class SendSpace {
  /** ISS: initial send sequence number. */
  iss = 0;
  /** SND.UNA: oldest unacknowledged sequence number. */
  una = 0;
  /** SND.NXT: next sequence number to send (moves back after a timeout). */
  nxt = 0;
  /** Highest sequence number sent plus one (Linux snd_nxt; never moves back). */
  max = 0;
  /** Sequence number after the last byte written by the owner. */
  end = 0;
  /** SND.WND: the peer's window, scaled. */
  wnd = 0;
  /** Largest window the peer offered (sender SWS avoidance, RFC 5961 5.2). */
  maxWnd = 0;
  /** SND.WL1: segment sequence number of the last window update. */
  wl1 = 0;
  /** SND.WL2: segment acknowledgment number of the last window update. */
  wl2 = 0;
  /** Shift applied to the peer's window field (RFC 7323 2.3). */
  wscale = 0;
  /** Effective send MSS: payload bytes per segment, timestamp option taken out. */
  mss = 536;
  /** The peer's MSS option (536 when absent, RFC 9293 3.7.1). */
  peerMss = 536;
  /** Send ring of the engine, -1 none. */
  ring = -1;
  /** Capacity of the send ring now (grows with cwnd up to sndBufMax, buf_tune.ts). */
  buf = 0;
  /** Bytes of that capacity taken from the layer's buffer budget. */
  grown = 0;
  /** FIN queued by shutdownWrite. */
  finQueued = false;
  /** Sequence number of our FIN. */
  finSeq = 0;
  /** When data was last sent (Linux lsndtime), for the restart after idle. */
  lastDataAt = 0;
  /** A write found the ring full: emit "writable" when space frees up. */
  writeBlocked = false;
  /** Classic RTT timing (RFC 6298 section 3, Karn: never on retransmitted data): the sequence timed. */
  rttSeq = 0;
  /** When the timed sequence was sent, -1 when none is being timed. */
  rttStart = -1;
  /** Largest flight in bytes of the current window (Linux max_packets_out; congestion.ts). */
  maxFlight = 0;
  /** cwnd limited what was sent in the current window (Linux is_cwnd_limited; RFC 7661). */
  cwndLimited = false;
  /** The current window of that bookkeeping ends when this sequence is acknowledged. */
  usageSeq = 0;
}

/** Receive sequence space (RFC 9293 3.3.1 figure 4), the receive window and ACK state. */
export class RecvSpace {
  /** IRS: initial receive sequence number. */
  irs = 0;
  /** RCV.NXT: next sequence number expected. */
  nxt = 0;
  /** Right edge of the window we advertised (RCV.NXT + RCV.WND when it was sent). */
  adv = 0;
  /** Shift applied to the window we advertise (RFC 7323 2.3). */
  wscale = 0;
  /** Our advertised MSS. */
  mss = 536;
  /** Largest segment payload received (the peer's MSS estimate), 0 none. */
  seg = 0;
  /** Receive ring of the engine, -1 none. */
  ring = -1;
  /** Capacity of the receive ring now, RCV.BUFF (grows up to rcvBufMax, buf_tune.ts). */
  buf = 0;
  /** Bytes of that capacity taken from the layer's buffer budget. */
  grown = 0;
  /** Bytes the application has read (Linux copied_seq, as a count). */
  copied = 0;
  /**
   * Bytes drained per RTT, the larger of the latest two measure intervals (whether or not the
   * buffer grew), 0 before the first: the stretch-ACK threshold of ack_policy.ts follows it down
   * as well as up.
   */
  rttBytes = 0;
  /** The latest interval's amount alone (for `rttBytes`). */
  rttBytesLast = 0;
  /** Bytes read per RTT at the last measure (Linux rcvq_space.space), 0 before the first. */
  space = 0;
  /** `copied` at the start of the current measure. */
  spaceCopied = 0;
  /** When the current measure began. */
  spaceAt = 0;
  /** Least receiver-side RTT seen from the TSecr of in-order data, ms (Infinity: none yet). */
  rttMin = Infinity;
  /** Data reached the offered right edge during the current measure (window-limited). */
  full = false;
  /** Least receiver-side RTT in the current measure, ms (Infinity: none yet). */
  rttNow = Infinity;
  /**
   * Smoothed receiver-side RTT, ms (gain 1/8, as Linux rcv_rtt_est), 0 none yet: the round
   * trip of the network rule of buf_tune.ts, queueing included.
   */
  rttAvg = 0;
  /** The TSecr of the latest sample of `rttAvg` (one sample per echoed TSval), -1 none. */
  rttEcr = -1;
  /** Bytes left unread after the application's latest read (Linux tcp_inq at recvmsg). */
  unread = 0;
  /** TSval of our latest segments (-1 none) and when the first of them left (clock ms). */
  tsSent = -1;
  tsSentAt = 0;
  /** The TSval before that and when its first segment left. */
  tsPrev = -1;
  tsPrevAt = 0;
  /** The peer's FIN was received (in order). */
  peerFin = false;
  /** Sequence number of a FIN that arrived out of order, -1 none. */
  finSeq = -1;
  /** Urgent pointer (RFC 6093: sequence after the last urgent byte), -1 none. */
  up = -1;
  /** An ACK is owed now. */
  ackNow = false;
  /**
   * The owed ACK is the handshake's third segment, held for the application's first turn so
   * that its first data or FIN carries it (see `TcpLayer.holdHandshakeAck`).
   */
  ackHeld = false;
  /** The held handshake ACK rode on data or a FIN (the hold paid; read by ack_hold.ts). */
  ackCarried = false;
  /** When the handshake ACK went alone (clock ms) while its first data may follow, else -1. */
  ackAloneAt = -1;
  /** No stretch ACKs (ack_policy.ts) until RCV.NXT passes this (after out-of-order data), -1 none. */
  stretchAfter = -1;
  /** When in-order data last arrived (clock ms), -Infinity none: the idle rule of ack_policy.ts. */
  dataAt = -Infinity;
  /** Segments received since the last ACK (RFC 1122 4.2.3.2: ACK every second one). */
  unacked = 0;
  /** RCV.NXT carried by the last ACK sent (RFC 7323 4.3 Last.ACK.sent). */
  lastAckSent = 0;
  /** A D-SACK block to report (RFC 2883) while dsackL !== dsackR. */
  dsackL = 0;
  /** Right edge of the pending D-SACK block. */
  dsackR = 0;
  /** TS.Recent (RFC 7323 4.3): the timestamp to echo. */
  tsRecent = 0;
  /** When TS.Recent was last set (RFC 7323 5.5 idle rule). */
  tsRecentAt = 0;
}

/**
 * The loss recovery state, one of: "open" (no recovery), "fast" (NewReno fast recovery, RFC
 * 6582), "sack" (recovery driven by the SACK scoreboard and pipe, RFC 6675 with PRR, RFC 6937)
 * or "rto" (retransmitting after a timeout until SND.UNA passes `recover`, RFC 6582 section 4).
 */
export type RecoveryState = "open" | "fast" | "sack" | "rto";

/** Loss detection and recovery: duplicate ACKs, recovery point, PRR, Eifel undo, SACK, RACK. */
export class Recovery {
  /** Where recovery stands (see {@link RecoveryState}). */
  state: RecoveryState = "open";
  /** In fast recovery, NewReno ("fast") or SACK-based ("sack"): cwnd is being reduced. */
  get fastRecovery(): boolean {
    return this.state === "fast" || this.state === "sack";
  }
  /** RFC 6582 `recover` / RFC 6675 RecoveryPoint: SND.MAX when recovery began. */
  recover = 0;
  /** Duplicate ACKs in a row (RFC 5681 section 2). */
  dupAcks = 0;
  /** Duplicate ACK threshold, raised when reordering is detected (as Linux tp->reordering). */
  dupThresh = 3;
  /** Segments limited transmit may add beyond cwnd (RFC 3042). */
  limitedTx = 0;
  /** Eifel (RFC 3522): TSval of the fast retransmission, -1 none. */
  undoTs = -1;
  /** cwnd before the reduction (restored by the Eifel undo, RFC 4015). */
  undoCwnd = 0;
  /** ssthresh before the reduction. */
  undoSsthresh = 0;
  /** PRR (RFC 6937): bytes delivered since recovery began. */
  prrDelivered = 0;
  /** PRR: bytes sent since recovery began. */
  prrOut = 0;
  /** PRR RecoverFS: the flight when recovery began. */
  recoverFs = 1;
  /** SACK scoreboard (RFC 6675), made on the first SACK block. */
  sb: SackScoreboard | null = null;
  /** Retransmissions of this SACK recovery (rtx_log.ts). */
  rtxLog: RtxLog | null = null;
  /** RACK state (RFC 8985), made with the first data sent when SACK is on. */
  rack: Rack | null = null;
}

/** The tail loss probe (RFC 8985 section 7). */
export class LossProbe {
  /** TLP.end_seq: SND.MAX when the probe went, -1 when no probe is out. */
  end = -1;
  /** The probe's first sequence number. */
  seq = 0;
  /** Whether the probe was a retransmission. */
  rtx = false;
  /** Un-SACKed data below this is lost (a SACKed probe, RFC 8985 7.4), -1 none. */
  lost = -1;
}

/** The timers of a connection, in the order `runTimers` (tcp_timers.ts) serves them. */
// TcpConnection.deadline() (connection.ts) reads these fields one by one: keep it in step.
export const TIMERS = ["timeWait", "pto", "rack", "rtx", "persist", "keep", "delack"] as const;

/** The name of one timer. */
export type TimerName = typeof TIMERS[number];

/** Deadlines (ms, {@link NEVER} when not armed) and the counters that go with them. */
export class Timers {
  /** 2 MSL (RFC 9293 3.10.7.4): the orphaned FIN-WAIT-2 timeout; TIME-WAIT's expiry on entry. */
  timeWait = NEVER;
  /** Tail loss probe (RFC 8985 section 7). */
  pto = NEVER;
  /** RACK reordering timer (RFC 8985 6.2 step 5). */
  rack = NEVER;
  /** Retransmission (RFC 6298 section 5). */
  rtx = NEVER;
  /** Persist (RFC 9293 3.8.6.1). */
  persist = NEVER;
  /** Keepalive (RFC 1122 4.2.3.6). */
  keep = NEVER;
  /** Delayed ACK (RFC 1122 4.2.3.2). */
  delack = NEVER;
  /** Consecutive retransmission timeouts (or SYN retransmissions). */
  retries = 0;
  /** Exponent of the persist timer's backoff. */
  persistBackoff = 0;
  /** Unanswered keepalive probes. */
  keepProbes = 0;
  /** Time of the last forward progress (the user timeout counts from here, RFC 5482). */
  progressAt = 0;
  /** When forward progress next confirms the peer's neighbour entry (neigh_confirm.ts). */
  confirmAt = 0;
}

/** Statistics of one connection (`TcpConnection.info()`). */
export class ConnStats {
  /** Payload bytes received in order. */
  bytesIn = 0;
  /** Payload bytes sent, retransmissions included. */
  bytesOut = 0;
  /** Segments received. */
  segsIn = 0;
  /** Segments sent. */
  segsOut = 0;
  /** Segments sent again. */
  retransmits = 0;
  /** Zero-window probes sent. */
  zeroWindowProbes = 0;
  /** Drops by reason. */
  drops: Record<string, number> = {};
}
