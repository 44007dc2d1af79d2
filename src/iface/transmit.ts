/**
 * The transmit side of the interface: IPv4 header fields, next-hop MAC resolution through the
 * ARP cache (queueing whole frames while it resolves), fragmentation of datagrams larger than
 * the path MTU (RFC 791 3.2), and ARP frames.
 *
 * Packet memory used (all inside the engine's transmit area, layout.ts):
 * - frames are built with their payload at TX_PAYLOAD_OFF (at most one link MTU, so they end
 *   below TX_PAYLOAD_OFF + 65535);
 * - the top of the transmit area is this layer's: LANDING_BASE holds a reassembled datagram
 *   (REASM_OFF) or a datagram being fragmented (LANDING_DATA); ARP frames are built at its very
 *   end (ARP_OFF), so an ARP request sent while a frame is being built clobbers nothing.
 *
 * @module
 */

import type { Engine } from "../kernels/engine.ts";
import {
  K_ARP,
  K_ICMP,
  K_IPV4_FRAGMENT,
  K_TCP,
  K_UDP,
  TX_OFF,
  TX_PAYLOAD_OFF,
  TX_SIZE,
} from "../wire/layout.ts";
import { ArpPacket } from "../wire/arp_packet.ts";
import { EthernetFrame, ETHERTYPE_ARP, ETHERTYPE_IPV4 } from "../wire/ethernet_frame.ts";
import { IP_MF, Ipv4Header } from "../wire/ipv4_header.ts";
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP } from "../wire/checksum.ts";
import type { FrameSink } from "./interface_types.ts";
import { ARP_INCOMPLETE, type ArpActions, ArpCache, type ArpEntry } from "./arp_cache.ts";
import type { Counters } from "./counters.ts";
import {
  BROADCAST_HI,
  BROADCAST_LO,
  IPV4_MCAST_HI,
  ipv4MulticastLo,
  writeMac,
} from "./ethernet.ts";
import type { IfaceLimits } from "./limits.ts";
import { LoopbackQueue } from "./loopback.ts";
import { PathMtuCache } from "./pmtu.ts";
import { isMulticastIp, type Router } from "./routing.ts";

/** Start of this layer's area at the top of the transmit area. */
export const LANDING_BASE: number = TX_OFF + TX_SIZE - 66048;
/** Where a reassembled IPv4 datagram is placed for decodeIpv4. */
export const REASM_OFF: number = LANDING_BASE + 64;
/** Where the data of a datagram to fragment is placed (headroom for its headers in front). */
export const LANDING_DATA: number = LANDING_BASE + 128;
/**
 * Where a looped-back frame is placed to be received again: above the largest frame built at
 * TX_PAYLOAD_OFF and below LANDING_BASE, so replies built while it is received clobber nothing.
 */
export const LOOPBACK_RX_OFF: number = TX_PAYLOAD_OFF + 65536;
/** Payload offset of ARP frames (the 42-byte frame ends here). */
export const ARP_OFF: number = TX_OFF + TX_SIZE - 16;

/** Builds and sends frames for one interface. */
export class Transmitter implements ArpActions {
  /** The ARP cache the transmitter resolves through. */
  readonly arp: ArpCache;
  /** Path MTUs lowered by ICMP. */
  readonly pmtu: PathMtuCache;
  /** Frames to our own addresses, waiting to be received again (loopback.ts). */
  readonly loopback: LoopbackQueue;
  /** When we last defended our address (RFC 5227 2.4), for arp.ts. */
  lastDefend = -Infinity;
  /** Called when ARP gave up on an address (after its frames were dropped). */
  onUnreachable: ((ip: number, now: number) => void) | null = null;
  #engine: Engine;
  #sink: FrameSink;
  #router: Router;
  #counters: Counters;
  #macHi: number;
  #macLo: number;
  /** Our MAC's hi word. */
  get macHi(): number {
    return this.#macHi;
  }
  /** Our MAC's lo word (u32). */
  get macLo(): number {
    return this.#macLo;
  }
  #ttl: number;
  #mtu: number;
  /** Largest frame the link takes (a TCP segment above the MTU when the link does TSO). */
  #maxSend: number;
  #ipId: number;
  /** The headers of the frame being built (written to the transmit descriptor). */
  #eth = new EthernetFrame();
  #ip = new Ipv4Header();
  #arpOut = new ArpPacket();

  /** A transmitter for our MAC (hi/lo words) on the subnet of `router`. */
  constructor(
    engine: Engine,
    sink: FrameSink,
    router: Router,
    counters: Counters,
    opts: {
      macHi: number;
      macLo: number;
      ttl: number;
      mtu: number;
      maxSendFrame?: number;
      limits: IfaceLimits;
      idSeed: number;
    },
  ) {
    this.#engine = engine;
    this.#sink = sink;
    this.#router = router;
    this.#counters = counters;
    this.#macHi = opts.macHi;
    this.#macLo = opts.macLo;
    this.#ttl = opts.ttl;
    this.#mtu = opts.mtu;
    this.#maxSend = Math.max(opts.maxSendFrame ?? 0, opts.mtu + 14);
    this.#ipId = opts.idSeed & 0xffff;
    this.arp = new ArpCache(opts.limits, this);
    this.pmtu = new PathMtuCache(opts.mtu, opts.limits);
    this.loopback = new LoopbackQueue(opts.limits.loopbackQueueFrames);
  }

