/**
 * The explaining SEQ/ACK ladder, shared by `deno task ladder`, the demos and the tests: one
 * line per segment with the options of the SYNs spelled out (MSS, WS, SACK_PERM, TS), windows
 * shown scaled (`WIN=63 (x1024 = 64512)`), the arithmetic of each ACK (`ACK 201 = 101 + 100
 * bytes`), and marks for zero windows, window updates, duplicate ACKs, zero-window probes and
 * retransmissions, in both directions.
 *
 * Input is any list of segments in time order: decoded from a pcap (`pcap_read.ts`) or events
 * of the trace API (`stack.trace()`), which also carry the window already scaled.
 *
 * @module
 */

import { flagNames, type SegmentInfo } from "../src/api/trace_segment.ts";
import { seqAdd, seqDiff, seqGt, seqLt, seqMax } from "../src/wire/seq.ts";
import { F_ACK, F_FIN, F_RST, F_SYN } from "../src/wire/layout.ts";

/** A segment the ladder can explain. */
export interface LadderSegment extends SegmentInfo {
  /** Time in ms (any origin). */
  time: number;
  /** The window in bytes when the source already knows it (trace events), else computed. */
  windowScaled?: number | null;
}

/** One connection of a capture or trace: the client opened it (sent the first SYN). */
export interface LadderConn<S extends LadderSegment = LadderSegment> {
  /** "ip:port" of the side that sent the SYN (or of the first segment's sender). */
  client: string;
  /** The other side. */
  server: string;
  /** Its segments, in order. */
  segments: S[];
}

/** Group segments into connections by their four-tuple, in order of first appearance. */
export function splitConnections<S extends LadderSegment>(segments: S[]): LadderConn<S>[] {
  const byKey = new Map<string, LadderConn<S>>();
  for (const s of segments) {
    const key = s.src < s.dst ? `${s.src} ${s.dst}` : `${s.dst} ${s.src}`;
    let c = byKey.get(key);
    if (!c) {
      const fromServer = (s.flags & (F_SYN | F_ACK)) === (F_SYN | F_ACK);
      c = {
        client: fromServer ? s.dst : s.src,
        server: fromServer ? s.src : s.dst,
        segments: [],
      };
      byKey.set(key, c);
    }
    c.segments.push(s);
  }
  return [...byKey.values()];
}

/** What the ladder remembers of one direction. */
interface Side {
  /** Window scale shift announced in this side's SYN, -1 none seen. */
  ws: number;
  synSeen: boolean;
  /** Highest sequence sent + 1 (after data, SYN, FIN), -1 nothing yet. */
  nxt: number;
  /** Last ACK sent, -1 none. */
  lastAck: number;
  /** Last window sent (bytes when known, else raw), -1 none. */
  lastWin: number;
  dupAcks: number;
  /** MSS announced in this side's SYN, -1 none. */
  mss: number;
  /** The full-size segment was explained already. */
  mssTold: boolean;
  /** Segments by the sequence number just after them, for the ACK arithmetic (bounded). */
  ends: Map<number, LadderSegment>;
}

const ENDS_LIMIT = 4096;

function side(): Side {
  return {
    ws: -1,
    synSeen: false,
    nxt: -1,
    lastAck: -1,
    lastWin: -1,
    dupAcks: 0,
    mss: -1,
    mssTold: false,
    ends: new Map(),
  };
}

/**
 * The connection with sequence numbers relative to each side's ISN (its SYN's SEQ is 0), as
 * Wireshark shows them; a side whose SYN is not in the segments counts from its first SEQ.
 */
export function relativeSeq<S extends LadderSegment>(conn: LadderConn<S>): LadderConn<S> {
  const base = new Map<string, number>();
  for (const s of conn.segments) if (s.flags & F_SYN) base.set(s.src, s.seq);
  for (const s of conn.segments) if (!base.has(s.src)) base.set(s.src, s.seq);
  const rel = (who: string, q: number): number => {
    const b = base.get(who);
    return b === undefined ? q : seqDiff(q, b) >>> 0;
  };
  return {
    ...conn,
    segments: conn.segments.map((s) => ({
      ...s,
      seq: rel(s.src, s.seq),
      ack: s.flags & F_ACK ? rel(s.dst, s.ack) : s.ack,
      options: {
        ...s.options,
        sack: s.options.sack.map(([l, r]): [number, number] => [rel(s.dst, l), rel(s.dst, r)]),
      },
    })),
  };
}

