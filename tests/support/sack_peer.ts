/**
 * A scripted receiver for sans-I/O tests of the sender's loss recovery: it stands in for side b
 * of a {@link TcpPair} (whose own traffic is blackholed), receives the data segments side a
 * sends (or loses them, as the script says), and answers each with an ACK carrying the
 * cumulative acknowledgment and SACK blocks as RFC 2018 section 4 builds them (the block of the
 * segment just received first, then the others), delivered one RTT later. It can go silent,
 * and renege (discard the out-of-order data it SACKed, RFC 2018 section 8).
 *
 * It watches the sender as well: every data segment that repeats sequence space already sent
 * is logged with the bytes of it that a SACK block delivered to the sender before it was sent
 * covered (`sackedBytes`), so a test can assert that retransmissions are only the holes.
 *
 * @module
 */

import { F_ACK, F_FIN } from "../../src/wire/layout.ts";
import type { TcpSegment } from "../../src/wire/tcp_segment.ts";
import type { TcpConnection } from "../../src/tcp/tcp_layer.ts";
import type { TcpPair } from "./tcp_pair.ts";
import { segment } from "./segment.ts";

/** One retransmission seen, in bytes relative to the sender's SND.UNA when the peer started. */
export interface Resent {
  /** Virtual time it was sent. */
  at: number;
  /** First byte (relative). */
  from: number;
  /** One past the last byte (relative). */
  to: number;
  /** Bytes of it SACKed to the sender before it was sent. */
  sackedBytes: number;
  /** The sender's recovery state then. */
  state: string;
  /** Retransmission timeouts of the sender so far. */
  rtos: number;
}

/** Whether the peer loses a data segment: [from, to) relative, the nth data segment seen. */
export type LossScript = (from: number, to: number, nth: number, at: number) => boolean;

type Range = [number, number];

/** Add [l, r) to sorted disjoint ranges, merging. */
function addRange(rs: Range[], l: number, r: number): void {
  rs.push([l, r]);
  rs.sort((x, y) => x[0] - y[0]);
  const out: Range[] = [];
  for (const x of rs) {
    const last = out[out.length - 1];
    if (last && x[0] <= last[1]) last[1] = Math.max(last[1], x[1]);
    else out.push([x[0], x[1]]);
  }
  rs.splice(0, rs.length, ...out);
}

/** Bytes of [l, r) inside the ranges. */
function overlap(rs: readonly Range[], l: number, r: number): number {
  let n = 0;
  for (const [a, b] of rs) n += Math.max(0, Math.min(b, r) - Math.max(a, l));
  return n;
}

/** The scripted receiver of side a's data. */
export class SackPeer {
  /** Relative byte ranges held (the first one starts at 0 once anything arrived in order). */
  readonly held: Range[] = [];
  /** Retransmissions the sender made. */
  readonly resent: Resent[] = [];
  /** Sequence number of the sender's SND.UNA when the peer started (relative 0). */
  readonly base: number;
  /** Data segments seen (lost ones included). */
  seen = 0;
  /** While true, nothing is received and nothing is answered. */
  silent = false;
  /** Relative sequence of the sender's FIN once it arrived. */
  fin = -1;
  /** Blocks reported to the sender (above the cumulative ACK it got), as it was told them. */
  #told: Range[] = [];
  #toldAck = 0;
  #high = 0;
  #scanned: number;
  #last: Range = [0, 0];
  #lastTs = 0;
  #q: { at: number; seg: TcpSegment; ack: number; blocks: Range[] }[] = [];

  /**
   * Take over side b of `p` for the connection `c` (side a). `rttMs`: the delay of each ACK;
   * `lose`: which data segments the peer loses.
   */
  constructor(
    readonly p: TcpPair,
    readonly c: TcpConnection,
    readonly lose: LossScript = () => false,
    readonly rttMs = 10,
  ) {
    p.blackhole.a = p.blackhole.b = true;
    this.base = c.snd.una;
    this.#scanned = p.captured.length;
  }

  /** The cumulative acknowledgment (relative): the end of the range starting at 0. */
  get cum(): number {
    const first = this.held[0];
    const data = first && first[0] === 0 ? first[1] : 0;
    return this.fin >= 0 && data >= this.fin ? this.fin + 1 : data;
  }

  /** Discard the out-of-order data held (RFC 2018 section 8: the receiver reneges). */
  renege(): void {
    const c = this.cum;
    this.held.splice(0, this.held.length, ...(c > 0 ? [[0, c] as Range] : []));
  }

