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
  D_ARP_OP,
  D_ARP_SHA_HI,
  D_ARP_SHA_LO,
  D_ARP_SPA,
  D_ARP_THA_HI,
  D_ARP_THA_LO,
  D_ARP_TPA,
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_ETHERTYPE,
  D_IP_DST,
  D_IP_FRAG,
  D_IP_ID,
  D_IP_PROTO,
  D_IP_SRC,
  D_IP_TOS,
  D_IP_TTL,
  D_KIND,
  D_VLAN,
  K_ARP,
  K_ICMP,
  K_IPV4_FRAGMENT,
  TX_OFF,
  TX_PAYLOAD_OFF,
  TX_SIZE,
} from "../wire/layout.ts";
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
import { PathMtuCache } from "./pmtu.ts";
import { isMulticastIp, type Router } from "./routing.ts";

/** Start of this layer's area at the top of the transmit area. */
export const LANDING_BASE: number = TX_OFF + TX_SIZE - 66048;
/** Where a reassembled IPv4 datagram is placed for decodeIpv4. */
export const REASM_OFF: number = LANDING_BASE + 64;
/** Where the data of a datagram to fragment is placed (headroom for its headers in front). */
export const LANDING_DATA: number = LANDING_BASE + 128;
/** Payload offset of ARP frames (the 42-byte frame ends here). */
export const ARP_OFF: number = TX_OFF + TX_SIZE - 16;

/** IPv4 protocol numbers (RFC 790). */
export const PROTO_ICMP = 1;
/** TCP. */
export const PROTO_TCP = 6;
/** UDP. */
export const PROTO_UDP = 17;

/** Builds and sends frames for one interface. */
export class Transmitter implements ArpActions {
  /** The ARP cache the transmitter resolves through. */
  readonly arp: ArpCache;
  /** Path MTUs lowered by ICMP. */
  readonly pmtu: PathMtuCache;
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
  #ipId: number;

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
    this.#ipId = opts.idSeed & 0xffff;
    this.arp = new ArpCache(opts.limits, this);
    this.pmtu = new PathMtuCache(opts.mtu, opts.limits);
  }

  /**
   * Fill the Ethernet and IPv4 fields of the transmit descriptor for a datagram of `kind`
   * from `src` to `dst`; `frag` carries the flags (DF = 0x4000). A new IP identification is
   * taken for every datagram (RFC 791; RFC 6864 allows any value on atomic datagrams).
   */
  ipHeader(kind: number, src: number, dst: number, frag: number, tos = 0): Int32Array {
    const d = this.#engine.txDesc;
    d[D_KIND] = kind;
    d[D_ETH_DST_HI] = 0;
    d[D_ETH_DST_LO] = 0;
    d[D_ETH_SRC_HI] = this.#macHi;
    d[D_ETH_SRC_LO] = this.#macLo | 0;
    d[D_ETHERTYPE] = 0x0800;
    d[D_VLAN] = -1;
    d[D_IP_TOS] = tos;
    d[D_IP_ID] = this.#ipId;
    this.#ipId = (this.#ipId + 1) & 0xffff;
    d[D_IP_FRAG] = frag;
    d[D_IP_TTL] = this.#ttl;
    d[D_IP_SRC] = src | 0;
    d[D_IP_DST] = dst | 0;
    return d;
  }

  /**
   * Encode the frame described by the transmit descriptor around the payload at
   * `mem[payloadOff, +payloadLen)` and send it to `nextHop`. Returns false when it was dropped
   * (encode error, ARP cache or queue full).
   */
  encodeAndSend(payloadOff: number, payloadLen: number, nextHop: number, now: number): boolean {
    // Nothing leaves larger than the link MTU (TCP is never fragmented: DF). TCP sizes its
    // segments, SACK blocks included, to the path MTU (payloadRoom in src/tcp/tcp_output.ts).
    const start = this.#engine.encode(payloadOff, payloadLen);
    if (start < 0) {
      this.#counters.inc(`encode-error-${-start}`);
      return false;
    }
    const len = payloadOff + payloadLen - start;
    if (len - 14 > this.#mtu) {
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
    const d = this.#engine.txDesc;
    const proto = d[D_KIND] === K_ICMP ? PROTO_ICMP : PROTO_UDP;
    const id = d[D_IP_ID]!;
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
      // An ARP request sent for the previous fragment rewrote the Ethernet fields.
      t[D_KIND] = K_IPV4_FRAGMENT;
      t[D_ETHERTYPE] = 0x0800;
      t[D_ETH_SRC_HI] = this.#macHi;
      t[D_ETH_SRC_LO] = this.#macLo | 0;
      t[D_IP_PROTO] = proto;
      t[D_IP_ID] = id;
      t[D_IP_FRAG] = (more ? 0x2000 : 0) | (o >>> 3);
      this.#counters.inc("ip-fragments-out");
      ok = this.encodeAndSend(TX_PAYLOAD_OFF, n, nextHop, now) && ok;
    }
    return ok;
  }

  /**
   * Send the frame at `engine.mem[start, +len)` to the MAC of `nextHop`: broadcast and
   * multicast addresses map directly; others go through the ARP cache, and while it resolves
   * a copy of the frame waits in the bounded queue of that address.
   */
  emit(nextHop: number, start: number, len: number, now: number): boolean {
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
    if (!this.arp.enqueue(e, copy)) {
      this.#counters.inc("arp-queue-full");
      return false;
    }
    return true;
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
    d[D_KIND] = K_ARP;
    d[D_ETH_SRC_HI] = this.#macHi;
    d[D_ETH_SRC_LO] = this.#macLo | 0;
    d[D_ETH_DST_HI] = ethHi;
    d[D_ETH_DST_LO] = ethLo | 0;
    d[D_ETHERTYPE] = 0x0806;
    d[D_VLAN] = -1;
    d[D_ARP_OP] = op;
    d[D_ARP_SHA_HI] = this.#macHi;
    d[D_ARP_SHA_LO] = this.#macLo | 0;
    d[D_ARP_SPA] = spa | 0;
    d[D_ARP_THA_HI] = thaHi;
    d[D_ARP_THA_LO] = thaLo | 0;
    d[D_ARP_TPA] = tpa | 0;
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
