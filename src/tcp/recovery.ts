/**
 * Entering and leaving loss recovery: fast retransmit on DupThresh duplicate ACKs (RFC 5681
 * 3.2) or on a scoreboard that shows the first segment lost (RFC 6675 section 5 step 3),
 * NewReno recovery when the peer gives no SACK information (RFC 6582), limited transmit (RFC
 * 3042), and the Eifel undo of spurious retransmissions (RFC 3522 / 4015).
 *
 * While recovery runs with a scoreboard, nothing here transmits beyond the first
 * retransmission: the send loop sends what cwnd - pipe allows (RFC 6675 section 5 (C)).
 *
 * The scoreboard outlives a retransmission timeout (the go-back then resends only the holes,
 * RFC 6675 section 5.1, as Linux) unless the receiver reneged (RFC 2018 section 8): see
 * {@link onAckReneging} and {@link renegedAtTimeout}.
 *
 * @module
 */

import { seqDiff, seqGe, seqLt } from "../wire/seq.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import type { TcpConnection } from "./connection.ts";
import { dupThreshold, headLost, MAX_REORDERING, pipe as setPipe } from "./loss.ts";
import { retransmitHead } from "./tcp_output.ts";

/**
 * A duplicate ACK (RFC 5681 section 2, or RFC 6675 section 2: one carrying new SACK
 * information): fast retransmit at DupThresh, limited transmit before it.
 */
export function onDupAck(c: TcpConnection, now: number): void {
  c.rec.dupAcks++;
  if (c.rec.fastRecovery) {
    // RFC 5681 3.2 (4): NewReno inflates cwnd by one SMSS per duplicate. With a scoreboard,
    // pipe accounts for what left the network instead (RFC 6675 section 5).
    if (c.rec.state === "fast") c.cc.onDupAckInRecovery(c.snd.mss);
    return;
  }
  const thresh = dupThreshold(c);
  // RFC 3042 limited transmit: the first two duplicate ACKs each release one new segment.
  if (c.rec.dupAcks < thresh) c.rec.limitedTx = Math.min(c.rec.dupAcks, 2);
  // RFC 6582 3.2 (2): enter only when the cumulative ACK covers more than `recover`, the
  // highest sequence sent then (we keep SND.MAX, one past it: hence SND.UNA >= recover).
  if (c.rec.dupAcks >= thresh && seqGe(c.snd.una, c.rec.recover)) enterRecovery(c, now);
}

/**
 * After an ACK outside recovery: RFC 6675 section 5 step (3): the scoreboard alone may show
 * the first segment lost (DupThresh segments SACKed above it), whatever the duplicate count.
 */
export function checkScoreboardLoss(c: TcpConnection, now: number): void {
  if (c.rec.fastRecovery || c.snd.max === c.snd.una || !seqGe(c.snd.una, c.rec.recover)) return;
  if (headLost(c, now)) enterRecovery(c, now);
}

/** Fast retransmit and enter recovery (RFC 5681 3.2 steps 2-3, RFC 6675 section 5 step 4). */
function enterRecovery(c: TcpConnection, now: number): void {
  c.rec.limitedTx = 0;
  const cw = c.cc.cwnd, ss = c.cc.ssthresh;
  c.cc.enterRecovery(seqDiff(c.snd.max, c.snd.una), c.snd.mss, now);
  c.rec.recover = c.snd.max; // RFC 6675 RecoveryPoint = HighData, RFC 6582 recover
  c.rec.state = c.rec.sb !== null && c.rec.sb.count > 0 ? "sack" : "fast";
  // RFC 6675 (4.2) sets cwnd = ssthresh at once; PRR (RFC 6937, as Linux) instead lets the
  // window fall to ssthresh in proportion to what the receiver reports delivered (prrAck).
  if (c.rec.state === "sack") {
    c.rec.recoverFs = Math.max(seqDiff(c.snd.max, c.snd.una), 1);
    c.rec.prrDelivered = c.rec.prrOut = 0;
  }
  if (c.rec.sb) c.rec.sb.highRxt = c.snd.una;
  c.rec.rtxLog?.clear();
  // Eifel detection (RFC 3522): remember the retransmission's TSval and what to restore.
  c.rec.undoTs = c.tsOk ? now >>> 0 : -1;
  c.rec.undoCwnd = cw;
  c.rec.undoSsthresh = ss;
  c.host.count("tcp-fast-retransmit");
  retransmitHead(c, now); // RFC 6675 (4.3): the segment at HighACK + 1
}

/**
 * An ACK advancing SND.UNA while in recovery. `sackSpan` is how far above the old SND.UNA the
 * receiver had SACKed before this ACK (the reordering degree if the fill was the original).
 */