/** Whether a segment this side sent before overlaps [seq, seq+n). */
function sentBefore(me: Side, seq: number, n: number): boolean {
  const end = seqAdd(seq, n);
  for (const [e, s] of me.ends) {
    if (seqLt(s.seq, end) && seqGt(e, seq)) return true;
  }
  return false;
}

/** Options of `explainLadder`. */
export interface LadderOptions {
  /** Print the time column (ms since the first segment). Default true. */
  times?: boolean;
  /** At most this many segment lines (0: all). Default 0. */
  max?: number;
}

/** Sequence space a segment takes: payload, plus one for SYN and one for FIN. */
function seqLen(s: SegmentInfo): number {
  return s.len + (s.flags & F_SYN ? 1 : 0) + (s.flags & F_FIN ? 1 : 0);
}

function optionText(s: SegmentInfo): string {
  const o = s.options;
  const parts: string[] = [];
  if (o.mss !== undefined) parts.push(`MSS=${o.mss}`);
  if (o.wscale !== undefined) parts.push(`WS=${o.wscale} (x${2 ** o.wscale})`);
  if (o.sackPermitted) parts.push("SACK_PERM");
  if (o.timestamps && s.flags & F_SYN) {
    parts.push(`TS val=${o.timestamps.val} ecr=${o.timestamps.ecr}`);
  }
  if (o.sack.length > 0) parts.push(`SACK ${o.sack.map(([l, r]) => `${l}-${r}`).join(" ")}`);
  return parts.length ? ` <${parts.join(" ")}>` : "";
}

/** "ACK 201 = 101 + 100 bytes" for an ACK that moved, from the segment it acknowledges. */
function ackArithmetic(ack: number, acked: LadderSegment | undefined, moved: number): string {
  if (!acked) return `ACK ${ack}: ${moved} bytes newly acknowledged`;
  const terms = [`${acked.seq}`];
  if (acked.flags & F_SYN) terms.push("1 (SYN)");
  if (acked.len > 0) terms.push(`${acked.len} bytes`);
  if (acked.flags & F_FIN) terms.push("1 (FIN)");
  const more = moved > seqLen(acked) ? `, ${moved} bytes acknowledged in all` : "";
  return `ACK ${ack} = ${terms.join(" + ")}${more}`;
}

/**
 * The ladder of one connection as text lines: a header naming the two ends, then one line per
 * segment, `C --> S` for the client's and `C <-- S` for the server's.
 */