  #rel(seq: number): number {
    return (seq - this.base) >>> 0;
  }

  /** Log the sender's new segments, then receive them (unless lost) and queue the ACKs. */
  #scan(): void {
    const cap = this.p.captured;
    for (; this.#scanned < cap.length; this.#scanned++) {
      const x = cap[this.#scanned]!;
      const fin = (x.flags & F_FIN) !== 0;
      if (x.from !== "a" || (x.len === 0 && !fin)) continue;
      const from = this.#rel(x.seq), to = from + x.len;
      if (from < this.#high && x.len > 0) {
        const told = this.#told.filter(([, r]) => r > this.#toldAck);
        this.resent.push({
          at: x.at,
          from,
          to,
          sackedBytes: overlap(told, Math.max(from, this.#toldAck), to),
          state: this.c.rec.state,
          rtos: this.p.a.stats()["tcp-rto"] ?? 0,
        });
      }
      if (to > this.#high) this.#high = to;
      const nth = this.seen++;
      if (this.silent || this.lose(from, to, nth, x.at)) continue;
      if (x.len > 0) addRange(this.held, from, to);
      if (fin) this.fin = to;
      this.#last = [from, to];
      this.#lastTs = x.tsVal;
      this.#ack();
    }
  }

  /** Queue the ACK for what is held now (RFC 2018 section 4 block order). */
  #ack(): void {
    const cum = this.cum;
    const above = this.held.filter(([l]) => l > 0); // the range at 0 is acknowledged
    const mine = above.findIndex(([l, r]) => this.#last[0] < r && this.#last[1] > l);
    const order = mine >= 0 ? [above[mine]!, ...above.filter((_, i) => i !== mine)] : above;
    const blocks = order.slice(0, this.c.tsOk ? 3 : 4).map(([l, r]) => [l, r] as Range);
    // RFC 7323 4.3: the TSval of the segment just received is echoed.
    const ts = this.c.tsOk ? { val: this.p.now >>> 0, ecr: this.#lastTs } : undefined;
    const seg = segment({
      srcIp: this.c.remoteIp,
      dstIp: this.c.localIp,
      srcPort: this.c.remotePort,
      dstPort: this.c.localPort,
      flags: F_ACK,
      seq: this.c.rcv.nxt,
      ack: (this.base + cum) >>> 0,
      wnd: 65535,
      ts,
      sack: blocks.flatMap(([l, r]) => [(this.base + l) >>> 0, (this.base + r) >>> 0]),
    });
    this.#q.push({ at: this.p.now + this.rttMs, seg, ack: cum, blocks });
  }

  /** Deliver one queued ACK to the sender, noting what it tells. */
  #deliver(): void {
    const { seg, ack, blocks } = this.#q.shift()!;
    if (ack > this.#toldAck) this.#toldAck = ack;
    for (const [l, r] of blocks) addRange(this.#told, l, r);
    this.p.a.input(seg, this.p.now);
    this.#scan();
  }

  /**
   * Forget what the sender was told beyond the cumulative ACK (after a renege: data SACKed
   * then discarded is no longer counted against its retransmissions).
   */
  forgetTold(): void {
    this.#told.length = 0;
  }

  /** Run until `done()` or `maxMs` of virtual time; the sender's timers and ACKs in order. */
  run(maxMs: number, done: () => boolean = () => false): boolean {
    const p = this.p, end = p.now + maxMs;
    for (let guard = 0; guard < 1_000_000; guard++) {
      this.#scan();
      if (done()) return true;
      const t = Math.min(this.#q[0]?.at ?? Infinity, p.a.pollAt());
      if (t > end) break;
      if (t > p.now) p.now = t;
      while (this.#q.length > 0 && this.#q[0]!.at <= p.now) this.#deliver();
      p.a.poll(p.now);
    }
    this.#scan();
    if (p.now < end) p.now = end;
    return done();
  }

  /** Every byte up to `n` (and the FIN when `fin`) acknowledged to the sender. */
  acked(n: number, fin = false): boolean {
    return this.#toldAck >= n + (fin ? 1 : 0);
  }
}

/**
 * Watch side a of a {@link TcpPair} whose link carries the traffic (faults and all): the SACK
 * blocks and cumulative ACKs delivered to `c`, and every data segment `c` sends that repeats
 * sequence space, with the bytes of it those blocks covered when it was sent. Segments are
 * examined at each delivery to side a (before and after it is processed) and at `scan()`, so
 * what a segment is judged against is what the sender knew when it sent it.
 */
export class SackWatch {
  /** Retransmissions seen. */
  readonly resent: Resent[] = [];
  readonly #base: number;
  #told: Range[] = [];
  #toldAck = 0;
  #high = 0;
  #scanned: number;

  constructor(readonly p: TcpPair, readonly c: TcpConnection) {
    this.#base = c.snd.una;
    this.#scanned = p.captured.length;
    const input = p.a.input.bind(p.a);
    p.a.input = (seg: TcpSegment, now: number) => {
      this.scan();
      if (seg.srcPort === c.remotePort && seg.dstPort === c.localPort && (seg.flags & F_ACK)) {
        const ack = this.#rel(seg.ack);
        if (ack < 0x80000000 && ack > this.#toldAck) this.#toldAck = ack;
        for (let i = 0; i < seg.sackCount; i++) {
          const l = this.#rel(seg.sack[2 * i]!), r = this.#rel(seg.sack[2 * i + 1]!);
          if (r > this.#toldAck && r < 0x80000000 && l < r) addRange(this.#told, l, r);
        }
      }
      input(seg, now);
      this.scan();
    };
  }

  #rel(seq: number): number {
    return (seq - this.#base) >>> 0;
  }

  /** Examine the segments side a sent since the last look. */
  scan(): void {
    const cap = this.p.captured;
    for (; this.#scanned < cap.length; this.#scanned++) {
      const x = cap[this.#scanned]!;
      if (x.from !== "a" || x.len === 0 || x.srcPort !== this.c.localPort) continue;
      const from = this.#rel(x.seq), to = from + x.len;
      if (from < this.#high) {
        const told = this.#told.filter(([, r]) => r > this.#toldAck);
        this.#told = told;
        this.resent.push({
          at: x.at,
          from,
          to,
          sackedBytes: overlap(told, Math.max(from, this.#toldAck), to),
          state: this.c.rec.state,
          rtos: this.p.a.stats()["tcp-rto"] ?? 0,
        });
      }
      if (to > this.#high) this.#high = to;
    }
  }
}