export function onRecoveryAck(
  c: TcpConnection,
  seg: TcpSegment,
  acked: number,
  sackSpan: number,
  now: number,
): void {
  const mss = c.snd.mss;
  if (c.rec.undoTs >= 0 && seg.hasTs) {
    if (seqLt(seg.tsEcr, c.rec.undoTs)) {
      // RFC 3522: the ACK echoes a timestamp older than the retransmission: the original
      // arrived, the retransmission was spurious (reordering). Undo the reduction (RFC 4015)
      // and tolerate the reordering seen (as Linux raises tp->reordering to the measured
      // degree, up to tcp_max_reordering).
      c.rec.state = "open";
      c.rec.rtxLog?.clear();
      c.tlp.lost = -1;
      c.rec.rack?.widen(now, c.rtt.srtt); // RFC 8985 6.2 step 4: wider reordering window
      c.cc.cwnd = Math.max(c.cc.cwnd, c.rec.undoCwnd);
      c.cc.ssthresh = Math.max(c.cc.ssthresh, c.rec.undoSsthresh);
      // The degree: segments SACKed above the hole, or without SACK the duplicates seen.
      const degree = Math.max(Math.ceil(sackSpan / mss), c.rec.dupAcks) + 1;
      c.rec.dupThresh = Math.min(Math.max(c.rec.dupThresh + 1, degree), MAX_REORDERING);
      c.rec.recover = c.snd.una;
      c.host.count("tcp-spurious-retransmit");
      c.rec.undoTs = -1;
      return;
    }
    c.rec.undoTs = -1;
  }
  if (!seqLt(seg.ack, c.rec.recover)) {
    // RFC 6582 3.2 (3) full acknowledgment / RFC 6675 section 5: recovery ends.
    c.rec.state = "open";
    c.rec.rtxLog?.clear();
    c.tlp.lost = -1;
    c.rec.rack?.recoveryDone();
    c.cc.exitRecovery(seqDiff(c.snd.max, c.snd.una), mss);
  } else if (c.rec.state === "fast") {
    c.cc.onPartialAck(acked, mss);
    retransmitHead(c, now); // RFC 6582 3.2 (3): the first unacknowledged segment
  }
  // With a scoreboard a partial ACK changes nothing here: the send loop repairs the next
  // holes as pipe allows (RFC 6675 section 5 (C)).
}

/**
 * After each ACK of a SACK recovery: retransmissions still missing while data sent after them
 * arrived are lost as well (RFC 8985 section 6.2's rule, for retransmissions), and are sent
 * again ahead of other holes instead of waiting for the RTO.
 */
export function watchRetransmissions(c: TcpConnection, now: number): void {
  const log = c.rec.rtxLog, sb = c.rec.sb;
  if (log === null || sb === null || log.count === 0) return;
  if (log.update(now, c.rtt.srtt, sb, c.snd.una) > 0) c.host.count("tcp-lost-retransmit");
}

/**
 * Proportional rate reduction (RFC 6937 section 3), once per ACK of a SACK recovery, after the
 * scoreboard is updated: `delivered` is what this ACK newly acknowledged or SACKed. While pipe
 * is above ssthresh, send ssthresh / RecoverFS of what is delivered; below it, grow back to
 * ssthresh no faster than slow start (PRR-SSRB). cwnd becomes pipe + that much, so the send
 * loop's cwnd - pipe (RFC 6675 section 5 (C)) is exactly PRR's sndcnt. At least one segment
 * goes when nothing was sent yet in this recovery (as Linux).
 */
export function prrAck(c: TcpConnection, delivered: number, now: number): void {
  const mss = c.snd.mss, ss = c.cc.ssthresh;
  c.rec.prrDelivered += delivered;
  const pipe = setPipe(c, now);
  let sndcnt: number;
  if (pipe > ss) {
    sndcnt = Math.ceil((c.rec.prrDelivered * ss) / c.rec.recoverFs) - c.rec.prrOut;
  } else {
    const limit = Math.max(c.rec.prrDelivered - c.rec.prrOut, delivered) + mss;
    sndcnt = Math.min(ss - pipe, limit);
  }
  if (sndcnt < (c.rec.prrOut === 0 ? mss : 0)) sndcnt = c.rec.prrOut === 0 ? mss : 0;
  c.cc.cwnd = pipe + sndcnt;
}

/**
 * After an ACK that advanced SND.UNA (`c.snd.una` is the new value): when the cumulative ACK
 * stops at data the receiver SACKed before, the receiver discarded it (reneged, RFC 2018
 * section 8). As Linux (tcp_check_sack_reneging), the retransmission timer is brought forward
 * to max(SRTT / 2, 10 ms) instead of a whole RTO: later ACKs may still cover that data, and
 * otherwise the timeout forgets the scoreboard ({@link renegedAtTimeout}) and the go-back
 * resends the discarded data. Returns whether reneging is suspected.
 */
export function onAckReneging(c: TcpConnection, now: number): boolean {
  const sb = c.rec.sb;
  if (sb === null || !sb.headSacked(c.snd.una) || c.snd.una === c.snd.max) return false;
  const at = now + Math.max(Math.ceil(c.rtt.srtt / 2), RENEGING_DELAY_MS);
  if (at < c.timers.rtx) c.arm("rtx", at);
  return true;
}

/** Linux's floor of the timer after suspected reneging (msecs_to_jiffies(10)). */
const RENEGING_DELAY_MS = 10;

/**
 * At a retransmission timeout: RFC 6675 section 5.1 lets the scoreboard survive a timeout when
 * reneging is tested for; Linux keeps it unless the segment at SND.UNA is marked SACKed
 * (tcp_timeout_mark_lost). Then the receiver reneged (RFC 2018 section 8: it discarded data it
 * had SACKed) and every SACK mark is forgotten, so that the go-back resends that data. Returns
 * whether the scoreboard was cleared.
 */
export function renegedAtTimeout(c: TcpConnection): boolean {
  const sb = c.rec.sb;
  if (sb === null || !sb.headSacked(c.snd.una)) return false;
  sb.clear();
  c.host.count("tcp-sack-reneging");
  return true;
}
