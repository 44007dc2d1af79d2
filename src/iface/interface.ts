/**
 * The interface layer, sans-I/O: one Ethernet interface with one IPv4 address. It takes
 * frames lying in the engine's packet memory, decodes them through the engine, answers ARP
 * and ping, reassembles fragments, serves UDP sockets, hands TCP segments to the TCP layer,
 * and sends what the TCP layer and the sockets give it. Time is passed in (ms).
 *
 * Reassembled datagrams are written to this layer's area at the top of the transmit area
 * (transmit.ts REASM_OFF) and decoded there with engine.decodeIpv4, so TCP, UDP and ICMP see
 * them exactly like unfragmented ones.
 *
 * @example
 * ```ts
 * import { createJsEngine } from "../kernels/js_engine.ts";
 * import { Interface } from "./interface.ts";
 * const frames: number[] = [];
 * const iface = new Interface(createJsEngine(), { send: (_b, _o, len) => frames.push(len) }, {
 *   address: 0x0a000002, prefixLength: 24, mtu: 1500, random: () => 0.25,
 * });
 * if (iface.route(0x08080808) !== null) throw new Error("no gateway: unroutable");
 * if (iface.route(0x0a000001)?.nextHop !== 0x0a000001) throw new Error("on-link");
 * ```
 *
 * @module
 */

import type { Engine } from "../kernels/engine.ts";
import {
  D_DST_PORT,
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_IP_DST,
  D_IP_FRAG,
  D_IP_HLEN,
  D_IP_ID,
  D_IP_PROTO,
  D_IP_SRC,
  D_KIND,
  D_L3_OFF,
  D_L4_LEN,
  D_L4_OFF,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  D_SRC_PORT,
  D_VLAN,
  K_ARP,
  K_ETH_OTHER,
  K_ICMP,
  K_IPV4_FRAGMENT,
  K_IPV4_OTHER,
  K_TCP,
  K_UDP,
  TX_PAYLOAD_OFF,
} from "../wire/layout.ts";
import type { TcpHandler, TcpTransmit } from "../tcp/contract.ts";
import { dropName } from "../wire/drop.ts";
import { TcpSegment } from "../wire/tcp_segment.ts";
import { arpInput } from "./arp.ts";
import { Counters } from "./counters.ts";
import { IfaceError } from "./errors.ts";
import { filterDestination, isGroupMac, macHi, macLo, randomMac } from "./ethernet.ts";
import { Reassembler } from "./fragments.ts";
import {
  CODE_PORT_UNREACHABLE,
  CODE_PROTOCOL_UNREACHABLE,
  Icmp,
  ICMP_UNREACHABLE,
} from "./icmp.ts";
import type { FrameSink, InterfaceOptions } from "./interface_types.ts";
import { type IfaceLimits, resolveLimits } from "./limits.ts";
import { formatIpv4, isMulticastIp, type Route, Router } from "./routing.ts";
import { REASM_OFF, Transmitter } from "./transmit.ts";
import { type UdpOwner, type UdpSocket, UdpTable } from "./udp.ts";

export type { FrameSink, InterfaceOptions } from "./interface_types.ts";
export type { IfaceLimits } from "./limits.ts";
export { IfaceError } from "./errors.ts";
export { UdpSocket } from "./udp.ts";

/** One Ethernet interface with one IPv4 address. */
export class Interface implements TcpTransmit, UdpOwner {
  /** Our MAC (6 bytes). */
  readonly mac: Uint8Array;
  /** Our IPv4 address (u32). */
  readonly address: number;
  /** The on-link prefix length. */
  readonly prefixLength: number;
  /** The link's IP MTU. */
  readonly mtu: number;
  /** The limits in force. */
  readonly limits: Readonly<IfaceLimits>;
  #engine: Engine;
  #router: Router;
  #counters = new Counters();
  #tx: Transmitter;
  #icmp: Icmp;
  #frags: Reassembler;
  #udp: UdpTable;
  #tcp: TcpHandler | null = null;
  #seg = new TcpSegment();
  #macHi: number;
  #macLo: number;
  #multicast: boolean;
  #now = 0;

