/**
 * The bottleneck harness: goodput of the TCP engine in virtual time. Two TcpLayers joined by a
 * bottleneck link with a bandwidth, a propagation delay, seeded random loss, seeded reordering
 * (a held segment is overtaken by the ones behind it), an optional burst loss and lost
 * retransmissions. One direction carries a patterned byte stream that the reader verifies
 * byte for byte. The same transfer through whole stacks is in bottleneck_stack.ts.
 *
 * Used by the goodput tests (tests/tcp/ext_*.test.ts) and by `tools/goodput_table.ts`, which
 * prints the tables.
 *
 * @module
 */

import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { F_SYN, RX_OFF, TX_PAYLOAD_OFF } from "../../src/wire/layout.ts";
import { makeIsn } from "../../src/tcp/isn.ts";
import { type TcpConnection, TcpLayer } from "../../src/tcp/tcp_layer.ts";
import type { TcpOptions } from "../../src/tcp/types.ts";
import type { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { seqGe } from "../../src/wire/seq.ts";
import { rng } from "./rng.ts";
import { copySegment } from "./segment.ts";

/** One goodput run. */
export interface GoodputCase {
  /** Congestion control of the sender. */
  congestion: "newreno" | "cubic";
  /** SACK offered by both sides. */
  sack: boolean;
  /** Probability that a segment (either direction) is lost. */
  loss: number;
  /** Probability that a data segment is held `reorderMs` longer (overtaken by later ones). */
  reorder: number;
  /** Extra hold of a reordered segment (default 0.3 ms: about 2.5 segments at 100 Mbit/s). */
  reorderMs?: number;
  /** Bytes to transfer. */
  bytes: number;
  /** PRNG seed of the faults. */
  seed: number;
  /** Bottleneck rate in Mbit/s, each direction (default 100). */
  rateMbit?: number;
  /** Round-trip propagation delay in ms (default 10). */
  rttMs?: number;
  /** Drop `count` consecutive first-transmission data segments starting at data segment `at`. */
  burst?: { at: number; count: number };
  /** Drop the first `n` retransmitted data segments as well (a lost retransmission). */
  dropRetransmits?: number;
  /** More TCP options for both ends (for example `{ rack: false }`). */
  tcp?: Partial<TcpOptions>;
  /** Timestamps offered (default true). */
  timestamps?: boolean;
  /** Limit of virtual time in ms (default 600000). */
  maxMs?: number;
  /**
   * Lower the receiver's window field by 0..3 units on successive ACKs, as a Linux receiver's
   * window moves on its duplicate ACKs (never overstating the free space).
   */
  wobbleWindow?: boolean;
  /** Called for every data segment the sender emits and every segment it receives. */
  trace?: (ev: TraceEvent) => void;
}

/** A sender-side event of {@link GoodputCase.trace}. */
export interface TraceEvent {
  /** Virtual ms. */
  at: number;
  /** "send": a data segment left the sender (before the link's faults); "ack": one arrived. */
  kind: "send" | "ack";
  /** Sequence number and payload length (send). */
  seq: number;
  /** Payload bytes (send). */
  len: number;
  /** First transmission of these bytes (send). */
  fresh: boolean;
  /** Acknowledgment number (ack). */
  ack: number;
  /** SACK blocks carried (ack). */
  sackCount: number;
  /** Raw window field (ack). */
  wnd: number;
}

/** What a run measured. */
export interface GoodputResult {
  /** Every byte arrived, in order, intact, and the reader saw EOF. */
  exact: boolean;
  /** First wrong byte offset, -1 when none. */
  badAt: number;
  /** Bytes read by the receiver. */
  received: number;
  /** Virtual ms from the sender's ESTABLISHED to the last byte read. */
  ms: number;
  /** Goodput in Mbit/s (payload bits / ms / 1000). */
  mbit: number;
  /** Sender retransmissions (info().retransmits). */
  retransmits: number;
  /** Sender retransmission timeouts (layer counter tcp-rto). */
  rtos: number;
  /** Segments the link dropped (random and burst). */
  dropped: number;
  /** Segments the link reordered. */
  reordered: number;
  /** The sender's layer counters (tcp-rto, tcp-fast-retransmit, tcp-lost-retransmit, ...). */
  counters: Record<string, number>;
  /** The receiver's layer counters (tcp-rcv-duplicate: data that arrived twice). */
  receiverCounters: Record<string, number>;
  /** Smoothed RTT of the sender at the end (ms). */
  srttMs: number;
  /** Burst loss: ms from sending the first lost segment to the ACK covering the burst. */
  burstRecoveryMs: number;
  /** Burst loss: ms from the first duplicate or SACK-carrying ACK at the hole to that ACK. */
  burstRepairMs: number;
  /** Burst loss: the sender's smoothed RTT when the hole was first reported. */
  burstSrttMs: number;
  /** Burst loss: the path's RTT when the hole was reported (propagation + bottleneck queue). */
  burstPathRttMs: number;
}

interface Pkt {
  at: number;
  order: number;
  toB: boolean;
  seg: TcpSegment;
  data: Uint8Array | null;
}

/** Byte `i` of the test stream. */
export function pat(i: number): number {
  return (i * 131 + (i >>> 8) * 7 + 17) & 0xff;
}

const IP_A = 0x0a000001;
const IP_B = 0x0a000002;

/** Run one transfer a -> b and measure it. Deterministic for a given case. */
export function runGoodput(c: GoodputCase): GoodputResult {
  const rand = rng(c.seed);
  const bytesPerMs = (c.rateMbit ?? 100) * 1000 / 8;
  const oneWay = (c.rttMs ?? 10) / 2;
  const reorderMs = c.reorderMs ?? 0.3;
  const ea = createJsEngine(), eb = createJsEngine();
  const q: Pkt[] = [];
  let order = 0, now = 1000, dropped = 0, reordered = 0;
  const busy = { a: 0, b: 0 };
  let wobble = 0;
  let dataSegs = 0; // first transmissions of data from a
  let highSent = -1; // highest end sequence sent by a (first transmissions)
  let burstFirstAt = -1,
    burstStart = -1,
    burstEnd = -1,
    burstReportedAt = -1,
    burstSrtt = 0,
    burstPathRtt = 0,
    burstDoneAt = -1;
  let client: TcpConnection | null = null;

  let droppedRtx = 0;
  const send = (fromA: boolean, seg: TcpSegment, ring: number): boolean => {
    const e = fromA ? ea : eb;
    let data: Uint8Array | null = null;
    if (seg.payloadLen > 0) {
      e.sndCopy(ring, seg.seq, seg.payloadLen, TX_PAYLOAD_OFF);
      data = e.mem.slice(TX_PAYLOAD_OFF, TX_PAYLOAD_OFF + seg.payloadLen);
    }
    const end = (seg.seq + seg.payloadLen) >>> 0;
    const fresh = fromA && seg.payloadLen > 0 && (highSent < 0 || !seqGe(highSent, end));
    if (c.trace && fromA && seg.payloadLen > 0) {
      c.trace({
        at: now,
        kind: "send",
        seq: seg.seq >>> 0,
        len: seg.payloadLen,
        fresh,
        ack: 0,
        sackCount: 0,
        wnd: 0,
      });
    }
    if (fromA && seg.payloadLen > 0 && !fresh && droppedRtx < (c.dropRetransmits ?? 0)) {
      droppedRtx++;
      dropped++;
      return true;
    }
    if (fresh) {
      highSent = end;
      const k = dataSegs++;
      if (c.burst && k >= c.burst.at && k < c.burst.at + c.burst.count) {
        if (burstFirstAt < 0) {
          burstFirstAt = now;
          burstStart = seg.seq >>> 0;
        }
        burstEnd = end;
        dropped++;
        return true;
      }
    }
    if (c.loss > 0 && !(seg.flags & F_SYN) && rand() < c.loss) {
      dropped++;
      return true;
    }
    // Serial bottleneck: a segment leaves after the ones before it, then propagates.
    const key = fromA ? "a" : "b";
    const start = Math.max(now, busy[key]);
    busy[key] = start + (seg.payloadLen + 52) / bytesPerMs;
    let at = busy[key] + oneWay;
    if (c.reorder > 0 && seg.payloadLen > 0 && rand() < c.reorder) {
      at += reorderMs;
      reordered++;
    }
    const copy = copySegment(seg);
    if (c.wobbleWindow && !fromA && copy.wnd > 4) copy.wnd -= wobble++ & 3;
    const p: Pkt = { at, order: order++, toB: fromA, seg: copy, data };
    let i = q.length;
    while (i > 0 && (q[i - 1]!.at > at || (q[i - 1]!.at === at && q[i - 1]!.order > p.order))) i--;
    q.splice(i, 0, p);
    return true;
  };
  const tx = (fromA: boolean) => ({
    sendTcp: (seg: TcpSegment, ring: number): boolean => send(fromA, seg, ring),
    pathMtu: (_ip: number): number => 1500,
    sourceFor: (ip: number): number => (ip === IP_A || ip === IP_B ? (fromA ? IP_A : IP_B) : -1),
  });
  const opt = {
    // The recovery figures are calibrated for a fixed 256 KiB window: auto-tuning would let a
    // 1 MiB transfer fit in one window (its last hole repaired by the final ACK). A case may
    // turn it back on.
    autotune: false,
    ...c.tcp,
    sack: c.sack,
    timestamps: c.timestamps ?? true,
    congestion: c.congestion,
  } as const;
  const key = (k: number) => new Uint32Array([c.seed, k, 0x9e3779b9, c.seed ^ k]);
  const a = new TcpLayer(ea, tx(true), { ...opt, isn: makeIsn(key(1)) });
  const b = new TcpLayer(eb, tx(false), { ...opt, isn: makeIsn(key(2)) });
  const lis = b.listen(0, 5001);
  const cl = a.connect(IP_B, 5001, now);
  client = cl;
  let server: TcpConnection | null = null;
  let written = 0, received = 0, badAt = -1, startAt = -1, endAt = -1;
  const chunk = new Uint8Array(65536), rbuf = new Uint8Array(65536);

  const pump = (): void => {
    if (startAt < 0 && cl.state === "ESTABLISHED") startAt = now;
    while (written < c.bytes && cl.writable > 0) {
      const n = Math.min(chunk.length, c.bytes - written, cl.writable);
      for (let i = 0; i < n; i++) chunk[i] = pat(written + i);
      const w = cl.write(chunk.subarray(0, n));
      written += w;
      if (w < n) break;
    }
    if (written === c.bytes && cl.state === "ESTABLISHED") cl.shutdownWrite();
    server ??= lis.accept();
    if (!server) return;
    for (;;) {
      const n = server.read(rbuf);
      if (n === 0) break;
      for (let i = 0; i < n; i++) {
        if (badAt < 0 && rbuf[i] !== pat(received + i)) badAt = received + i;
      }
      received += n;
    }
    if (endAt < 0 && received === c.bytes && server.readEof) endAt = now;
  };

  let lastAckToA = -1;
  const deliver = (p: Pkt): void => {
    const s = p.seg;
    const e = p.toB ? eb : ea;
    if (p.data) e.mem.set(p.data, RX_OFF);
    s.payloadOff = RX_OFF;
    if (!p.toB && burstEnd >= 0 && burstDoneAt < 0) {
      // ACKs to the sender: note when the hole was first reported and when it was covered.
      if (seqGe(s.ack, burstEnd)) burstDoneAt = now;
      else if (
        burstReportedAt < 0 && s.ack === burstStart && (s.sackCount > 0 || lastAckToA === s.ack)
      ) {
        burstReportedAt = now;
        burstSrtt = client?.info().srttMs ?? 0;
        burstPathRtt = 2 * oneWay + Math.max(0, busy.a - now);
      }
    }
    if (!p.toB) lastAckToA = s.ack;
    if (c.trace && !p.toB) {
      c.trace({
        at: now,
        kind: "ack",
        seq: 0,
        len: 0,
        fresh: false,
        ack: s.ack >>> 0,
        sackCount: s.sackCount,
        wnd: s.wnd,
      });
    }
    (p.toB ? b : a).input(s, now);
  };

  const limit = now + (c.maxMs ?? 600000);
  for (let round = 0; round < 20_000_000 && endAt < 0; round++) {
    pump();
    a.poll(now);
    b.poll(now);
    const t = Math.min(q.length ? q[0]!.at : Infinity, a.pollAt(), b.pollAt());
    if (t === Infinity || t > limit) break;
    if (t > now) now = t;
    while (q.length && q[0]!.at <= now) deliver(q.shift()!);
    a.poll(now);
    b.poll(now);
  }
  pump();
  const info = cl.info();
  const ms = endAt >= 0 && startAt >= 0 ? endAt - startAt : NaN;
  return {
    exact: received === c.bytes && badAt < 0 && endAt >= 0,
    badAt,
    received,
    ms,
    mbit: (received * 8) / ms / 1000,
    retransmits: info.retransmits,
    rtos: a.stats()["tcp-rto"] ?? 0,
    dropped,
    reordered,
    counters: a.stats(),
    receiverCounters: b.stats(),
    srttMs: info.srttMs,
    burstRecoveryMs: burstDoneAt >= 0 ? burstDoneAt - burstFirstAt : NaN,
    burstRepairMs: burstDoneAt >= 0 && burstReportedAt >= 0 ? burstDoneAt - burstReportedAt : NaN,
    burstSrttMs: burstSrtt,
    burstPathRttMs: burstPathRtt,
  };
}

/** Rows of the goodput table: loss rates, then pure reordering. */
export const TABLE_ROWS: ReadonlyArray<{ label: string; loss: number; reorder: number }> = [
  { label: "loss 0%", loss: 0, reorder: 0 },
  { label: "loss 0.1%", loss: 0.001, reorder: 0 },
  { label: "loss 1%", loss: 0.01, reorder: 0 },
  { label: "loss 5%", loss: 0.05, reorder: 0 },
  { label: "reorder 5% +0.3 ms", loss: 0, reorder: 0.05 },
  { label: "reorder 5% +2 ms", loss: 0, reorder: 0.05 },
];
