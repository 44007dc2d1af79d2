/**
 * Seed frames for the fuzz harness: one real frame of every kind the stack meets (ARP request
 * and replies, ICMP echo and errors quoting our TCP, UDP to an open and a closed port, TCP with
 * every option, IPv4 fragments, broadcasts), built with the JS engine's encoder from the peer's
 * side of the link. Mutations of these, and of the frames of live connections, drive the fuzz.
 *
 * @module
 */

import { createJsEngine } from "../../src/kernels/js_engine.ts";
import type { Engine } from "../../src/kernels/engine.ts";
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
  D_IP_TTL,
  D_KIND,
  D_OPT_MSS,
  D_OPT_WS,
  D_SRC_PORT,
  D_VLAN,
  K_ARP,
  K_ICMP,
  K_IPV4_FRAGMENT,
  K_TCP,
  K_UDP,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";
import type { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { segment } from "./segment.ts";

/** The victim's address (10.9.0.2). */
export const VICTIM_IP = 0x0a090002;
/** The peer's address (10.9.0.1). */
export const PEER_IP = 0x0a090001;
/** The victim's MAC 02:00:00:00:00:02 as bytes. */
export const VICTIM_MAC: Uint8Array = new Uint8Array([2, 0, 0, 0, 0, 2]);
/** The peer's MAC 02:00:00:00:00:01 as bytes. */
export const PEER_MAC: Uint8Array = new Uint8Array([2, 0, 0, 0, 0, 1]);
/** The UDP port the victim keeps open during the fuzz. */
export const UDP_PORT = 7000;
/** The TCP port the victim listens on. */
export const TCP_PORT = 80;

/** Builds frames from the peer to the victim with an engine of its own. */
export class FrameMaker {
  readonly #e: Engine = createJsEngine();

  /** A frame of `kind` carrying `payload`; `fill` sets descriptor fields over the defaults. */
  build(kind: number, payload: Uint8Array, fill: (d: Int32Array) => void = () => {}): Uint8Array {
    const d = this.#e.txDesc;
    d.fill(0);
    d[D_KIND] = kind;
    d[D_VLAN] = -1;
    d[D_ETH_SRC_HI] = 0x0200;
    d[D_ETH_SRC_LO] = 1;
    d[D_ETH_DST_HI] = 0x0200;
    d[D_ETH_DST_LO] = 2;
    d[D_ETHERTYPE] = kind === K_ARP ? 0x0806 : 0x0800;
    d[D_IP_ID] = 77;
    d[D_IP_TTL] = 64;
    d[D_IP_SRC] = PEER_IP;
    d[D_IP_DST] = VICTIM_IP;
    d[D_OPT_MSS] = -1;
    d[D_OPT_WS] = -1;
    fill(d);
    this.#e.mem.set(payload, TX_PAYLOAD_OFF);
    const start = this.#e.encode(TX_PAYLOAD_OFF, payload.length);
    if (start < 0) throw new Error(`Fuzz corpus encode failed with ${start}`);
    return this.#e.mem.slice(start, TX_PAYLOAD_OFF + payload.length);
  }

  /** An ARP packet: `op` 1 request, 2 reply, sender `spa` with MAC lo word `shaLo`. */
  arp(op: number, spa: number, tpa: number, shaLo = 1, broadcast = true): Uint8Array {
    return this.build(K_ARP, new Uint8Array(0), (d) => {
      d[D_ETH_SRC_LO] = shaLo;
      if (broadcast) {
        d[D_ETH_DST_HI] = 0xffff;
        d[D_ETH_DST_LO] = -1;
      }
      d[D_ARP_OP] = op;
      d[D_ARP_SHA_HI] = 0x0200;
      d[D_ARP_SHA_LO] = shaLo;
      d[D_ARP_SPA] = spa | 0;
      d[D_ARP_THA_HI] = op === 2 ? 0x0200 : 0;
      d[D_ARP_THA_LO] = op === 2 ? 2 : 0;
      d[D_ARP_TPA] = tpa | 0;
    });
  }

  /** A TCP segment from the peer. */
  tcp(seg: TcpSegment, payload: Uint8Array): Uint8Array {
    return this.build(K_TCP, payload, (d) => seg.toDesc(d));
  }

  /** An ICMP message. */
  icmp(type: number, code: number, rest: number, data: Uint8Array): Uint8Array {
    return this.build(K_ICMP, data, (d) => {
      d[D_ICMP_TYPE] = type;
      d[D_ICMP_CODE] = code;
      d[D_ICMP_REST] = rest;
    });
  }

  /** A UDP datagram. */
  udp(srcPort: number, dstPort: number, data: Uint8Array, broadcast = false): Uint8Array {
    return this.build(K_UDP, data, (d) => {
      d[D_SRC_PORT] = srcPort;
      d[D_DST_PORT] = dstPort;
      if (broadcast) {
        d[D_ETH_DST_HI] = 0xffff;
        d[D_ETH_DST_LO] = -1;
        d[D_IP_DST] = (VICTIM_IP | 0xff) | 0;
      }
    });
  }

  /** The IPv4 payload `msg` of protocol `proto` cut into fragments of `step` bytes. */
  fragments(proto: number, msg: Uint8Array, step: number, id: number): Uint8Array[] {
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
}

/** A TCP segment header from the peer to the victim's listener, to be filled further. */
export function peerSegment(srcPort: number, dstPort = TCP_PORT): TcpSegment {
  return segment({ srcIp: PEER_IP, dstIp: VICTIM_IP, srcPort, dstPort });
}

/** The static seed corpus: one real frame of every kind. */
export function seedCorpus(m: FrameMaker = new FrameMaker()): Uint8Array[] {
  const data = new Uint8Array(3000).map((_, i) => (i * 7 + 3) & 0xff);
  const syn = peerSegment(40001);
  syn.seq = 100;
  syn.flags = 2;
  syn.wnd = 65535;
  syn.mss = 1460;
  syn.ws = 7;
  syn.sackOk = true;
  syn.hasTs = true;
  syn.tsVal = 12345;
  const dataSeg = peerSegment(40002);
  dataSeg.seq = 101;
  dataSeg.ack = 2001;
  dataSeg.flags = 0x18;
  dataSeg.wnd = 1024;
  dataSeg.hasTs = true;
  dataSeg.tsVal = 5;
  dataSeg.tsEcr = 6;
  dataSeg.sackCount = 2;
  dataSeg.sack.set([3000, 4000, 5000, 6000]);
  const rst = peerSegment(40003);
  rst.seq = 777;
  rst.flags = 4;
  // The first 28 bytes of a segment we might have sent, quoted by ICMP errors.
  const ours = segment({
    srcIp: VICTIM_IP,
    dstIp: PEER_IP,
    srcPort: TCP_PORT,
    dstPort: 40002,
    seq: 2001,
  });
  const quoted = m.build(K_TCP, new Uint8Array(0), (d) => {
    ours.toDesc(d);
    d[D_IP_SRC] = VICTIM_IP;
    d[D_IP_DST] = PEER_IP;
  }).slice(14, 14 + 28);
  return [
    m.arp(1, PEER_IP, VICTIM_IP),
    m.arp(2, PEER_IP, VICTIM_IP, 1, false),
    m.arp(2, 0x0a090007, VICTIM_IP, 7, false),
    m.icmp(8, 0, 0x00010001, data.subarray(0, 56)),
    m.icmp(3, 4, 1300, quoted),
    m.icmp(3, 3, 0, quoted),
    m.icmp(11, 0, 0, quoted),
    m.udp(1000, UDP_PORT, data.subarray(0, 200)),
    m.udp(1000, 9, data.subarray(0, 20)),
    m.udp(1000, UDP_PORT, data.subarray(0, 8), true),
    m.tcp(syn, new Uint8Array(0)),
    m.tcp(dataSeg, data.subarray(0, 100)),
    m.tcp(rst, new Uint8Array(0)),
    ...m.fragments(17, m.udp(1000, UDP_PORT, data.subarray(0, 2000)).slice(34), 1480, 5),
    ...m.fragments(1, m.icmp(8, 0, 7, data.subarray(0, 1200)).slice(34), 400, 6),
    m.build(K_IPV4_FRAGMENT, data.subarray(0, 800), (d) => {
      d[D_IP_PROTO] = 6;
      d[D_IP_ID] = 9;
      d[D_IP_FRAG] = 0x2000 | 90;
    }),
    m.build(K_UDP, data.subarray(0, 4), (d) => {
      d[D_SRC_PORT] = 1;
      d[D_DST_PORT] = UDP_PORT;
      d[D_ETHERTYPE] = 0x0800;
      d[D_VLAN] = 5;
    }),
  ];
}

/** The MAC lo word of `mac`. */
export function macLoWord(mac: Uint8Array): number {
  return ((mac[2]! << 24) | (mac[3]! << 16) | (mac[4]! << 8) | mac[5]!) >>> 0;
}

/** Read a big-endian u16 of `f` at `off` (0 past the end). */
export function be16(f: Uint8Array, off: number): number {
  return off + 1 < f.length ? (f[off]! << 8) | f[off + 1]! : 0;
}

/** The destination port of a TCP/UDP frame laid out plainly (Ethernet + IPv4), or -1. */
export function dstPortOf(f: Uint8Array): number {
  if (f.length < 38 || f[12] !== 8 || f[13] !== 0) return -1;
  const l4 = 14 + (f[14]! & 15) * 4;
  return l4 + 4 <= f.length ? be16(f, l4 + 2) : -1;
}