  /**
   * Fill the Ethernet and IPv4 fields of the transmit descriptor for a datagram of `kind`
   * from `src` to `dst`; `frag` carries the flags (DF = 0x4000). A new IP identification is
   * taken for every datagram (RFC 791; RFC 6864 allows any value on atomic datagrams).
   */
  ipHeader(kind: number, src: number, dst: number, frag: number, tos = 0): Int32Array {
    const d = this.#engine.txDesc;
    this.#ethernet(kind, ETHERTYPE_IPV4).toDesc(d);
    const ip = this.#ip;
    ip.tos = tos;
    ip.id = this.#ipId;
    this.#ipId = (this.#ipId + 1) & 0xffff;
    ip.frag = frag;
    ip.ttl = this.#ttl;
    ip.proto = kind === K_TCP ? PROTO_TCP : kind === K_UDP ? PROTO_UDP : PROTO_ICMP;
    ip.src = src >>> 0;
    ip.dst = dst >>> 0;
    ip.toDesc(d);
    return d;
  }

  /** The Ethernet record of an outgoing frame from our MAC (destination filled in by emit). */
  #ethernet(kind: number, ethertype: number): EthernetFrame {
    const e = this.#eth;
    e.kind = kind;
    e.dstHi = e.dstLo = 0;
    e.srcHi = this.#macHi;
    e.srcLo = this.#macLo;
    e.ethertype = ethertype;
    e.vlan = -1;
    return e;
  }

  /**
   * Encode the frame described by the transmit descriptor around the payload at
   * `mem[payloadOff, +payloadLen)` and send it to `nextHop`. Returns false when it was dropped
   * (encode error, ARP cache or queue full).
   */
  encodeAndSend(payloadOff: number, payloadLen: number, nextHop: number, now: number): boolean {
    // Nothing leaves larger than the link MTU (TCP is never fragmented: DF), but the TCP
    // segments of a link that takes large sends (TSO, src/tcp/tso.ts). TCP sizes its
    // segments, SACK blocks included, to the path MTU (payloadRoom in src/tcp/tcp_output.ts).
    const start = this.#engine.encode(payloadOff, payloadLen);
    if (start < 0) {
      this.#counters.inc(`encode-error-${-start}`);
      return false;
    }
    const len = payloadOff + payloadLen - start;
    if (len - 14 > this.#mtu && len > this.#maxSend) {
      this.#counters.inc("tx-too-big");
      return false;
    }
    return this.emit(nextHop, start, len, now);
  }

  /**
   * Send the IPv4 datagram described by the transmit descriptor (kind K_ICMP or K_UDP, 8-byte
   * L4 header) whose data lies at `mem[dataOff, +dataLen)`, fragmenting it when it exceeds
   * the path MTU toward `dst`.
   */
  sendDatagram(
    dataOff: number,
    dataLen: number,
    dst: number,
    nextHop: number,
    now: number,
  ): boolean {
    const mtu = this.pmtu.get(dst, now);
    if (20 + 8 + dataLen <= mtu) {
      if (dataOff !== TX_PAYLOAD_OFF) {
        this.#engine.mem.copyWithin(TX_PAYLOAD_OFF, dataOff, dataOff + dataLen);
      }
      return this.encodeAndSend(TX_PAYLOAD_OFF, dataLen, nextHop, now);
    }
    // Build the whole L4 message in the landing area (encode computes its checksum), then send
    // it in slices as fragments of one datagram (RFC 791 3.2, "fragmentation procedure").
    if (dataOff !== LANDING_DATA) {
      this.#engine.mem.copyWithin(LANDING_DATA, dataOff, dataOff + dataLen);
    }
    // The headers ipHeader() wrote; an ARP request sent for a fragment rewrites the Ethernet
    // fields, so every fragment writes both records again.
    const proto = this.#eth.kind === K_ICMP ? PROTO_ICMP : PROTO_UDP;
    const ip = this.#ip;
    if (this.#engine.encode(LANDING_DATA, dataLen) < 0) {
      this.#counters.inc("encode-error-fragment");
      return false;
    }
    const msgOff = LANDING_DATA - 8;
    const msgLen = dataLen + 8;
    const step = (mtu - 20) & ~7;
    let ok = true;
    for (let o = 0; o < msgLen; o += step) {
      const n = Math.min(step, msgLen - o);
      const more = o + n < msgLen;
      this.#engine.mem.copyWithin(TX_PAYLOAD_OFF, msgOff + o, msgOff + o + n);
      const t = this.#engine.txDesc;
      this.#ethernet(K_IPV4_FRAGMENT, ETHERTYPE_IPV4).toDesc(t);
      ip.proto = proto;
      ip.frag = (more ? IP_MF : 0) | (o >>> 3);
      ip.toDesc(t);
      this.#counters.inc("ip-fragments-out");
      ok = this.encodeAndSend(TX_PAYLOAD_OFF, n, nextHop, now) && ok;
    }
    return ok;
  }

  /**
   * Send the frame at `engine.mem[start, +len)` to the MAC of `nextHop`: local addresses go to
   * the loopback queue; broadcast and
   * multicast addresses map directly; others go through the ARP cache, and while it resolves
   * a copy of the frame waits in the bounded queue of that address.
   */
  emit(nextHop: number, start: number, len: number, now: number): boolean {
    // RFC 1122 3.2.1.3 (g): our own and 127/8 destinations loop back, never onto the link.
    if (this.#router.isLocal(nextHop)) {
      writeMac(this.#engine.mem, start, this.#macHi, this.#macLo);
      if (this.loopback.push(this.#engine.mem, start, len)) return true;
      this.#counters.inc("loopback-queue-full");
      return false;
    }
    if (this.#router.isBroadcast(nextHop)) {
      return this.#send(start, len, BROADCAST_HI, BROADCAST_LO);
    }
    if (isMulticastIp(nextHop)) {
      return this.#send(start, len, IPV4_MCAST_HI, ipv4MulticastLo(nextHop));
    }
    // lookup() may send an ARP request: it is built at ARP_OFF and leaves the frame intact.
    const entry = this.arp.get(nextHop);
    if (entry !== undefined && entry.state !== ARP_INCOMPLETE) {
      this.arp.use(entry, now);
      return this.#send(start, len, entry.macHi, entry.macLo);
    }
    const copy = this.#engine.mem.slice(start, start + len);
    const e = this.arp.lookup(nextHop, now);
    if (e === null) {
      this.#counters.inc("arp-cache-full");
      return false;
    }
    // RFC 1122 2.3.2.2: the latest frame is kept; a full queue drops its oldest (arp_cache.ts).
    const dropped = this.arp.enqueue(e, copy);
    if (dropped > 0) this.#counters.inc("arp-queue-full", dropped);
    return e.pending[e.pending.length - 1] === copy;
  }

  /** Send an ARP packet (RFC 826) with our MAC and `spa` as sender, to Ethernet hi/lo. */
  sendArp(
    op: number,
    spa: number,
    thaHi: number,
    thaLo: number,
    tpa: number,
    ethHi: number,
    ethLo: number,
  ): void {
    const d = this.#engine.txDesc;
    const e = this.#ethernet(K_ARP, ETHERTYPE_ARP);
    e.dstHi = ethHi;
    e.dstLo = ethLo >>> 0;
    e.toDesc(d);
    const a = this.#arpOut;
    a.op = op;
    a.shaHi = this.#macHi;
    a.shaLo = this.#macLo;
    a.spa = spa >>> 0;
    a.thaHi = thaHi;
    a.thaLo = thaLo >>> 0;
    a.tpa = tpa >>> 0;
    a.toDesc(d);
    const start = this.#engine.encode(ARP_OFF, 0);
    if (start < 0) {
      this.#counters.inc(`encode-error-${-start}`);
      return;
    }
    this.#counters.inc("arp-out");
    this.#out(this.#engine.mem, start, ARP_OFF - start);
  }

  /** ArpActions: a broadcast request (INCOMPLETE) or a unicast probe (PROBE, RFC 1122 2.3.2.1). */
  request(entry: ArpEntry, _now: number): void {
    const probe = entry.state !== ARP_INCOMPLETE;
    this.sendArp(
      1,
      this.#router.address,
      0,
      0,
      entry.ip,
      probe ? entry.macHi : BROADCAST_HI,
      probe ? entry.macLo : BROADCAST_LO,
    );
  }

  /** ArpActions: send the frames that waited for this entry, with its MAC filled in. */
  resolved(entry: ArpEntry, _now: number): void {
    const frames = entry.pending.splice(0);
    for (const f of frames) {
      writeMac(f, 0, entry.macHi, entry.macLo);
      this.#out(f, 0, f.length);
    }
  }

  /** ArpActions: drop the frames that waited, and report the address unreachable. */
  failed(entry: ArpEntry, now: number): void {
    this.#counters.inc("arp-unresolved", entry.pending.length);
    this.#counters.inc("arp-failed");
    entry.pending.length = 0;
    this.onUnreachable?.(entry.ip, now);
  }

  #send(start: number, len: number, hi: number, lo: number): boolean {
    const mem = this.#engine.mem;
    writeMac(mem, start, hi, lo);
    this.#out(mem, start, len);
    return true;
  }

  #out(buf: Uint8Array, off: number, len: number): void {
    this.#counters.framesOut++;
    this.#counters.bytesOut += len;
    this.#sink.send(buf, off, len);
  }
}
