/**
 * Test harness for the interface layer: an Interface over one engine with a capturing frame
 * sink, a peer engine that builds frames through engine.encode and inspects what the
 * interface sent through engine.decode, an injected clock and a fake TCP handler.
 *
 * @module
 */

import type { Engine, EngineKind } from "../../src/kernels/engine.ts";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { createWasmEngine } from "../../src/kernels/wasm_engine.ts";
import {
  D_ARP_OP,
  D_ARP_SHA_HI,
  D_ARP_SHA_LO,
  D_ARP_SPA,
  D_ARP_THA_HI,
  D_ARP_THA_LO,
  D_ARP_TPA,
  D_DST_PORT,
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_ETHERTYPE,
  D_ICMP_CODE,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_IP_DST,
  D_IP_FRAG,
  D_IP_ID,
  D_IP_PROTO,
  D_IP_SRC,
  D_IP_TOS,
  D_IP_TTL,
  D_KIND,
  D_SRC_PORT,
  D_VLAN,
  DESC_WORDS,
  K_ARP,
  K_ICMP,
  K_IPV4_FRAGMENT,
  K_UDP,
  RX_OFF,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";
import type { TcpHandler, TcpIcmpError, TcpIcmpReport } from "../../src/tcp/contract.ts";
import type { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { Interface, type InterfaceOptions } from "../../src/iface/interface.ts";
import { parseIpv4 } from "../../src/iface/routing.ts";
import { rng } from "./rng.ts";

/** Our address in the tests. */
export const OUR_IP: number = parseIpv4("10.0.0.2");
/** The peer on the link. */
export const PEER_IP: number = parseIpv4("10.0.0.1");
/** The peer's MAC as hi/lo words (02:00:00:00:00:01). */
export const PEER_HI = 0x0200;
/** The peer's MAC lo word. */
export const PEER_LO = 0x00000001;
/** Our MAC in the tests (02:aa:bb:cc:dd:ee). */
export const OUR_MAC: Uint8Array = new Uint8Array([0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
/** Our MAC hi word. */
export const OUR_HI = 0x02aa;
/** Our MAC lo word. */
export const OUR_LO = 0xbbccddee;

/** Make an engine of `kind`. */
export function makeEngine(kind: EngineKind): Engine {
  return kind === "js" ? createJsEngine() : createWasmEngine();
}

/** A recorded call into the fake TCP handler. */
export type TcpCall =
  | { kind: "input"; seg: TcpSegment; payload: Uint8Array }
  | { kind: "icmp"; error: TcpIcmpError; args: number[] }
  | { kind: "unreachable"; ip: number };

/** A TCP handler that records what it gets. */
export class FakeTcp implements TcpHandler {
  calls: TcpCall[] = [];
  #engine: Engine;
  /** Records against `engine` (to copy payloads out of packet memory). */
  constructor(engine: Engine) {
    this.#engine = engine;
  }
  input(seg: TcpSegment, _now: number): void {
    const copy = Object.assign(Object.create(Object.getPrototypeOf(seg)), seg) as TcpSegment;
    const payload = this.#engine.mem.slice(seg.payloadOff, seg.payloadOff + seg.payloadLen);
    this.calls.push({ kind: "input", seg: copy, payload });
  }
  /** Whether errors are believed (TcpHandler.icmpError's answer; the real TCP checks). */
  believeIcmp = true;
  icmpError(r: Readonly<TcpIcmpReport>, _now: number): boolean {
    this.calls.push({
      kind: "icmp",
      error: r.kind,
      args: [r.localIp, r.localPort, r.remoteIp, r.remotePort, r.seq, r.mtu],
    });
    return this.believeIcmp;
  }
  unreachable(ip: number, _now: number): void {
    this.calls.push({ kind: "unreachable", ip });
  }
  poll(_now: number): void {}
  pollAt(): number {
    return Infinity;
  }
}

/** A decoded frame the interface sent. */
export interface Sent {
  bytes: Uint8Array;
  desc: Int32Array;
  verdict: number;
  /** The L4 payload (D_PAYLOAD_OFF/LEN) or, for fragments, the IPv4 payload. */
  payload: Uint8Array;
}

/** An Interface wired to a capturing sink and a peer that builds and inspects frames. */
export class Harness {
  readonly engine: Engine;
  readonly peer: Engine;
  readonly iface: Interface;
  readonly tcp: FakeTcp;
  /** Frames sent by the interface, oldest first, until take() empties it. */
  readonly sent: Uint8Array[] = [];
  now = 0;

  constructor(kind: EngineKind, options: Partial<InterfaceOptions> = {}) {
    this.engine = makeEngine(kind);
    this.peer = createJsEngine();
    this.iface = new Interface(this.engine, {
      send: (buf, off, len) => {
        this.sent.push(buf.slice(off, off + len));
      },
    }, {
      address: OUR_IP,
      prefixLength: 24,
      mtu: 1500,
      mac: OUR_MAC,
      random: rng(42),
      ...options,
    });
    this.tcp = new FakeTcp(this.engine);
  }

  /** Deliver a frame to the interface at time `now`. */
  deliver(frame: Uint8Array): void {
    this.engine.mem.set(frame, RX_OFF);
    this.iface.receive(RX_OFF, frame.length, this.now);
  }

  /** Frames sent since the last take(), decoded. */
  take(): Sent[] {
    return this.sent.splice(0).map((f) => this.inspect(f));
  }

  /** Decode a frame with the peer engine. */
  inspect(frame: Uint8Array): Sent {
    this.peer.mem.set(frame, RX_OFF);
    const verdict = this.peer.decode(RX_OFF, frame.length);
    const desc = this.peer.rxDesc.slice(0, DESC_WORDS);
    const off = desc[27]! /* D_L4_OFF */;
    const isFrag = desc[D_KIND] === K_IPV4_FRAGMENT;
    const pOff = isFrag ? off : desc[56]!;
    const pLen = isFrag ? desc[28]! : desc[57]!;
    return { bytes: frame, desc, verdict, payload: this.peer.mem.slice(pOff, pOff + pLen) };
  }

  /** Ethernet + IPv4 defaults from the peer to us; `fill` overrides fields. */
  build(kind: number, payload: Uint8Array, fill: (d: Int32Array) => void = () => {}): Uint8Array {
    const d = this.peer.txDesc;
    d.fill(0);
    d[D_KIND] = kind;
    d[D_VLAN] = -1;
    d[D_ETH_SRC_HI] = PEER_HI;
    d[D_ETH_SRC_LO] = PEER_LO;
    d[D_ETH_DST_HI] = OUR_HI;
    d[D_ETH_DST_LO] = OUR_LO | 0;
    d[D_ETHERTYPE] = kind === K_ARP ? 0x0806 : 0x0800;
    d[D_IP_TOS] = 0;
    d[D_IP_ID] = 77;
    d[D_IP_TTL] = 64;
    d[D_IP_SRC] = PEER_IP | 0;
    d[D_IP_DST] = OUR_IP | 0;
    d[D_IP_FRAG] = 0;
    d[41] = -1; // D_OPT_MSS
    d[42] = -1; // D_OPT_WS
    fill(d);
    this.peer.mem.set(payload, TX_PAYLOAD_OFF);
    const start = this.peer.encode(TX_PAYLOAD_OFF, payload.length);
    if (start < 0) throw new Error(`Peer encode failed with ${start}`);
    return this.peer.mem.slice(start, TX_PAYLOAD_OFF + payload.length);
  }

  /** An ARP packet from `spa` at the peer MAC (or `sha`). */
  arp(
    op: number,
    spa: number,
    tpa: number,
    opts: { shaHi?: number; shaLo?: number; ethDst?: "bcast" | "us" } = {},
  ): Uint8Array {
    return this.build(K_ARP, new Uint8Array(0), (d) => {
      const hi = opts.shaHi ?? PEER_HI, lo = opts.shaLo ?? PEER_LO;
      d[D_ETH_SRC_HI] = hi;
      d[D_ETH_SRC_LO] = lo | 0;
      if (opts.ethDst !== "us") {
        d[D_ETH_DST_HI] = 0xffff;
        d[D_ETH_DST_LO] = -1;
      }
      d[D_ARP_OP] = op;
      d[D_ARP_SHA_HI] = hi;
      d[D_ARP_SHA_LO] = lo | 0;
      d[D_ARP_SPA] = spa | 0;
      d[D_ARP_THA_HI] = op === 2 ? OUR_HI : 0;
      d[D_ARP_THA_LO] = op === 2 ? OUR_LO | 0 : 0;
      d[D_ARP_TPA] = tpa | 0;
    });
  }

  /** A UDP datagram from the peer. */
  udp(
    srcPort: number,
    dstPort: number,
    data: Uint8Array,
    fill?: (d: Int32Array) => void,
  ): Uint8Array {
    return this.build(K_UDP, data, (d) => {
      d[D_SRC_PORT] = srcPort;
      d[D_DST_PORT] = dstPort;
      fill?.(d);
    });
  }

  /** An ICMP message from the peer. */
  icmp(
    type: number,
    code: number,
    rest: number,
    data: Uint8Array,
    fill?: (d: Int32Array) => void,
  ): Uint8Array {
    return this.build(K_ICMP, data, (d) => {
      d[D_ICMP_TYPE] = type;
      d[D_ICMP_CODE] = code;
      d[D_ICMP_REST] = rest;
      fill?.(d);
    });
  }

  /**
   * The IPv4 payload `msg` (an L4 message of protocol `proto`) as fragments of `step` bytes
   * from the peer, in order.
   */
  fragments(proto: number, msg: Uint8Array, step: number, id = 99): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let o = 0; o < msg.length; o += step) {
      const n = Math.min(step, msg.length - o);
      const more = o + n < msg.length;
      out.push(this.build(K_IPV4_FRAGMENT, msg.subarray(o, o + n), (d) => {
        d[D_IP_PROTO] = proto;
        d[D_IP_ID] = id;
        d[D_IP_FRAG] = (more ? 0x2000 : 0) | (o >>> 3);
      }));
    }
    return out;
  }

  /** Teach the interface the peer's MAC (an ARP request from the peer for our address). */
  learnPeer(): void {
    this.deliver(this.arp(1, PEER_IP, OUR_IP));
    this.sent.length = 0;
  }
}

/** The whole ICMP message (header + data) for a message built with the JS encoder. */
export function icmpMessage(
  h: Harness,
  type: number,
  code: number,
  rest: number,
  data: Uint8Array,
): Uint8Array {
  const frame = h.icmp(type, code, rest, data);
  return frame.slice(14 + 20);
}

/** u32 from 4 bytes. */
export function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Field reads for sent descriptors. */
export const F = {
  arpOp: D_ARP_OP,
  arpSpa: D_ARP_SPA,
  arpTpa: D_ARP_TPA,
  arpThaHi: D_ARP_THA_HI,
  arpThaLo: D_ARP_THA_LO,
  arpShaHi: D_ARP_SHA_HI,
  arpShaLo: D_ARP_SHA_LO,
} as const;