export function explainLadder(conn: LadderConn, options: LadderOptions = {}): string[] {
  const times = options.times ?? true;
  const max = options.max ?? 0;
  const c = side();
  const s = side();
  const out = [`  C = client ${conn.client}, S = server ${conn.server}`];
  const t0 = conn.segments[0]?.time ?? 0;
  let shown = 0;
  for (const seg of conn.segments) {
    const fromClient = seg.src === conn.client;
    const me = fromClient ? c : s;
    const peer = fromClient ? s : c;
    const notes: string[] = [];
    const f = seg.flags;
    const syn = (f & F_SYN) !== 0;
    if (syn) {
      me.synSeen = true;
      me.ws = seg.options.wscale ?? -1;
      me.mss = seg.options.mss ?? -1;
    }
    // Window: never scaled in a SYN (RFC 7323 2.2); scaled by the sender's shift once both
    // SYNs carried the option (2.3).
    let win: string;
    let winBytes: number;
    if (seg.windowScaled !== undefined && seg.windowScaled !== null) {
      winBytes = seg.windowScaled;
      win = winBytes === seg.window
        ? `WIN=${seg.window}`
        : `WIN=${seg.window} (x${Math.round(winBytes / Math.max(seg.window, 1))} = ${winBytes})`;
      if (seg.window === 0) win = "WIN=0";
    } else if (syn || f & F_RST || (me.synSeen && peer.synSeen && (me.ws < 0 || peer.ws < 0))) {
      winBytes = seg.window;
      win = `WIN=${seg.window}`;
    } else if (me.synSeen && peer.synSeen) {
      winBytes = seg.window * 2 ** me.ws;
      win = me.ws === 0 ? `WIN=${seg.window}` : `WIN=${seg.window} (x${2 ** me.ws} = ${winBytes})`;
    } else {
      winBytes = seg.window;
      win = `WIN=${seg.window} (scale unknown: no SYN seen)`;
    }
    const pure = seg.len === 0 && !(f & (F_SYN | F_FIN | F_RST));
    // The ACK: its arithmetic when it moves, duplicates and window changes when it does not.
    if (f & F_ACK && !(f & F_RST)) {
      if (me.lastAck < 0 || seqGt(seg.ack, me.lastAck)) {
        const moved = me.lastAck < 0 ? seqLen(peer.ends.get(seg.ack) ?? seg) : seqDiff(
          seg.ack,
          me.lastAck,
        );
        notes.push(ackArithmetic(seg.ack, peer.ends.get(seg.ack), moved));
        me.dupAcks = 0;
      } else if (pure && seg.ack === me.lastAck) {
        if (seg.options.sack.length > 0) {
          notes.push(`DUP ACK #${++me.dupAcks}: SACK says what arrived beyond the gap`);
        } else if (winBytes !== me.lastWin) {
          notes.push(me.lastWin === 0 ? "WINDOW UPDATE: the window opens again" : "WINDOW UPDATE");
        } else if (peer.nxt >= 0 && seqLt(seg.ack, peer.nxt)) {
          notes.push(`DUP ACK #${++me.dupAcks}`);
        }
      }
      me.lastAck = seqMax(me.lastAck < 0 ? seg.ack : me.lastAck, seg.ack);
    }
    if (seg.window === 0 && !(f & F_RST)) notes.push("ZERO WINDOW: the sender must wait");
    me.lastWin = winBytes;
    // Data: a probe of a zero window, or a retransmission of bytes sent before.
    const n = seqLen(seg);
    if (n > 0) {
      if (peer.lastWin === 0 && !syn && seg.len <= 1) notes.push("ZERO WINDOW PROBE");
      else if (me.nxt >= 0 && seqLt(seg.seq, me.nxt)) {
        notes.push(sentBefore(me, seg.seq, n) ? "RETRANSMISSION" : "OUT OF ORDER: fills a gap");
      }
      const end = seqAdd(seg.seq, n);
      me.nxt = me.nxt < 0 || seqGt(end, me.nxt) ? end : me.nxt;
      if (me.ends.size >= ENDS_LIMIT) me.ends.delete(me.ends.keys().next().value!);
      me.ends.set(end, seg);
    } else if (pure && me.nxt >= 0 && seg.seq === seqAdd(me.nxt, -1)) {
      // An old sequence number draws an ACK: a probe of a zero window (RFC 9293 3.8.6.1, as
      // Linux sends it), or a keep-alive (RFC 9293 3.8.4).
      notes.push(peer.lastWin === 0 ? "ZERO WINDOW PROBE" : "KEEP-ALIVE");
    }
    // The first full-size segment: the peer's MSS, less 12 bytes when timestamps ride along
    // (RFC 7323 3.2: 10 bytes and 2 of padding, counted against the MSS, RFC 6691).
    if (!me.mssTold && peer.mss > 0 && seg.len > 0) {
      if (seg.len === peer.mss) {
        notes.push(`LEN ${seg.len} = the MSS the receiver announced`);
        me.mssTold = true;
      } else if (seg.options.timestamps && seg.len === peer.mss - 12) {
        notes.push(`LEN ${seg.len} = MSS ${peer.mss} - 12 bytes of timestamp option`);
        me.mssTold = true;
      }
    }
    if (f & F_RST) notes.push("RESET: the connection is aborted");
    if (seg.checksumBad) notes.push("bad checksum in capture (offload?)");
    if (max > 0 && shown >= max) {
      shown++;
      continue;
    }
    shown++;
    const label = `${flagNames(f)} SEQ=${seg.seq} ACK=${f & F_ACK ? seg.ack : "-"}` +
      (seg.len ? ` LEN=${seg.len}` : "") + ` ${win}${optionText(seg)}`;
    const time = times ? `${(seg.time - t0).toFixed(3).padStart(10)} ms  ` : "  ";
    const arrow = fromClient ? "C --> S" : "C <-- S";
    out.push(`${time}${arrow}  ${label}${notes.length ? `  [${notes.join("; ")}]` : ""}`);
  }
  if (max > 0 && shown > max) out.push(`  ... ${shown - max} more segments`);
  return out;
}
