/**
 * The IPv4 receive path of the interface, sans-I/O: the checks of RFC 1122 3.2.1.3 on the
 * destination and source, source-routed datagrams dropped (Linux accept_source_route=0), then
 * TCP to the TCP layer, UDP to its socket (or gateway mode, or port unreachable), ICMP to
 * icmp.ts, fragments to reassembly (RFC 791 3.2: a completed datagram is decoded again at
 * REASM_OFF and takes this path like an unfragmented one), other protocols answered with
 * protocol unreachable.
 *
 * @module
 */

import type { Engine } from "../kernels/engine.ts";
import { K_ICMP, K_IPV4_FRAGMENT, K_IPV4_OTHER, K_TCP, K_UDP } from "../wire/layout.ts";
import { IcmpHeader } from "../wire/icmp_header.ts";
import { hasSourceRoute, Ipv4Header } from "../wire/ipv4_header.ts";
import { UdpHeader } from "../wire/udp_header.ts";
import { TcpSegment } from "../wire/tcp_segment.ts";
import { dropName } from "../wire/drop.ts";
import type { TcpHandler } from "../tcp/contract.ts";
import type { Counters } from "./counters.ts";
import type { Reassembler } from "./fragments.ts";
import {
  CODE_ADMIN_PROHIBITED,
  CODE_PORT_UNREACHABLE,
  CODE_PROTOCOL_UNREACHABLE,
  type Icmp,
  ICMP_UNREACHABLE,
} from "./icmp.ts";
import type { ForeignHandler } from "./interface_types.ts";
import { isMulticastIp, type Router } from "./routing.ts";
import { REASM_OFF } from "./transmit.ts";
import type { UdpTable } from "./udp.ts";

/** What the receive path reads from its interface. */
export interface Ipv4InputEnv {
  /** The UDP sockets. */
  readonly udp: UdpTable;
  /** Our IPv4 address. */
  readonly address: number;
  /** Whether multicast groups are accepted. */
  readonly multicast: boolean;
  /** The TCP layer, once attached. */
  tcp(): TcpHandler | null;
  /** Gateway mode's handler, when on. */
  foreign(): ForeignHandler | null;
  /** Whether the frame being received came from the loopback path. */
  looped(): boolean;
}

/** The IPv4 receive path of one interface. */
export class Ipv4Input {
  #engine: Engine;
  #router: Router;
  #c: Counters;
  #icmp: Icmp;
  #frags: Reassembler;
  #env: Ipv4InputEnv;
  // Received headers, one reused record per layer (filled from the receive descriptor).
  #ip = new Ipv4Header();
  #rxIcmp = new IcmpHeader();
  #rxUdp = new UdpHeader();
  #seg = new TcpSegment();

  /** The receive path of the interface whose parts these are. */
  constructor(
    engine: Engine,
    router: Router,
    counters: Counters,
    icmp: Icmp,
    frags: Reassembler,
    env: Ipv4InputEnv,
  ) {
    this.#engine = engine;
    this.#router = router;
    this.#c = counters;
    this.#icmp = icmp;
    this.#frags = frags;
    this.#env = env;
  }

