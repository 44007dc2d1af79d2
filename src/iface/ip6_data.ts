/**
 * The interface's IPv6 data path, sans-I/O: TCP and UDP over IPv6 (RFC 8200, RFC 9293,
 * RFC 768). Received TCP segments and UDP datagrams to our IPv6 addresses (and ::1 from the
 * loopback path) go to the TCP layer and the UDP sockets with their addresses as numeric
 * handles of the address table (addr6_table.ts); the TCP layer's segments toward an IPv6
 * handle are built here (kind K_TCP6, addresses at TX_IP6_SRC / TX_IP6_DST) and sent through
 * the IPv6 host's `emit6` toward `route6`'s next hop (ip6_types.ts). There is no DF in IPv6:
 * TCP sizes its segments to the path MTU (MSS = MTU - 60) and is never fragmented. ICMPv6
 * errors the host reports (`onError6`) reach TCP as the IPv4 ICMP ones do.
 *
 * @module
 */

import type { Engine } from "../kernels/engine.ts";
import type { TcpHandler, TcpIcmpError, TcpIcmpReport } from "../tcp/contract.ts";
import { isIpv6Handle } from "../wire/ip_handle.ts";
import {
  D_DST_PORT,
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_ETHERTYPE,
  D_IP6_FLOW,
  D_IP_DST,
  D_IP_SRC,
  D_IP_TOS,
  D_IP_TTL,
  D_KIND,
  D_L3_OFF,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  D_SRC_PORT,
  D_VLAN,
  K_TCP6,
  K_UDP6,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../wire/layout.ts";
import { formatIpv6 } from "../wire/ipv6_address.ts";
import { TcpSegment } from "../wire/tcp_segment.ts";
import { Addr6Table } from "./addr6_table.ts";
import type { Counters } from "./counters.ts";
import { IfaceError } from "./errors.ts";
import { writeMac } from "./ethernet.ts";
import type { Ip6ErrorReport, Ip6Route, Ip6Services } from "./ip6_types.ts";
import type { UdpSocket, UdpTable } from "./udp.ts";

/** The loopback address ::1. */
const LOOPBACK6 = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
/** Hop limit of what we send (RFC 8200 section 3; Linux hop_limit 64). */
const HOP_LIMIT = 64;

/** The loopback address ::1 at m[off, off+16). */
export function isLoopback6(m: Uint8Array, off: number): boolean {
  for (let i = 0; i < 15; i++) if (m[off + i] !== 0) return false;
  return m[off + 15] === 1;
}

/** The route toward ::1 (RFC 4291 2.5.3: never onto the link). */
const LOOPBACK_ROUTE: Ip6Route = { nextHop: LOOPBACK6, source: LOOPBACK6 };

function unspecified(m: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (m[off + i] !== 0) return false;
  return true;
}

/**
 * The TCP name of an ICMPv6 error (RFC 4443 3.1 codes; as Linux icmpv6_err_convert: port
 * unreachable refuses a connection attempt, the others are soft errors or "unreachable").
 */
function tcpErrorOf(r: Ip6ErrorReport): TcpIcmpError {
  if (r.kind === "too-big") return "fragmentation-needed";
  if (r.kind === "time-exceeded") return "time-exceeded";
  if (r.kind === "parameter-problem") return "parameter-problem";
  switch (r.code) {
    case 0:
      return "net-unreachable"; // no route to destination
    case 1:
    case 5:
    case 6:
      return "admin-prohibited"; // prohibited, ingress policy, reject route
    case 4:
      return "port-unreachable";
    default:
      return "host-unreachable"; // beyond scope, address unreachable
  }
}

/** TCP and UDP over IPv6 for one interface. */
export class Ip6Data {
  /** Handles of IPv6 addresses (ours pinned, peers held by their connections). */
  readonly addrs: Addr6Table;
  /** The IPv6 host: routing, neighbors, path MTU, errors. */
  readonly svc: Ip6Services;
  /** The TCP layer, once attached. */
  tcp: TcpHandler | null = null;
  #engine: Engine;
  #counters: Counters;
  #udp: UdpTable;
  #mtu: number;
  #loop: (start: number, len: number) => boolean;
  /** Largest frame the link takes when it is a TCP segment (TSO), else 0. */
  #maxSend: number;
  /** Fragmentation of our oversized UDP datagrams (fragments6_host.ts), when given. */
  #fragment:
    | ((s: number, l: number, mtu: number, emit: (s: number, l: number) => void) => void)
    | null;
  #macHi: number;
  #macLo: number;
  #seg = new TcpSegment();
  /**
   * The route of the last segment sent, reused for the segments of the same destination in
   * the same millisecond (a burst): route6 is asked again at least once per ms.
   */
  #rtHandle = -1;
  #rtAt = -1;
  #rt: Ip6Route | null = null;
  #report: TcpIcmpReport = {
    kind: "host-unreachable",
    localIp: 0,
    localPort: 0,
    remoteIp: 0,
    remotePort: 0,
    seq: 0,
    mtu: 0,
  };

  constructor(
    engine: Engine,
    svc: Ip6Services,
    opts: {
      counters: Counters;
      udp: UdpTable;
      mtu: number;
      macHi: number;
      macLo: number;
      tableSize: number;
      seed: number;
      ours: readonly Uint8Array[];
      /** Queue the frame at `engine.mem[start, +len)` on the loopback path; false when full. */
      loop: (start: number, len: number) => boolean;
      /** The link's `maxSendFrame` (TSO), 0 when none. */
      maxSendFrame?: number;
      /** Send the frame at `engine.mem[start, +len)`, over `mtu`, in fragments through `emit`. */
      fragment?: (
        start: number,
        len: number,
        mtu: number,
        emit: (start: number, len: number) => void,
      ) => void;
    },
  ) {
    this.#loop = opts.loop;
    this.#maxSend = opts.maxSendFrame ?? 0;
    this.#fragment = opts.fragment ?? null;
    this.#engine = engine;
    this.svc = svc;
    this.#counters = opts.counters;
    this.#udp = opts.udp;
    this.#mtu = opts.mtu;
    this.#macHi = opts.macHi;
    this.#macLo = opts.macLo;
    this.addrs = new Addr6Table(opts.tableSize, opts.seed);
    this.addrs.pin(LOOPBACK6);
    for (const a of opts.ours) this.addrs.pin(a);
    svc.onError6 = (r, now) => this.#error(r, now);
    svc.onUnreachable6 = (a, now) => {
      const h = this.addrs.lookup(a, 0);
      if (h >= 0) this.tcp?.unreachable(h, now);
    };
  }

  /** The handle of ::1. */
  get loopbackHandle(): number {
    return this.addrs.lookup(LOOPBACK6, 0);
  }

  /**
   * The TCP or UDP datagram over IPv6 decoded in rxDesc. Returns false when it is not ours to
   * take (not to one of our addresses, or UDP to a port no socket holds): the IPv6 host
   * (icmp6.ts) then counts it and answers as RFC 4443 asks (port unreachable, 3.1 code 4).
   */
  input(looped: boolean, now: number): boolean {
    const d = this.#engine.rxDesc;
    const m = this.#engine.mem;
    const c = this.#counters;
    const l3 = d[D_L3_OFF]!;
    const dstOff = l3 + 24, srcOff = l3 + 8;
    const loop6 = isLoopback6(m, dstOff);
    const ours = loop6 ? looped : this.svc.isOurs(m, dstOff);
    // Gateway mode: unicast to other hosts too (not link-local: those are not routed).
    const foreign = !ours && this.foreign6 && !looped && m[dstOff] !== 0xff &&
      !(m[dstOff] === 0xfe && (m[dstOff + 1]! & 0xc0) === 0x80) && !unspecified(m, dstOff);
    if (!ours && !foreign) return false;
    // RFC 4291 2.5.2, 2.7: never from the unspecified or a multicast address; ::1 and our own
    // addresses only from the loopback path (RFC 4291 2.5.3).
    if (
      m[srcOff] === 0xff || unspecified(m, srcOff) ||
      (!looped && (isLoopback6(m, srcOff) || this.svc.isOurs(m, srcOff)))
    ) {
      c.inc("ip6-bad-source");
      return true;
    }
    let dst = this.addrs.lookup(m, dstOff);
    let tmp = -1;
    if (dst < 0 && foreign) {
      if (d[D_KIND] !== K_TCP6) return this.#foreignUdp(m, d, srcOff, dstOff);
      // Held during the input only: the gateway's relay holds it for a connection.
      dst = this.addrs.probe(m, dstOff);
      if (!this.addrs.hold(dst)) {
        c.inc("ip6-address-table-full");
        return true;
      }
      tmp = dst;
    } else if (dst < 0) {
      try {
        dst = this.addrs.pin(m.slice(dstOff, dstOff + 16)); // an address of ours added later
      } catch {
        c.inc("ip6-address-table-full");
        return true;
      }
    }
    if (d[D_KIND] === K_TCP6) {
      const tcp = this.tcp;
      if (tcp === null) { // no TCP layer: the IPv6 host answers port unreachable
        if (tmp >= 0) this.release(tmp);
        return false;
      }
      // Looked up, not entered: the entry is made only if a connection holds it.
      const src = this.addrs.probe(m, srcOff);
      const seg = this.#seg.fromDesc(d);
      seg.srcIp = src;
      seg.dstIp = dst;
      c.tcpIn++;
      tcp.input(seg, now);
      if (tmp >= 0) this.release(tmp);
      return true;
    }
    if (foreign) return this.#foreignUdp(m, d, srcOff, dstOff);
    c.inc("udp6-in");
    const sock = this.#udp.find(dst, d[D_DST_PORT]!);
    const off = d[D_PAYLOAD_OFF]!;
    const data = m.subarray(off, off + d[D_PAYLOAD_LEN]!);
    if (sock === undefined) {
      if (!looped && this.#foreignUdp(m, d, srcOff, dstOff)) return true;
      c.inc("udp6-no-socket");
      return false;
    }
    if (!sock.deliver(data, 0, d[D_SRC_PORT]!, m.subarray(srcOff, srcOff + 16))) {
      c.inc("udp-queue-full");
    }
    return true;
  }

  /**
   * Gateway mode (src/gateway): UDP to one of our addresses' ports no socket holds goes here
   * (views of packet memory, valid only during the call); true when taken, false to answer
   * port unreachable as without it.
   */
  foreignUdp6:
    | ((src: Uint8Array, sp: number, dst: Uint8Array, dp: number, data: Uint8Array) => boolean)
    | null = null;

  /**
   * Gateway mode: one UDP datagram from any of our addresses `src` and any port (a relayed
   * reply). False when unroutable, larger than the path MTU, or dropped.
   */
  udpSendFrom(
    src: Uint8Array,
    srcPort: number,
    remote: Uint8Array,
    port: number,
    data: Uint8Array,
    now: number,
  ): boolean {
    const r = this.#route(remote);
    if (r === null || remote[0] === 0xff) return false;
    if (48 + data.length > this.svc.pathMtu6(remote, now)) return false;
    const e = this.#engine, m = e.mem;
    m.set(data, TX_PAYLOAD_OFF);
    m.set(remote, TX_IP6_DST);
    m.set(src, TX_IP6_SRC);
    const t = e.txDesc;
    t.fill(0);
    t[D_SRC_PORT] = srcPort;
    t[D_DST_PORT] = port;
    this.#header(t, K_UDP6);
    this.#counters.inc("udp6-out");
    return this.#emit(r.nextHop, data.length, now);
  }

  /** Gateway mode: take TCP and UDP to other hosts' unicast addresses (not link-local). */
  foreign6 = false;

  #foreignUdp(m: Uint8Array, d: Int32Array, srcOff: number, dstOff: number): boolean {
    const f = this.foreignUdp6;
    const off = d[D_PAYLOAD_OFF]!;
    const data = m.subarray(off, off + d[D_PAYLOAD_LEN]!);
    const src16 = m.subarray(srcOff, srcOff + 16), dst16 = m.subarray(dstOff, dstOff + 16);
    if (f === null || !f(src16, d[D_SRC_PORT]!, dst16, d[D_DST_PORT]!, data)) return false;
    this.#counters.inc("udp6-foreign");
    return true;
  }

  /** route6, and ::1 to itself. */
  #route(dst: Uint8Array): Ip6Route | null {
    return isLoopback6(dst, 0) ? LOOPBACK_ROUTE : this.svc.route6(dst);
  }

  /** Our source address's handle toward handle `h`, -1 when unroutable. */
  #routeSource(h: number): number {
    const b = this.addrs.bytes(h);
    const r = this.#route(b);
    if (r === null) return -1;
    const s = this.addrs.lookup(r.source, 0);
    if (s >= 0) return s;
    try {
      return this.addrs.pin(Uint8Array.from(r.source));
    } catch {
      return -1;
    }
  }

  /** Drop a connection's reference to a peer's handle (TcpTransmit.releaseAddress). */
  release(h: number): void {
    this.addrs.release(h);
    if (h === this.#rtHandle && !this.addrs.isEntry(h)) this.#rtHandle = -1; // slot reusable
  }

  /** TcpTransmit.sourceFor for an IPv6 handle: our source toward it, -1 when unroutable. */
  sourceFor(h: number): number {
    if (!this.addrs.holdable(h)) {
      this.#counters.inc("ip6-address-table-full");
      return -1;
    }
    const b = this.addrs.bytes(h);
    if (b[0] === 0xff || unspecified(b, 0)) return -1; // RFC 9293 3.10.7.2: no TCP to multicast
    return this.#routeSource(h);
  }

  /**
   * TcpTransmit.tsoMax for an IPv6 handle: `most` toward a peer on the link (not ours, not ::1)
   * whose path MTU is the link's (a device cuts large segments at the link MTU), else 0.
   */
  tsoMax(h: number, now: number, most: number): number {
    const b = this.addrs.bytes(h);
    if (isLoopback6(b, 0) || this.svc.isOurs(b, 0)) return 0;
    const r = this.svc.route6(b);
    if (r === null || this.svc.isOurs(r.nextHop, 0)) return 0;
    return this.svc.pathMtu6(b, now) < this.#mtu ? 0 : Math.min(most, 65535);
  }

  /**
   * TcpTransmit.confirmNeighbor for an IPv6 handle: the neighbor entry of the next hop toward
   * it is confirmed (RFC 4861 7.3.1 forward progress). Returns when confirming again is useful
   * (a quarter of ReachableTime later), Infinity toward ::1 and our own addresses.
   */
  confirm(h: number, now: number): number {
    const b = this.addrs.bytes(h);
    if (isLoopback6(b, 0) || this.svc.isOurs(b, 0)) return Infinity;
    const r = this.svc.route6(b);
    return now + (this.svc.confirm6(r === null ? b : r.nextHop, now) >>> 2);
  }

  /** TcpTransmit.pathMtu for an IPv6 handle. */
  pathMtu(h: number, now: number): number {
    const b = this.addrs.bytes(h);
    return isLoopback6(b, 0) ? this.#mtu : this.svc.pathMtu6(b, now);
  }

  /** TcpTransmit.sendTcp toward an IPv6 handle. */
  sendTcp(seg: TcpSegment, ring: number, now: number): boolean {
    const dstB = this.addrs.bytes(seg.dstIp);
    let r = this.#rt;
    if (seg.dstIp !== this.#rtHandle || now !== this.#rtAt) {
      r = this.#route(dstB);
      // Only for an entry: a tentative handle names another address at the next probe.
      if (this.addrs.isEntry(seg.dstIp)) {
        this.#rt = r;
        this.#rtHandle = seg.dstIp;
        this.#rtAt = now;
      }
    }
    const e = this.#engine;
    if (r === null || dstB[0] === 0xff) {
      this.#counters.inc("tcp-no-route");
      return false;
    }
    const m = e.mem;
    this.addrs.copyTo(seg.dstIp, m, TX_IP6_DST);
    if (isIpv6Handle(seg.srcIp)) this.addrs.copyTo(seg.srcIp, m, TX_IP6_SRC);
    else m.set(r.source, TX_IP6_SRC);
    const t = e.txDesc;
    seg.toDesc(t);
    this.#header(t, K_TCP6);
    const len = ring >= 0 ? seg.payloadLen : 0;
    if (len > 0) e.sndCopy(ring, seg.seq, len, TX_PAYLOAD_OFF);
    this.#counters.tcpOut++;
    return this.#emit(r.nextHop, len, now);
  }

  /** UdpOwner.udpSend toward an IPv6 address (16 bytes). */
  udpSend(sock: UdpSocket, data: Uint8Array, remote: Uint8Array, port: number, now: number): void {
    if ((isIpv6Handle(sock.localIp) === false && sock.localIp !== 0) || sock.ipv4Only) {
      throw new RangeError("Cannot send to an IPv6 address from a socket bound to IPv4");
    }
    if (remote[0] === 0xff || unspecified(remote, 0)) {
      throw new RangeError(`Cannot send UDP to ${formatIpv6(remote)}`);
    }
    const r = this.#route(remote);
    if (r === null) throw new IfaceError("unreachable", `No route to ${formatIpv6(remote)}`);
    const mtu = isLoopback6(remote, 0) ? this.#mtu : this.svc.pathMtu6(remote, now);
    if (data.length > 65527) {
      throw new RangeError(`UDP datagram of ${data.length} bytes exceeds 65527 (IPv6 payload)`);
    }
    const e = this.#engine, m = e.mem;
    m.set(data, TX_PAYLOAD_OFF);
    m.set(remote, TX_IP6_DST);
    if (sock.localIp !== 0) this.addrs.copyTo(sock.localIp, m, TX_IP6_SRC);
    else m.set(r.source, TX_IP6_SRC);
    const t = e.txDesc;
    t.fill(0);
    t[D_SRC_PORT] = sock.localPort;
    t[D_DST_PORT] = port;
    this.#header(t, K_UDP6);
    this.#counters.inc("udp6-out");
    this.#emit(r.nextHop, data.length, now, mtu);
  }

  #header(t: Int32Array, kind: number): void {
    t[D_IP_SRC] = 0;
    t[D_IP_DST] = 0;
    t[D_KIND] = kind;
    t[D_VLAN] = -1;
    t[D_ETHERTYPE] = 0x86dd;
    t[D_ETH_DST_HI] = 0;
    t[D_ETH_DST_LO] = 0;
    t[D_ETH_SRC_HI] = this.#macHi;
    t[D_ETH_SRC_LO] = this.#macLo | 0;
    t[D_IP_TTL] = HOP_LIMIT;
    t[D_IP_TOS] = 0;
    t[D_IP6_FLOW] = 0;
  }

  /** Encode and send; `fragMtu` > 0 (UDP): in fragments when larger than it. */
  #emit(nextHop: Uint8Array, len: number, now: number, fragMtu = 0): boolean {
    const start = this.#engine.encode(TX_PAYLOAD_OFF, len);
    if (start < 0) {
      this.#counters.inc(`encode-error-${-start}`);
      return false;
    }
    const flen = TX_PAYLOAD_OFF + len - start;
    if (fragMtu > 0 && flen - 14 > fragMtu && this.#fragment !== null) {
      // RFC 8200 4.5: a UDP datagram over the path MTU leaves in fragments (fragments6_host.ts).
      let ok = true;
      this.#fragment(start, flen, fragMtu, (s, l) => ok = this.#out(nextHop, s, l, now) && ok);
      return ok;
    }
    // Nothing larger than the link MTU, but TCP segments built for a link that takes large
    // sends (TSO, tsoMax); UDP is sized to the path MTU before.
    if (flen - 14 > this.#mtu && flen > this.#maxSend) {
      this.#counters.inc("tx-too-big");
      return false;
    }
    return this.#out(nextHop, start, flen, now);
  }

  #out(nextHop: Uint8Array, start: number, flen: number, now: number): boolean {
    if (!isLoopback6(nextHop, 0)) return this.svc.emit6(nextHop, start, flen, now);
    writeMac(this.#engine.mem, start, this.#macHi, this.#macLo);
    if (this.#loop(start, flen)) return true;
    this.#counters.inc("loopback-queue-full");
    return false;
  }

  /** An ICMPv6 error about one of our TCP segments: to the TCP layer (RFC 4443, RFC 8201). */
  #error(r: Ip6ErrorReport, now: number): void {
    if (r.proto !== 6 || this.tcp === null) return;
    const l = this.addrs.lookup(r.src, 0), p = this.addrs.lookup(r.dst, 0);
    if (l < 0 || p < 0) return this.#counters.inc("icmp6-error-no-connection");
    const rep = this.#report;
    rep.kind = tcpErrorOf(r);
    rep.localIp = l;
    rep.localPort = r.srcPort;
    rep.remoteIp = p;
    rep.remotePort = r.dstPort;
    rep.seq = r.seq;
    rep.mtu = r.mtu;
    this.tcp.icmpError(rep, now);
  }
}