  /**
   * An interface sending through `sink`. Throws a RangeError for an MTU below 68 (RFC 791) or
   * above 65535, a MAC that is not 6 bytes, a bad prefix or an off-link gateway.
   */
  constructor(engine: Engine, sink: FrameSink, options: InterfaceOptions) {
    if (!Number.isInteger(options.mtu) || options.mtu < 68 || options.mtu > 65535) {
      throw new RangeError(`Interface MTU must be 68..65535, got ${options.mtu}`);
    }
    const random = options.random ?? Math.random;
    const mac = options.mac ?? randomMac(random);
    if (mac.length !== 6) throw new RangeError(`MAC must be 6 bytes, got ${mac.length}`);
    if (isGroupMac(macHi(mac))) throw new RangeError("MAC must be a unicast address");
    this.mac = Uint8Array.from(mac);
    this.#macHi = macHi(mac);
    this.#macLo = macLo(mac);
    this.#engine = engine;
    this.#router = new Router(options.address, options.prefixLength, options.gateway);
    this.address = this.#router.address;
    this.prefixLength = options.prefixLength;
    this.mtu = options.mtu;
    this.#multicast = options.acceptMulticast ?? false;
    this.limits = resolveLimits(options.limits);
    const ttl = options.ttl ?? 64;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) {
      throw new RangeError(`TTL must be 1..255, got ${ttl}`);
    }
    this.#tx = new Transmitter(engine, sink, this.#router, this.#counters, {
      macHi: this.#macHi,
      macLo: this.#macLo,
      ttl,
      mtu: options.mtu,
      limits: this.limits,
      idSeed: Math.floor(random() * 65536),
    });
    this.#tx.onUnreachable = (ip, now) => this.#tcp?.unreachable(ip, now);
    this.#icmp = new Icmp(engine, this.#tx, this.#router, this.#counters, this.limits);
    this.#frags = new Reassembler(this.limits);
    this.#udp = new UdpTable(Math.floor(random() * 65536));
  }

  /** Attach the TCP layer; until then TCP segments are counted as "tcp-no-handler" and dropped. */
  attachTcp(handler: TcpHandler): void {
    this.#tcp = handler;
    this.#icmp.tcp = handler;
  }

  /** Announce our address once (a gratuitous ARP request, RFC 5227 section 2.3). */
  start(now: number): void {
    this.#now = now;
    this.#tx.sendArp(1, this.address, 0, 0, this.address, 0xffff, 0xffffffff);
  }

  /** Process one frame lying in `engine.mem[off, off+len)`. Never throws on any bytes. */
  receive(off: number, len: number, now: number): void {
    this.#now = now;
    const c = this.#counters;
    c.framesIn++;
    c.bytesIn += len;
    const verdict = this.#engine.decode(off, len);
    if (verdict !== 0) return c.inc(dropName(verdict));
    const d = this.#engine.rxDesc;
    const eth = filterDestination(
      d[D_ETH_DST_HI]!,
      d[D_ETH_DST_LO]!,
      this.#macHi,
      this.#macLo,
      this.#multicast,
    );
    if (eth === "not-for-us") return c.inc("eth-not-for-us");
    // No VLAN is configured here: tagged frames belong to another interface (like Linux).
    if (d[D_VLAN]! >= 0) return c.inc("eth-vlan-tagged");
    const kind = d[D_KIND]!;
    if (kind === K_ARP) {
      return arpInput(this.#engine.rxDesc, this.#tx, this.#router, this.#counters, now);
    }
    if (kind === K_ETH_OTHER) return c.inc("eth-unknown-type");
    this.#ipv4(d[D_L3_OFF]!, eth !== "unicast", now);
  }

  /** ARP retries and aging, fragment timeouts. */
  poll(now: number): void {
    this.#now = now;
    this.#tx.arp.poll(now);
    const expired = this.#frags.poll(now, (x) => this.#icmp.reassemblyTimeout(x, now));
    if (expired > 0) this.#counters.inc("frag-timeout", expired);
  }

  /** The earliest deadline of poll() in ms, or Infinity. */
  pollAt(): number {
    return Math.min(this.#tx.arp.pollAt(), this.#frags.pollAt());
  }

  /**
   * Bind a UDP socket to `port` (0 = a free ephemeral port) on `localIp` (0 or absent = any of
   * our addresses). Throws IfaceError "addr-in-use", RangeError for a bad port or an address
   * that is not ours.
   */
  udpBind(port: number, localIp = 0): UdpSocket {
    if (localIp !== 0 && localIp >>> 0 !== this.address) {
      throw new RangeError(`Address ${formatIpv4(localIp)} is not an address of this interface`);
    }
    return this.#udp.bind(this, port, localIp, this.limits.udpQueueDatagrams);
  }

  /**
   * Send an ICMP echo request (ping) of `data` to `dst` with identifier and sequence number;
   * larger than the path MTU, it is fragmented. Replies arrive through `onEchoReply`. Throws
   * IfaceError "unreachable" when there is no route, RangeError for more than 65507 bytes.
   */
  ping(dst: number, ident: number, seq: number, data: Uint8Array = new Uint8Array(56)): void {
    if (data.length > 65507) {
      throw new RangeError(`Echo data of ${data.length} bytes exceeds 65507`);
    }
    if (!this.#icmp.sendEcho(dst >>> 0, ident, seq, data, this.#now)) {
      throw new IfaceError("unreachable", `No route to ${formatIpv4(dst)}`);
    }
  }

  /** Called (synchronously, from receive) with each echo reply: source, identifier, sequence, data. */
  set onEchoReply(
    fn: ((from: number, ident: number, seq: number, data: Uint8Array) => void) | null,
  ) {
    this.#icmp.onEchoReply = fn;
  }

  /** The echo-reply callback. */
  get onEchoReply(): ((from: number, ident: number, seq: number, data: Uint8Array) => void) | null {
    return this.#icmp.onEchoReply;
  }

  /** The next hop and source address toward `dst`, or null when unroutable. */
  route(dst: number): Route | null {
    return this.#router.route(dst);
  }

  /** Counters: frames and bytes in and out, per-protocol counts, drops by reason, gauges. */
  stats(): Record<string, number> {
    const s = this.#counters.snapshot();
    s["arp-cache-entries"] = this.#tx.arp.size;
    s["arp-probe-failed"] = this.#tx.arp.probeFailures;
    s["arp-incomplete-evicted"] = this.#tx.arp.incompleteEvicted;
    s["frag-memory"] = this.#frags.memory;
    s["frag-datagrams"] = this.#frags.datagrams;
    s["udp-sockets"] = this.#udp.size;
    return s;
  }

  // ---- TcpTransmit (src/tcp/contract.ts) ----

  /**
   * Build and send a TCP segment: IPv4 with DF (RFC 1191 path MTU discovery, as Linux), our
   * TTL, payload copied from send ring `ring`. Uses the time of the last receive/poll call for
   * ARP bookkeeping. False when unroutable or the ARP cache/queue is full.
   */
  sendTcp(seg: TcpSegment, ring: number): boolean {
    const dst = seg.dstIp >>> 0;
    const nh = this.#router.nextHop(dst);
    // RFC 1122 4.2.3.10: no TCP to broadcast or multicast addresses.
    if (nh < 0 || this.#router.isBroadcast(dst) || isMulticastIp(dst)) {
      this.#counters.inc("tcp-no-route");
      return false;
    }
    // RFC 1191 / Linux: DF on every TCP segment (path MTU discovery).
    const t = this.#tx.ipHeader(K_TCP, seg.srcIp, dst, 0x4000);
    seg.toDesc(t);
    if (seg.srcIp === 0) t[D_IP_SRC] = this.address | 0; // bound to "any": use ours
    const len = ring >= 0 ? seg.payloadLen : 0;
    if (len > 0) this.#engine.sndCopy(ring, seg.seq, len, TX_PAYLOAD_OFF);
    this.#counters.tcpOut++;
    return this.#tx.encodeAndSend(TX_PAYLOAD_OFF, len, nh, this.#now);
  }

  /** The IP MTU toward `remoteIp`: the link MTU, lowered by ICMP fragmentation-needed. */
  pathMtu(remoteIp: number): number {
    return this.#tx.pmtu.get(remoteIp, this.#now);
  }

  /** Our address when `remoteIp` is routable, else -1. */
  sourceFor(remoteIp: number): number {
    const dst = remoteIp >>> 0;
    if (this.#router.nextHop(dst) < 0 || this.#router.isBroadcast(dst) || isMulticastIp(dst)) {
      return -1;
    }
    return this.address;
  }

  // ---- UdpOwner ----

  /** Send one UDP datagram (called by UdpSocket.send). */
  udpSend(sock: UdpSocket, data: Uint8Array, remoteIp: number, remotePort: number): void {
    const nh = this.#router.nextHop(remoteIp);
    if (nh < 0) throw new IfaceError("unreachable", `No route to ${formatIpv4(remoteIp)}`);
    const src = sock.localIp === 0 ? this.address : sock.localIp;
    this.#engine.mem.set(data, TX_PAYLOAD_OFF);
    const t = this.#tx.ipHeader(K_UDP, src, remoteIp, 0);
    t[D_SRC_PORT] = sock.localPort;
    t[D_DST_PORT] = remotePort;
    this.#counters.inc("udp-out");
    this.#tx.sendDatagram(TX_PAYLOAD_OFF, data.length, remoteIp, nh, this.#now);
  }

  /** Forget a closed socket (called by UdpSocket.close). */
  udpClose(sock: UdpSocket): void {
    this.#udp.remove(sock);
  }

  // ---- receive paths ----

  /** An IPv4 datagram decoded in rxDesc with its header at `l3Off`. */
  #ipv4(l3Off: number, linkGroup: boolean, now: number): void {
    const c = this.#counters;
    const d = this.#engine.rxDesc;
    const dst = d[D_IP_DST]! >>> 0, src = d[D_IP_SRC]! >>> 0;
    const bcast = this.#router.isBroadcast(dst);
    const mcast = isMulticastIp(dst);
    // RFC 1122 3.2.1.3: accept our address, broadcast, and multicast groups when enabled.
    if (dst !== this.address && !bcast && !(mcast && this.#multicast)) {
      return c.inc("ip-not-for-us");
    }
    // RFC 1122 3.2.1.3: discard datagrams whose source is broadcast, multicast or loopback.
    if (
      this.#router.isBroadcast(src) || isMulticastIp(src) || src >>> 24 === 127 ||
      src === this.address
    ) {
      return c.inc("ip-bad-source");
    }
    // Linux accept_source_route=0: source-routed datagrams (RFC 791 LSRR/SSRR) are dropped.
    if (d[D_IP_HLEN]! > 20 && hasSourceRoute(this.#engine.mem, l3Off, d[D_IP_HLEN]!)) {
      return c.inc("ip-source-route");
    }
    const group = linkGroup || bcast || mcast;
    switch (d[D_KIND]) {
      case K_TCP:
        if (group) return c.inc("tcp-to-broadcast"); // RFC 1122 4.2.3.10
        if (this.#tcp === null) return c.inc("tcp-no-handler");
        c.tcpIn++;
        this.#tcp.input(this.#seg.fromDesc(d), now);
        return;
      case K_UDP:
        return this.#udpIn(l3Off, group, now);
      case K_ICMP:
        return this.#icmp.input(group, now);
      case K_IPV4_FRAGMENT:
        return this.#fragment(l3Off, linkGroup, now);
      case K_IPV4_OTHER:
        c.inc("ip-unknown-protocol");
        // RFC 1122 3.2.2.1: a host SHOULD send protocol unreachable.
        return this.#icmp.sendError(ICMP_UNREACHABLE, CODE_PROTOCOL_UNREACHABLE, l3Off, group, now);
      default:
        return c.inc("ip-unknown-kind");
    }
  }

  #udpIn(l3Off: number, group: boolean, now: number): void {
    const c = this.#counters;
    const d = this.#engine.rxDesc;
    c.inc("udp-in");
    const sock = this.#udp.find(d[D_IP_DST]!, d[D_DST_PORT]!);
    if (sock === undefined) {
      c.inc("udp-no-socket");
      // RFC 1122 4.1.3.1: port unreachable when no socket listens (not for broadcasts).
      return this.#icmp.sendError(ICMP_UNREACHABLE, CODE_PORT_UNREACHABLE, l3Off, group, now);
    }
    const off = d[D_PAYLOAD_OFF]!;
    const data = this.#engine.mem.subarray(off, off + d[D_PAYLOAD_LEN]!);
    if (!sock.deliver(data, d[D_IP_SRC]! >>> 0, d[D_SRC_PORT]!)) c.inc("udp-queue-full");
  }

  /** RFC 791 3.2 reassembly; a completed datagram is decoded at REASM_OFF and processed. */
  #fragment(l3Off: number, linkGroup: boolean, now: number): void {
    const c = this.#counters;
    const d = this.#engine.rxDesc;
    c.inc("ip-fragments-in");
    const r = this.#frags.add(
      this.#engine.mem,
      l3Off,
      d[D_IP_HLEN]!,
      d[D_L4_OFF]!,
      d[D_L4_LEN]!,
      d[D_IP_SRC]!,
      d[D_IP_DST]!,
      d[D_IP_PROTO]!,
      d[D_IP_ID]!,
      d[D_IP_FRAG]!,
      now,
    );
    if (r === "held") return;
    if (r !== "complete") return c.inc(r);
    const len = this.#frags.takeInto(this.#engine.mem, REASM_OFF);
    c.inc("ip-reassembled");
    const verdict = this.#engine.decodeIpv4(REASM_OFF, len);
    if (verdict !== 0) return c.inc(dropName(verdict));
    if (this.#engine.rxDesc[D_KIND] === K_IPV4_FRAGMENT) return c.inc("frag-still-fragment");
    this.#ipv4(REASM_OFF, linkGroup, now);
  }
}

/** True when the IPv4 options at `mem[l3Off+20, l3Off+hlen)` hold a source route (RFC 791). */
function hasSourceRoute(mem: Uint8Array, l3Off: number, hlen: number): boolean {
  let i = l3Off + 20;
  const end = l3Off + hlen;
  while (i < end) {
    const type = mem[i]!;
    if (type === 0) return false; // end of option list
    if (type === 1) {
      i++; // no-operation
      continue;
    }
    if (type === 0x83 || type === 0x89) return true; // loose / strict source and record route
    const len = i + 1 < end ? mem[i + 1]! : 0;
    if (len < 2) return false; // malformed: the rest is not options we act on
    i += len;
  }
  return false;
}