  /** The IPv4 datagram decoded in rxDesc (by decode, or decodeIpv4 after reassembly). */
  input(linkGroup: boolean, now: number): void {
    const c = this.#c;
    const d = this.#engine.rxDesc;
    const ip = this.#ip.fromDesc(d);
    const dst = ip.dst, src = ip.src;
    const bcast = this.#router.isBroadcast(dst);
    const mcast = isMulticastIp(dst);
    const looped = this.#env.looped();
    // RFC 1122 3.2.1.3: accept our address, broadcast, and multicast groups when enabled;
    // 127/8 only from the loopback path.
    if (
      dst !== this.#env.address && !bcast && !(mcast && this.#env.multicast) &&
      !(looped && dst >>> 24 === 127) &&
      !(this.#env.foreign() && !mcast && (ip.kind === K_TCP || ip.kind === K_UDP))
    ) {
      return c.inc("ip-not-for-us");
    }
    // RFC 1122 3.2.1.3: discard datagrams whose source is broadcast, multicast or loopback
    // (or our own address) when they come from the wire.
    if (
      this.#router.isBroadcast(src) || isMulticastIp(src) ||
      (!looped && (src >>> 24 === 127 || src === this.#env.address))
    ) {
      return c.inc("ip-bad-source");
    }
    // Linux accept_source_route=0: source-routed datagrams (RFC 791 LSRR/SSRR) are dropped.
    if (ip.headerLen > 20 && hasSourceRoute(this.#engine.mem, ip.headerOff, ip.headerLen)) {
      return c.inc("ip-source-route");
    }
    const group = linkGroup || bcast || mcast;
    switch (ip.kind) {
      case K_TCP:
        if (group) return c.inc("tcp-to-broadcast"); // RFC 1122 4.2.3.10
        {
          const tcp = this.#env.tcp();
          if (tcp === null) return c.inc("tcp-no-handler");
          c.tcpIn++;
          tcp.input(this.#seg.fromDesc(d), now);
          return;
        }
      case K_UDP:
        return this.#udpInput(ip, this.#rxUdp.fromDesc(d), group, now);
      case K_ICMP:
        return this.#icmp.input(ip, this.#rxIcmp.fromDesc(d), group, now);
      case K_IPV4_FRAGMENT:
        return this.#fragment(ip, linkGroup, now);
      case K_IPV4_OTHER:
        c.inc("ip-unknown-protocol");
        // RFC 1122 3.2.2.1: a host SHOULD send protocol unreachable.
        return this.#icmp.sendError(ICMP_UNREACHABLE, CODE_PROTOCOL_UNREACHABLE, ip, group, now);
      default:
        return c.inc("ip-unknown-kind");
    }
  }

  /** A UDP datagram `udp` in `ip`: to its socket, or port unreachable. */
  #udpInput(ip: Ipv4Header, udp: UdpHeader, group: boolean, now: number): void {
    const c = this.#c;
    c.inc("udp-in");
    // Gateway mode: a datagram to another host is never one of our sockets'.
    const foreign = this.#env.foreign();
    const foreignDst = foreign !== null && ip.dst !== this.#env.address && !group &&
      !this.#env.looped();
    const sock = foreignDst ? undefined : this.#env.udp.find(ip.dst, udp.dstPort);
    if (sock === undefined && foreign && !group && !this.#env.looped()) {
      const off = udp.payloadOff;
      const data = this.#engine.mem.subarray(off, off + udp.payloadLen);
      if (foreign.udp(ip.src, udp.srcPort, ip.dst, udp.dstPort, data)) {
        return c.inc("udp-foreign");
      }
      c.inc("udp-foreign-refused");
      return this.#icmp.sendError(ICMP_UNREACHABLE, CODE_ADMIN_PROHIBITED, ip, false, now);
    }
    if (sock === undefined) {
      c.inc("udp-no-socket");
      // RFC 1122 4.1.3.1: port unreachable when no socket listens (not for broadcasts).
      return this.#icmp.sendError(ICMP_UNREACHABLE, CODE_PORT_UNREACHABLE, ip, group, now);
    }
    const off = udp.payloadOff;
    const data = this.#engine.mem.subarray(off, off + udp.payloadLen);
    if (!sock.deliver(data, ip.src, udp.srcPort)) c.inc("udp-queue-full");
  }

  /** RFC 791 3.2 reassembly; a completed datagram is decoded at REASM_OFF and processed. */
  #fragment(ip: Ipv4Header, linkGroup: boolean, now: number): void {
    const c = this.#c;
    c.inc("ip-fragments-in");
    const r = this.#frags.add(this.#engine.mem, ip, now);
    if (r === "held") return;
    if (r !== "complete") return c.inc(r);
    const len = this.#frags.takeInto(this.#engine.mem, REASM_OFF);
    c.inc("ip-reassembled");
    const verdict = this.#engine.decodeIpv4(REASM_OFF, len);
    if (verdict !== 0) return c.inc(dropName(verdict));
    if (ip.fromDesc(this.#engine.rxDesc).kind === K_IPV4_FRAGMENT) {
      return c.inc("frag-still-fragment");
    }
    this.input(linkGroup, now);
  }
}
