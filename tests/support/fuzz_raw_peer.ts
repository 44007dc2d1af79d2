/**
 * A scripted, hostile TCP peer for the attack tests: it crafts every segment by hand (the
 * handshake, data out of order, RSTs and SYNs with chosen numbers, zero windows, silence) and
 * reads back what the victim node sent, decoded. It answers the victim's ARP requests for any
 * address, so the victim can reach the spoofed sources it is told about.
 *
 * @module
 */

import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { D_ARP_OP, D_ARP_TPA, D_KIND, K_ARP, K_TCP, RX_OFF } from "../../src/wire/layout.ts";
import { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { FrameMaker, PEER_IP, TCP_PORT, VICTIM_IP } from "./fuzz_corpus.ts";
import type { Node } from "./fuzz_world.ts";
import { segment } from "./segment.ts";

/** A segment the victim sent, with its payload copied out. */
export interface Seen {
  seg: TcpSegment;
  payload: Uint8Array;
}

/** What a crafted segment carries; absent fields take the peer's current values. */
export interface Craft {
  srcIp?: number;
  srcPort?: number;
  dstPort?: number;
  seq?: number;
  ack?: number;
  flags: number;
  wnd?: number;
  payload?: Uint8Array;
}

/** A scripted peer talking to one victim node. */
export class RawPeer {
  readonly node: Node;
  readonly maker: FrameMaker = new FrameMaker();
  readonly #decoder = createJsEngine();
  now = 0;
  /** Our next sequence number and what we acknowledge (set by handshake()). */
  sndNxt = 0;
  rcvNxt = 0;
  srcPort = 40000;
  dstPort = TCP_PORT;
  /** ARP requests answered. */
  arpAnswered = 0;

  /** A peer for `node` (a victim with a TCP layer). */
  constructor(node: Node) {
    this.node = node;
  }

  /** Inject a crafted TCP segment into the victim. */
  send(c: Craft): void {
    const s = segment({
      srcIp: c.srcIp ?? PEER_IP,
      dstIp: VICTIM_IP,
      srcPort: c.srcPort ?? this.srcPort,
      dstPort: c.dstPort ?? this.dstPort,
      seq: c.seq ?? this.sndNxt,
      ack: c.ack ?? this.rcvNxt,
      flags: c.flags,
      wnd: c.wnd ?? 65535,
      ...((c.flags & 2) !== 0 ? { mss: 1460 } : {}),
    });
    this.node.receive(this.maker.tcp(s, c.payload ?? new Uint8Array(0)), this.now);
  }

  /** Decode the frames the victim sent since the last call; answer its ARP requests. */
  take(): Seen[] {
    const out: Seen[] = [];
    for (let round = 0; round < 4 && this.node.out.length > 0; round++) {
      for (const f of this.node.out.splice(0)) {
        const e = this.#decoder;
        e.mem.set(f, RX_OFF);
        if (e.decode(RX_OFF, f.length) !== 0) throw new Error("The victim sent a malformed frame");
        const d = e.rxDesc;
        if (d[D_KIND] === K_ARP) {
          if (d[D_ARP_OP] === 1) {
            this.arpAnswered++;
            this.node.receive(
              this.maker.arp(2, d[D_ARP_TPA]! >>> 0, VICTIM_IP, 1, false),
              this.now,
            );
          }
          continue;
        }
        if (d[D_KIND] !== K_TCP) continue;
        const seg = new TcpSegment().fromDesc(d);
        out.push({ seg, payload: e.mem.slice(seg.payloadOff, seg.payloadOff + seg.payloadLen) });
      }
    }
    return out;
  }

  /** Run the victim's timers at `now` and collect what it sent. */
  advance(ms: number): Seen[] {
    this.now += ms;
    this.node.poll(this.now);
    return this.take();
  }

  /**
   * Open a connection from port `srcPort` to the victim's listener with initial sequence
   * number `isn`: SYN, read the SYN-ACK, ACK. Returns the SYN-ACK.
   */
  handshake(srcPort: number, isn: number, wnd = 65535): TcpSegment {
    this.srcPort = srcPort;
    this.sndNxt = isn;
    this.send({ flags: 2, seq: isn, ack: 0, wnd });
    const synAck = this.take().find((x) => x.seg.flags === 0x12 && x.seg.dstPort === srcPort);
    if (synAck === undefined) throw new Error("The victim sent no SYN-ACK");
    this.sndNxt = (isn + 1) >>> 0;
    this.rcvNxt = (synAck.seg.seq + 1) >>> 0;
    this.send({ flags: 0x10, wnd });
    return synAck.seg;
  }

  /** Send `data` as one segment at our sndNxt (PSH+ACK) and advance sndNxt. */
  sendData(data: Uint8Array, wnd = 65535): void {
    this.send({ flags: 0x18, payload: data, wnd });
    this.sndNxt = (this.sndNxt + data.length) >>> 0;
  }
}
