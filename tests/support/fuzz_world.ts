/**
 * A two-node world for the whole-stack fuzz harness, stepped synchronously in virtual time: a
 * victim (Interface + TCP layer over the engine under test) and a peer (the same stack over the
 * JS engine) joined by in-memory frame queues. The fuzzer injects frames into the victim's
 * receive path between the peer's real frames; the victim's answers go to the peer like any
 * other frame. Deterministic: seeded MACs, IP ids and ISNs, no wall clock.
 *
 * @module
 */

import type { Engine, EngineKind } from "../../src/kernels/engine.ts";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { createWasmEngine } from "../../src/kernels/wasm_engine.ts";
import { RX_OFF } from "../../src/wire/layout.ts";
import { Interface } from "../../src/iface/interface.ts";
import type { IfaceLimits } from "../../src/iface/limits.ts";
import type { TcpHandler, TcpIcmpReport } from "../../src/tcp/contract.ts";
import type { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { PEER_IP, PEER_MAC, UDP_PORT, VICTIM_IP, VICTIM_MAC } from "./fuzz_corpus.ts";
import { Rng } from "./rng.ts";
import { type TcpFactory, type TcpLike, testIsn } from "./fuzz_tcp_types.ts";

/** A TCP handler that takes segments and does nothing (interface-level fuzzing). */
export class NullTcp implements TcpHandler {
  /** Segments delivered. */
  segments = 0;
  input(_seg: TcpSegment, _now: number): void {
    this.segments++;
  }
  icmpError(_r: Readonly<TcpIcmpReport>, _now: number): void {}
  unreachable(_ip: number, _now: number): void {}
  poll(_now: number): void {}
  pollAt(): number {
    return Infinity;
  }
}

/** One stack of the world. */
export class Node {
  readonly engine: Engine;
  readonly iface: Interface;
  readonly tcp: TcpLike | null;
  readonly handler: TcpHandler;
  /** Frames this node sent, not yet delivered to the other node. */
  readonly out: Uint8Array[] = [];

  /** A node over an engine of `kind`; TCP from `factory` (or a NullTcp). */
  constructor(
    kind: EngineKind,
    address: number,
    mac: Uint8Array,
    seed: number,
    factory: TcpFactory | null,
    limits: Partial<IfaceLimits> | undefined,
    tcpOptions: Record<string, unknown>,
  ) {
    this.engine = kind === "js" ? createJsEngine() : createWasmEngine();
    const rng = new Rng(seed);
    this.iface = new Interface(this.engine, {
      send: (buf, off, len) => {
        this.out.push(buf.slice(off, off + len));
      },
    }, {
      address,
      prefixLength: 24,
      mtu: 1500,
      mac,
      random: () => rng.u32() / 4294967296,
      limits,
    });
    this.tcp = factory === null ? null : factory(this.engine, this.iface, {
      isn: testIsn,
      ...tcpOptions,
    });
    this.handler = this.tcp ?? new NullTcp();
    this.iface.attachTcp(this.handler);
  }

  /** Receive one frame (copied into the engine's receive area). */
  receive(frame: Uint8Array, now: number): void {
    this.engine.mem.set(frame, RX_OFF);
    this.iface.receive(RX_OFF, frame.length, now);
  }

  /** Run the timers of both layers. */
  poll(now: number): void {
    this.iface.poll(now);
    this.handler.poll(now);
  }

  /** The earliest deadline of both layers. */
  pollAt(): number {
    return Math.min(this.iface.pollAt(), this.handler.pollAt());
  }

  /** Interface and TCP counters together (TCP ones prefixed by the layer itself). */
  stats(): Record<string, number> {
    const s = this.iface.stats();
    if (this.tcp !== null) Object.assign(s, this.tcp.stats());
    return s;
  }
}

/** Options of a world. */
export interface WorldOptions {
  /** The victim's engine. */
  kind: EngineKind;
  /** Seed of every random choice. */
  seed: number;
  /** The TCP layer, or null for interface-level fuzzing. */
  tcp: TcpFactory | null;
  /** Interface limits of the victim. */
  limits?: Partial<IfaceLimits>;
  /** TCP options of both nodes. */
  tcpOptions?: Record<string, unknown>;
}

/** The victim, the peer, the clock and the frame queues between them. */
export class World {
  readonly victim: Node;
  readonly peer: Node;
  now = 0;
  /** Recent frames the peer sent to the victim (material for mutation). */
  readonly recent: Uint8Array[] = [];
  /** Frames moved between the nodes so far. */
  moved = 0;
  /**
   * Times a pump hit its cap with frames still flowing (an ACK war or another loop between
   * the nodes); the queued frames were then dropped, like a link that overflows.
   */
  storms = 0;

  /** A world as `o` says. */
  constructor(o: WorldOptions) {
    const tcpOptions = { timeWaitMs: 2000, ...o.tcpOptions };
    this.victim = new Node(o.kind, VICTIM_IP, VICTIM_MAC, o.seed, o.tcp, o.limits, tcpOptions);
    this.peer = new Node("js", PEER_IP, PEER_MAC, o.seed ^ 0x5a5a, o.tcp, undefined, tcpOptions);
    this.victim.iface.udpBind(UDP_PORT);
  }

  /** Inject a hostile frame into the victim; returns the frames it sent in answer. */
  inject(frame: Uint8Array): Uint8Array[] {
    const before = this.victim.out.length;
    this.victim.receive(frame, this.now);
    return this.victim.out.slice(before);
  }

  /**
   * Deliver queued frames both ways until none is left (at most `max` frames). Keeps the last
   * 64 peer-to-victim frames in `recent`. Returns the frames moved. When `max` is reached with
   * frames still queued, they are dropped and `storms` grows.
   */
  pump(max = 600): number {
    let n = 0;
    while (n < max && (this.victim.out.length > 0 || this.peer.out.length > 0)) {
      const p = this.peer.out.splice(0);
      for (const f of p) {
        this.recent.push(f);
        if (this.recent.length > 64) this.recent.shift();
        this.victim.receive(f, this.now);
      }
      const v = this.victim.out.splice(0);
      for (const f of v) this.peer.receive(f, this.now);
      n += p.length + v.length;
    }
    this.moved += n;
    if (n >= max && (this.victim.out.length > 0 || this.peer.out.length > 0)) {
      this.victim.out.length = 0;
      this.peer.out.length = 0;
      this.storms++;
    }
    return n;
  }

  /** Poll both nodes at the current time and deliver what they sent. */
  settle(): void {
    for (let i = 0; i < 8; i++) {
      this.victim.poll(this.now);
      this.peer.poll(this.now);
      if (this.pump() === 0) break;
    }
  }

  /** Advance the clock by `ms` (or to the next deadline when `jump` and nothing is queued). */
  tick(ms: number, jump = false): void {
    let next = this.now + ms;
    if (jump) {
      const at = Math.min(this.victim.pollAt(), this.peer.pollAt());
      if (Number.isFinite(at) && at > next) next = Math.ceil(at);
    }
    this.now = next;
    this.settle();
  }
}
