/**
 * The IPv4 send path of the interface for TCP and UDP, sans-I/O: the IPv4 header of each
 * segment or datagram (our TTL, DF on TCP for path MTU discovery), the payload copied to the
 * transmit area, and the frame handed to transmit.ts (ARP resolution, fragmentation of large
 * UDP datagrams, the loopback path). Also the source address and the TSO size toward a peer.
 *
 * @module
 */

import type { Engine } from "../kernels/engine.ts";
import { K_TCP, K_UDP, TX_PAYLOAD_OFF } from "../wire/layout.ts";
import { IP_DF } from "../wire/ipv4_header.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import { UdpHeader } from "../wire/udp_header.ts";
import type { Counters } from "./counters.ts";
import { IfaceError } from "./errors.ts";
import { formatIpv4, isMulticastIp, type Router } from "./routing.ts";
import type { Transmitter } from "./transmit.ts";
import type { UdpSocket } from "./udp.ts";

/** The IPv4 TCP and UDP send path of one interface. */
export class Ipv4Output {
  #engine: Engine;
  #router: Router;
  #tx: Transmitter;
  #c: Counters;
  #mtu: number;
  // Outgoing UDP header.
  #txUdp = new UdpHeader();

  /** The send path of the interface whose parts these are, on a link of IP MTU `mtu`. */
  constructor(engine: Engine, router: Router, tx: Transmitter, counters: Counters, mtu: number) {
    this.#engine = engine;
    this.#router = router;
    this.#tx = tx;
    this.#c = counters;
    this.#mtu = mtu;
  }

  /**
   * Build and send a TCP segment to an IPv4 address: DF set (RFC 1191 path MTU discovery, as
   * Linux), payload copied from send ring `ring`. False when unroutable, to a broadcast or
   * multicast address, or the ARP cache/queue is full.
   */
  sendTcp(seg: TcpSegment, ring: number, now: number): boolean {
    const dst = seg.dstIp >>> 0;
    const nh = this.#router.nextHop(dst);
    // RFC 1122 4.2.3.10: no TCP to broadcast or multicast addresses.
    if (nh < 0 || this.#router.isBroadcast(dst) || isMulticastIp(dst)) {
      this.#c.inc("tcp-no-route");
      return false;
    }
    const t = this.#engine.txDesc;
    seg.toDesc(t);
    // RFC 1191 / Linux: DF on every TCP segment (path MTU discovery). Bound to "any": use ours.
    this.#tx.ipHeader(
      K_TCP,
      seg.srcIp === 0 ? this.#router.sourceFor(dst) | 0 : seg.srcIp,
      dst,
      IP_DF,
    );
    const len = ring >= 0 ? seg.payloadLen : 0;
    if (len > 0) this.#engine.sndCopy(ring, seg.seq, len, TX_PAYLOAD_OFF);
    this.#c.tcpOut++;
    return this.#tx.encodeAndSend(TX_PAYLOAD_OFF, len, nh, now);
  }

  /**
   * Send one UDP datagram of `data` from socket `sock` to `remoteIp`:`remotePort`, from our
   * address toward it when the socket is bound to any. Throws IfaceError "unreachable" when
   * there is no route.
   */
  udpSend(
    sock: UdpSocket,
    data: Uint8Array,
    remoteIp: number,
    remotePort: number,
    now: number,
  ): void {
    const nh = this.#router.nextHop(remoteIp);
    if (nh < 0) throw new IfaceError("unreachable", `No route to ${formatIpv4(remoteIp)}`);
    const src = sock.localIp === 0 ? this.#router.sourceFor(remoteIp) : sock.localIp;
    this.#udp(src, sock.localPort, remoteIp, remotePort, data, nh, now);
  }

  /**
   * Send one UDP datagram with any source address and port (gateway mode). False when
   * unroutable or ARP could not queue it.
   */
  udpSendFrom(
    srcIp: number,
    srcPort: number,
    dstIp: number,
    dstPort: number,
    data: Uint8Array,
    now: number,
  ): boolean {
    const dst = dstIp >>> 0;
    const nh = this.#router.nextHop(dst);
    if (nh < 0) return false;
    return this.#udp(srcIp >>> 0, srcPort, dst, dstPort, data, nh, now);
  }

  /** UDP from `src`:`srcPort` to `dst`:`dstPort` through next hop `nh`. */
  #udp(
    src: number,
    srcPort: number,
    dst: number,
    dstPort: number,
    data: Uint8Array,
    nh: number,
    now: number,
  ): boolean {
    this.#engine.mem.set(data, TX_PAYLOAD_OFF);
    const t = this.#tx.ipHeader(K_UDP, src, dst, 0);
    const u = this.#txUdp;
    u.srcPort = srcPort;
    u.dstPort = dstPort;
    u.toDesc(t);
    this.#c.inc("udp-out");
    return this.#tx.sendDatagram(TX_PAYLOAD_OFF, data.length, dst, nh, now);
  }

  /**
   * The largest IP datagram a TCP segment toward `remoteIp` may be sent in, `most` being the
   * link's (TSO); 0 toward our own addresses (the loopback queue holds MTU-sized frames), when
   * unroutable, or when ICMP lowered the path MTU below the link's.
   */
  tsoMax(remoteIp: number, now: number, most: number): number {
    const nh = this.#router.nextHop(remoteIp >>> 0);
    if (nh < 0 || this.#router.isLocal(nh)) return 0;
    return this.#tx.pmtu.get(remoteIp, now) < this.#mtu ? 0 : Math.min(most, 65535);
  }

  /** Our address (127.0.0.1 toward 127/8) when `remoteIp` is a routable unicast, else -1. */
  sourceFor(remoteIp: number): number {
    const dst = remoteIp >>> 0;
    if (this.#router.nextHop(dst) < 0 || this.#router.isBroadcast(dst) || isMulticastIp(dst)) {
      return -1;
    }
    return this.#router.sourceFor(dst);
  }
}
