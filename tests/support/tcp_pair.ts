/**
 * Test harness: two TcpLayers joined back to back by a fake TcpTransmit with a virtual clock
 * and a seeded fault injector (drop, duplicate, reorder, corrupt-as-drop, delay, bandwidth).
 * Segments are copied field by field and their payload through packet memory (sndCopy into the
 * sender's TX_PAYLOAD_OFF, then into the receiver's RX_OFF), as the interface layer would.
 */

import type { Engine } from "../../src/kernels/engine.ts";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { createWasmEngine } from "../../src/kernels/wasm_engine.ts";
import { RX_OFF, TX_PAYLOAD_OFF } from "../../src/wire/layout.ts";
import { makeIsn } from "../../src/tcp/isn.ts";
import { TcpLayer, type TcpOptions } from "../../src/tcp/tcp_layer.ts";
import { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { rng } from "./rng.ts";
import { segment } from "./segment.ts";

/** Faults applied to every segment. */
export interface Faults {
  loss?: number;
  dup?: number;
  reorder?: number;
  corrupt?: number;
  delayMs?: number;
  jitterMs?: number;
  /** Bytes per millisecond per direction (0 = unlimited). */
  bytesPerMs?: number;
}

/** One captured segment. */
export interface Captured {
  from: "a" | "b";
  at: number;
  flags: number;
  seq: number;
  ack: number;
  wnd: number;
  len: number;
  mss: number;
  ws: number;
  sackOk: boolean;
  hasTs: boolean;
  sackCount: number;
  urg: number;
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
  tsVal: number;
  tsEcr: number;
  sack: number[];
}

interface InFlight {
  at: number;
  order: number;
  to: "a" | "b";
  seg: Captured & {
    srcIp: number;
    dstIp: number;
    srcPort: number;
    dstPort: number;
    tsVal: number;
    tsEcr: number;
    sack: number[];
  };
  data: Uint8Array | null;
}

/** Options of a pair. */
export interface PairOptions {
  seed?: number;
  faults?: Faults;
  tcpA?: Partial<TcpOptions>;
  tcpB?: Partial<TcpOptions>;
  engine?: "js" | "wasm";
  capture?: boolean;
  mtu?: number;
}

/** Addresses of the two sides. */
export const IP_A = 0x0a000001;
/** Address of side b. */
export const IP_B = 0x0a000002;

/** Two layers, a virtual clock and a link between them. */
export class TcpPair {
  now = 1000;
  readonly ea: Engine;
  readonly eb: Engine;
  readonly a: TcpLayer;
  readonly b: TcpLayer;
  readonly captured: Captured[] = [];
  readonly seed: number;
  delivered = 0;
  /** SACK blocks seen that straddle their own cumulative ACK (must stay 0). */
  sackViolations = 0;
  dropped = 0;
  /** Set to drop every segment from a side (tests of timeouts). */
  blackhole: { a: boolean; b: boolean } = { a: false, b: false };
  /** Set to drop chosen segments (loss patterns): true loses the segment. */
  lose: ((seg: Readonly<Captured>) => boolean) | null = null;
  #q: InFlight[] = [];
  #order = 0;
  #rand: () => number;
  #faults: Faults;
  #busy = { a: 0, b: 0 };
  #last = { a: 0, b: 0 };
  #capture: boolean;
  #rx = new TcpSegment();

  constructor(o: PairOptions = {}) {
    this.seed = o.seed ?? 1;
    this.#rand = rng(this.seed);
    this.#faults = o.faults ?? {};
    this.#capture = o.capture ?? false;
    const mk = o.engine === "wasm" ? createWasmEngine : createJsEngine;
    this.ea = mk();
    this.eb = mk();
    const mtu = o.mtu ?? 1500;
    // Deterministic ISNs (RFC 6528 function with a key from the seed) unless a test injects one.
    const key = (k: number) => new Uint32Array([this.seed, k, 0x9e3779b9, this.seed ^ k]);
    this.a = new TcpLayer(this.ea, this.#tx("a", mtu), { isn: makeIsn(key(1)), ...o.tcpA });
    this.b = new TcpLayer(this.eb, this.#tx("b", mtu), { isn: makeIsn(key(2)), ...o.tcpB });
  }

  #tx(from: "a" | "b", mtu: number) {
    const self = from === "a" ? IP_A : IP_B;
    return {
      sendTcp: (seg: TcpSegment, ring: number): boolean => this.#send(from, seg, ring),
      pathMtu: (_ip: number): number => mtu,
      // 10.0.0.0/16 is on-link (spoofed sources in flood tests); anything else has no route.
      sourceFor: (ip: number): number => ((ip >>> 16) === (IP_A >>> 16) ? self : -1),
    };
  }

  #send(from: "a" | "b", seg: TcpSegment, ring: number): boolean {
    const e = from === "a" ? this.ea : this.eb;
    let data: Uint8Array | null = null;
    if (seg.payloadLen > 0) {
      e.sndCopy(ring, seg.seq, seg.payloadLen, TX_PAYLOAD_OFF);
      data = e.mem.slice(TX_PAYLOAD_OFF, TX_PAYLOAD_OFF + seg.payloadLen);
    }
    const rec = {
      from,
      at: this.now,
      flags: seg.flags,
      seq: seg.seq >>> 0,
      ack: seg.ack >>> 0,
      wnd: seg.wnd,
      len: seg.payloadLen,
      mss: seg.mss,
      ws: seg.ws,
      sackOk: seg.sackOk,
      hasTs: seg.hasTs,
      sackCount: seg.sackCount,
      urg: seg.urg,
      srcIp: seg.srcIp,
      dstIp: seg.dstIp,
      srcPort: seg.srcPort,
      dstPort: seg.dstPort,
      tsVal: seg.tsVal,
      tsEcr: seg.tsEcr,
      sack: Array.from(seg.sack.subarray(0, 2 * seg.sackCount)),
    };
    if (this.#capture) this.captured.push(rec);
    for (let i = 0; i < rec.sackCount; i++) {
      const l = rec.sack[2 * i]!, r = rec.sack[2 * i + 1]!;
      if (((l - rec.ack) | 0) <= 0 && ((r - rec.ack) | 0) > 0) {
        this.sackViolations++; // a block straddling the cumulative ACK
      }
    }
    if (seg.dstIp !== (from === "a" ? IP_B : IP_A)) return false;
    if (this.blackhole[from] || (this.lose !== null && this.lose(rec))) {
      this.dropped++;
      return true;
    }
    const f = this.#faults;
    const r = this.#rand;
    if ((f.loss ?? 0) > 0 && r() < f.loss!) {
      this.dropped++;
      return true;
    }
    if ((f.corrupt ?? 0) > 0 && r() < f.corrupt!) {
      this.dropped++; // a corrupted segment fails its checksum below us: a counted drop
      return true;
    }
    let at = this.now + (f.delayMs ?? 1);
    if (f.bytesPerMs) {
      const start = Math.max(this.now, this.#busy[from]);
      this.#busy[from] = start + (seg.payloadLen + 40) / f.bytesPerMs;
      at = this.#busy[from] + (f.delayMs ?? 1);
    }
    if (f.jitterMs) at += r() * f.jitterMs;
    // Jitter keeps the link FIFO; only the reorder fault lets a segment fall behind others.
    if (at < this.#last[from]) at = this.#last[from];
    this.#last[from] = at;
    if ((f.reorder ?? 0) > 0 && r() < f.reorder!) at += 1 + r() * 5 * (f.delayMs ?? 1);
    const to = from === "a" ? "b" : "a";
    this.#push({ at, order: this.#order++, to, seg: rec, data });
    if ((f.dup ?? 0) > 0 && r() < f.dup!) {
      this.#push({ at: at + r() * 3, order: this.#order++, to, seg: rec, data });
    }
    return true;
  }

  #push(p: InFlight): void {
    const q = this.#q;
    let i = q.length;
    while (i > 0 && (q[i - 1]!.at > p.at || (q[i - 1]!.at === p.at && q[i - 1]!.order > p.order))) {
      i--;
    }
    q.splice(i, 0, p);
  }

  #deliver(p: InFlight): void {
    const e = p.to === "a" ? this.ea : this.eb;
    const r = p.seg;
    const s = segment({ ...r, payloadOff: RX_OFF, payloadLen: p.data?.length ?? 0 }, this.#rx);
    s.hasTs = r.hasTs; // the captured TSval/TSecr as sent, with or without the option
    s.tsVal = r.tsVal;
    s.tsEcr = r.tsEcr;
    if (p.data) e.mem.set(p.data, RX_OFF);
    this.delivered++;
    (p.to === "a" ? this.a : this.b).input(s, this.now);
  }

  /** Poll both layers at the current time. */
  poll(): void {
    this.a.poll(this.now);
    this.b.poll(this.now);
  }

  /** Advance to the next event (delivery or deadline) and handle it. False when idle. */
  step(limit = Infinity): boolean {
    const q = this.#q;
    const t = Math.min(q.length ? q[0]!.at : Infinity, this.a.pollAt(), this.b.pollAt());
    if (t === Infinity || t > limit) return false;
    if (t > this.now) this.now = t;
    while (q.length && q[0]!.at <= this.now) this.#deliver(q.shift()!);
    this.poll();
    return true;
  }

  /** Run until `done()` or `maxMs` of virtual time pass; `tick` runs between steps. */
  run(done: () => boolean, maxMs = 60000, tick?: () => void): boolean {
    const end = this.now + maxMs;
    for (let i = 0; i < 50_000_000; i++) {
      tick?.();
      this.poll();
      if (done()) return true;
      if (!this.step(end)) {
        tick?.();
        this.poll();
        if (done()) return true;
        if (this.now >= end || !this.step(end)) {
          if (this.now < end) this.now = end;
          return done();
        }
      }
    }
    return done();
  }

  /** Advance virtual time by `ms`, handling everything due meanwhile. */
  advance(ms: number, tick?: () => void): void {
    const end = this.now + ms;
    while (this.step(end)) tick?.();
    this.now = end;
    this.poll();
  }

  /** Segments in flight. */
  get inFlight(): number {
    return this.#q.length;
  }
}
