/**
 * The interface layer, sans-I/O: one Ethernet interface with one IPv4 address. It takes
 * frames lying in the engine's packet memory, decodes them through the engine, answers ARP
 * and ping, reassembles fragments, serves UDP sockets, hands TCP segments to the TCP layer,
 * and sends what the TCP layer and the sockets give it. Time is passed in (ms).
 *
 * This class is the surface; the work is done by its parts: frame_input.ts (the receive
 * demux and the loopback path), ipv4_input.ts and ipv4_output.ts (IPv4 in and out, with
 * icmp.ts, fragments.ts and transmit.ts), ipv6_path.ts (IPv6) and udp.ts (the sockets).
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
import { ARP_REQUEST } from "../wire/arp_packet.ts";
import type { Icmp6Host } from "./icmp6.ts";
import type { Ip6Data } from "./ip6_data.ts";
import { isIpv6Handle } from "../wire/ip_handle.ts";
import type { TcpHandler, TcpTransmit } from "../tcp/contract.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import { Counters } from "./counters.ts";
import { IfaceError } from "./errors.ts";
import { macHi, macLo, ownMac } from "./ethernet.ts";
import { FrameInput } from "./frame_input.ts";
import { Reassembler } from "./fragments.ts";
import { Ipv4Input } from "./ipv4_input.ts";
import { Ipv4Output } from "./ipv4_output.ts";
import { Ipv6Path } from "./ipv6_path.ts";
import { Icmp } from "./icmp.ts";
import type { ForeignHandler, FrameSink, InterfaceOptions } from "./interface_types.ts";
import { type IfaceLimits, resolveLimits } from "./limits.ts";
import { formatIpv4, type Route, Router } from "./routing.ts";
import { Transmitter } from "./transmit.ts";
import { type UdpOwner, type UdpSocket, UdpTable } from "./udp.ts";

export type { ForeignHandler, FrameSink, InterfaceOptions } from "./interface_types.ts";
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
  #maxSendFrame: number;
  /** The limits in force. */
  readonly limits: Readonly<IfaceLimits>;
  #router: Router;
  #counters = new Counters();
  #tx: Transmitter;
  #icmp: Icmp;
  #frags: Reassembler;
  #udp: UdpTable;
  /** The IPv4 TCP and UDP send path (ipv4_output.ts). */
  #v4out: Ipv4Output;
  /** The IPv6 half (ipv6_path.ts): host, fragments, TCP and UDP. */
  #v6: Ipv6Path;
  /** The receive demux (frame_input.ts). */
  #in: FrameInput;
  #tcp: TcpHandler | null = null;
  /**
   * The `now` of the last start/receive/poll call, for the calls an application makes between
   * driver turns (ping, UDP send) that take no clock; TCP passes its own `now`.
   */
  #lastNow = 0;
  /** Gateway mode: TCP and UDP to any address (see acceptForeign). */
  #foreign: ForeignHandler | null = null;

  /**
   * An interface sending through `sink`. Throws a RangeError for an MTU below 68 (RFC 791) or
   * above 65535, a MAC that is not 6 bytes, a bad prefix or an off-link gateway.
   */
  constructor(engine: Engine, sink: FrameSink, options: InterfaceOptions) {
    if (!Number.isInteger(options.mtu) || options.mtu < 68 || options.mtu > 65535) {
      throw new RangeError(`Interface MTU must be 68..65535, got ${options.mtu}`);
    }
    const random = options.random ?? Math.random;
    this.mac = ownMac(options.mac, random);
    const hi = macHi(this.mac), lo = macLo(this.mac);
    this.#router = new Router(options.address, options.prefixLength, options.gateway);
    this.address = this.#router.address;
    this.prefixLength = options.prefixLength;
    this.mtu = options.mtu;
    this.#maxSendFrame = options.maxSendFrame ?? 0;
    const multicast = options.acceptMulticast ?? false;
    this.limits = resolveLimits(options.limits);
    const ttl = options.ttl ?? 64;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) {
      throw new RangeError(`TTL must be 1..255, got ${ttl}`);
    }
    this.#tx = new Transmitter(engine, sink, this.#router, this.#counters, {
      macHi: hi,
      macLo: lo,
      ttl,
      mtu: options.mtu,
      maxSendFrame: options.maxSendFrame,
      limits: this.limits,
      idSeed: Math.floor(random() * 65536),
    });
    this.#tx.onUnreachable = (ip, now) => this.#tcp?.unreachable(ip, now);
    this.#icmp = new Icmp(engine, this.#tx, this.#router, this.#counters, this.limits);
    this.#frags = new Reassembler(this.limits);
    this.#udp = new UdpTable(Math.floor(random() * 65536));
    const v4in = new Ipv4Input(engine, this.#router, this.#counters, this.#icmp, this.#frags, {
      udp: this.#udp,
      address: this.#router.address,
      multicast,
      tcp: () => this.#tcp,
      foreign: () => this.#foreign,
      looped: () => this.#in.looped,
    });
    this.#v4out = new Ipv4Output(engine, this.#router, this.#tx, this.#counters, options.mtu);
    this.#v6 = new Ipv6Path(engine, options, {
      mac: this.mac,
      macHi: hi,
      macLo: lo,
      counters: this.#counters,
      udp: this.#udp,
      limits: this.limits,
      random,
      send: (buf, start, len) => {
        this.#counters.framesOut++;
        this.#counters.bytesOut += len;
        sink.send(buf, start, len);
      },
      loop: (start, len) => this.#tx.loopback.push(engine.mem, start, len),
      looped: () => this.#in.looped,
      lastNow: () => this.#lastNow,
    });
    const parts = { tx: this.#tx, router: this.#router, counters: this.#counters };
    this.#in = new FrameInput(engine, { ...parts, v4in, v6: this.#v6 }, {
      macHi: hi,
      macLo: lo,
      multicast,
      foreign: () => this.#foreign,
      seen: (now) => this.#lastNow = now,
    });
  }

  /**
   * The text of a numeric address: a dotted quad, or an IPv6 handle of this interface's
   * address table in RFC 5952 form.
   */
  formatAddress(ip: number): string {
    return isIpv6Handle(ip) ? this.#v6.data.addrs.format(ip) : formatIpv4(ip);
  }

  /**
   * The numeric handle of an IPv6 address (16 bytes) for a call that holds it at once
   * (`TcpLayer.connect`, `listen` on one of our addresses): its entry, else a tentative handle
   * valid until the next received frame.
   */
  ipv6Handle(addr: Uint8Array): number {
    if (addr.length !== 16) {
      throw new RangeError(`IPv6 address must be 16 bytes, got ${addr.length}`);
    }
    return this.#v6.data.addrs.probe(addr, 0);
  }

  /** The handle of an IPv6 address (16 bytes) that has one, else -1 (nothing is entered). */
  ipv6Lookup(addr: Uint8Array): number {
    return addr.length === 16 ? this.#v6.data.addrs.lookup(addr, 0) : -1;
  }

  /** The 16 bytes of an IPv6 handle (a copy). */
  ipv6Bytes(h: number): Uint8Array {
    return this.#v6.data.addrs.bytes(h).slice();
  }

  /** Whether `addr` (16 bytes) is one of our IPv6 addresses or ::1. */
  isOwnIpv6(addr: Uint8Array): boolean {
    return this.#v6.host.isOurs(addr, 0) || (addr.every((b, i) => b === (i === 15 ? 1 : 0)));
  }

  /** Our IPv6 addresses (copies): the link-local one first, then those configured. */
  get ipv6Addresses(): Uint8Array[] {
    return this.#v6.host.addresses.map((a) => a.slice());
  }

  /** The IPv6 host: neighbor discovery, DAD, SLAAC, path MTU (for tools and tests). */
  get ip6Host(): Icmp6Host {
    return this.#v6.host;
  }

  /** Gateway mode over IPv6: UDP to our addresses' unbound ports (Ip6Data.foreignUdp6). */
  set foreignUdp6(fn: Ip6Data["foreignUdp6"]) {
    this.#v6.data.foreignUdp6 = fn;
  }

  /** Gateway mode over IPv6: take TCP and UDP to other hosts too (Ip6Data.foreign6). */
  set foreign6(on: boolean) {
    this.#v6.data.foreign6 = on;
  }

  /** Gateway mode over IPv6: a UDP datagram from `src` (ours), Ip6Data.udpSendFrom. */
  udpSendFrom6(
    src: Uint8Array,
    srcPort: number,
    dst: Uint8Array,
    dstPort: number,
    data: Uint8Array,
  ): boolean {
    return this.#v6.data.udpSendFrom(src, srcPort, dst, dstPort, data, this.#lastNow);
  }

  /** Our IPv6 link-local address (fe80::/64 with the modified EUI-64 of our MAC). */
  get linkLocal(): Uint8Array {
    return this.#v6.host.addresses[0]!.slice();
  }

  /** Attach the TCP layer; until then TCP segments are counted as "tcp-no-handler" and dropped. */
  attachTcp(handler: TcpHandler): void {
    this.#tcp = handler;
    this.#icmp.tcp = handler;
    this.#v6.data.tcp = handler;
  }

  /**
   * Gateway mode: from now on take unicast TCP and UDP to any destination address (TCP goes
   * to the TCP layer, whose `onUnclaimedSyn` decides; UDP to `handler.udp`), and answer ARP
   * for `handler.ownsAddress`. Null turns it off. ICMP to other hosts is still dropped.
   */
  acceptForeign(handler: ForeignHandler | null): void {
    this.#foreign = handler;
  }

  /**
   * Gateway mode: send one UDP datagram with any source address and port (a relayed reply,
   * or a DHCP offer to the broadcast address). False when unroutable or ARP could not queue it.
   */
  udpSendFrom(
    srcIp: number,
    srcPort: number,
    dstIp: number,
    dstPort: number,
    data: Uint8Array,
  ): boolean {
    if (data.length > 65507) throw new RangeError(`UDP payload of ${data.length} bytes`);
    return this.#v4out.udpSendFrom(srcIp, srcPort, dstIp, dstPort, data, this.#lastNow);
  }

  /** Announce our address once (a gratuitous ARP request, RFC 5227 section 2.3). */
  start(now: number): void {
    this.#lastNow = now;
    this.#tx.sendArp(ARP_REQUEST, this.address, 0, 0, this.address, 0xffff, 0xffffffff);
    this.#v6.host.start(now); // IPv6: DAD, then router solicitations (ndp.ts)
  }

  /**
   * Process one frame lying in `engine.mem[off, off+len)`. Never throws on any bytes.
   * `l4Valid`: the link vouched for its TCP/UDP checksum (`Link.rxChecksumValid`).
   */
  receive(off: number, len: number, now: number, l4Valid = false): void {
    this.#lastNow = now;
    const c = this.#counters;
    c.framesIn++;
    c.bytesIn += len;
    this.#in.frame(off, len, now, l4Valid);
  }

  /** Frames waiting on the loopback path (to our own addresses). */
  get loopbackPending(): number {
    return this.#tx.loopback.pending;
  }

  /**
   * Receive the frames that were waiting on the loopback path (those looped while they are
   * received wait for the next call). Returns how many were received.
   */
  deliverLoopback(now: number): number {
    return this.#in.deliverLoopback(now);
  }

  /**
   * ARP retries and aging, fragment timeouts, neighbor discovery timers: run only once the
   * earliest of their deadlines (`pollAt`) is due. The driver calls this on every pass; walking
   * the empty ARP, NDP and fragment tables each time (with a closure and iterators) was ~1.8 KB
   * of garbage per short connection. Every table keeps its deadline as a lower bound, lowered
   * when an entry or datagram is added, so skipping until then changes nothing.
   */
  poll(now: number): void {
    this.#lastNow = now;
    if (now < this.#tablesPollAt()) return;
    this.#tx.arp.poll(now);
    const expired = this.#frags.poll(now, (x) => this.#icmp.reassemblyTimeout(x, now));
    if (expired > 0) this.#counters.inc("frag-timeout", expired);
    this.#v6.poll(now);
  }

  /** The earliest deadline of poll() in ms (0 while looped frames wait), or Infinity. */
  pollAt(): number {
    if (this.#tx.loopback.pending > 0) return 0;
    return this.#tablesPollAt();
  }

  /** The earliest deadline of the ARP, fragment and IPv6 tables. */
  #tablesPollAt(): number {
    return Math.min(this.#tx.arp.pollAt(), this.#frags.pollAt(), this.#v6.pollAt());
  }

  /**
   * Bind a UDP socket to `port` (0 = a free ephemeral port) on `localIp` (0 or absent = any of
   * our addresses, IPv4 and IPv6, or IPv4 only with `ipv4Only`; our address, one of 127.0.0.0/8,
   * or the handle of one of our IPv6 addresses). Throws IfaceError "addr-in-use", RangeError for
   * a bad port or an address that is not ours.
   */
  udpBind(port: number, localIp = 0, opts?: { ipv4Only?: boolean }): UdpSocket {
    if (isIpv6Handle(localIp)) {
      if (!this.isOwnIpv6(this.#v6.data.addrs.bytes(localIp))) {
        throw new RangeError(
          `Address ${this.formatAddress(localIp)} is not an address of this interface`,
        );
      }
    } else if (localIp !== 0 && !this.#router.isLocal(localIp)) {
      throw new RangeError(`Address ${formatIpv4(localIp)} is not an address of this interface`);
    }
    const sock = this.#udp.bind(this, port, localIp, this.limits.udpQueueDatagrams);
    if (localIp === 0 && opts?.ipv4Only) sock.ipv4Only = true;
    return sock;
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
    if (!this.#icmp.sendEcho(dst >>> 0, ident, seq, data, this.#lastNow)) {
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
    s["arp-evicted-frames"] = this.#tx.arp.evictedFrames;
    s["arp-confirmed"] = this.#tx.arp.confirmations;
    s["arp-pending-bytes"] = this.#tx.arp.pendingBytes;
    s["frag-memory"] = this.#frags.memory;
    s["frag-datagrams"] = this.#frags.datagrams;
    s["frag6-memory"] = this.#v6.frag.reassembler.memory;
    s["frag6-datagrams"] = this.#v6.frag.reassembler.datagrams;
    s["udp-sockets"] = this.#udp.size;
    s["ip6-address-table-entries"] = this.#v6.data.addrs.size;
    this.#v6.host.stats(s); // IPv6 neighbor discovery gauges
    const lo = this.#tx.loopback.stats;
    if (lo.frames > 0) {
      s["loopback-frames"] = lo.frames;
      s["loopback-bytes"] = lo.bytes;
    }
    return s;
  }

  // ---- TcpTransmit (src/tcp/contract.ts) ----

  /**
   * Build and send a TCP segment: IPv4 with DF (RFC 1191 path MTU discovery, as Linux), our
   * TTL, payload copied from send ring `ring`; `now` for ARP bookkeeping. False when
   * unroutable or the ARP cache/queue is full.
   */
  sendTcp(seg: TcpSegment, ring: number, now: number): boolean {
    if (seg.dstIp >= 4294967296) return this.#v6.data.sendTcp(seg, ring, now); // an IPv6 handle
    return this.#v4out.sendTcp(seg, ring, now);
  }

  /**
   * The largest IP datagram a TCP segment toward `remoteIp` (IPv4, or an IPv6 handle) may be sent in when the link
   * takes segments larger than the MTU (TSO, src/tcp/tso.ts); 0 when it does not, when the
   * destination is our own (the loopback queue holds MTU-sized frames), or when ICMP lowered
   * the path MTU below the link's (a device cuts large segments at the link MTU).
   */
  tsoMax(remoteIp: number, now: number): number {
    const most = (this.#maxSendFrame - 14) | 0;
    if (most <= this.mtu) return 0;
    if (isIpv6Handle(remoteIp)) return this.#v6.data.tsoMax(remoteIp, now, most);
    return this.#v4out.tsoMax(remoteIp, now, most);
  }

  /** The IP MTU toward `remoteIp` at `now`: the link MTU, lowered by ICMP fragmentation-needed. */
  pathMtu(remoteIp: number, now: number): number {
    if (remoteIp >= 4294967296) return this.#v6.data.pathMtu(remoteIp, now);
    return this.#tx.pmtu.get(remoteIp, now);
  }

  /**
   * TcpTransmit: TCP saw forward progress with `remoteIp` (new data acknowledged or received):
   * the neighbour entry of the next hop toward it (the peer on the link, else the router) is
   * REACHABLE again without a probe (RFC 1122 2.3.2.1 link-layer advice, RFC 4861 7.3.1;
   * Linux dst_confirm). Returns when confirming again is useful: a quarter of the entry
   * lifetime later (arpEntryTtlMs; ReachableTime for IPv6), never toward our own addresses.
   */
  confirmNeighbor(remoteIp: number, now: number): number {
    if (isIpv6Handle(remoteIp)) return this.#v6.data.confirm(remoteIp, now);
    const nh = this.#router.nextHop(remoteIp >>> 0);
    if (nh >= 0 && this.#router.isLocal(nh)) return Infinity;
    if (nh >= 0) this.#tx.arp.confirm(nh, now);
    return now + (this.limits.arpEntryTtlMs >>> 2);
  }

  /** TcpTransmit: a connection holds its IPv6 peer's entry in the address table. */
  holdAddress(ip: number): boolean {
    return !isIpv6Handle(ip) || this.#v6.data.addrs.hold(ip);
  }

  /** TcpTransmit: the connection left the table. */
  releaseAddress(ip: number): void {
    if (isIpv6Handle(ip)) this.#v6.data.release(ip);
  }

  /** TcpTransmit: the bytes of an IPv6 handle (a view: read during the call only). */
  addressBytes(ip: number): Uint8Array | null {
    return isIpv6Handle(ip) ? this.#v6.data.addrs.bytes(ip) : null;
  }

  /** Our address (127.0.0.1 toward 127/8) when `remoteIp` is routable, else -1. */
  sourceFor(remoteIp: number): number {
    if (isIpv6Handle(remoteIp)) return this.#v6.data.sourceFor(remoteIp);
    return this.#v4out.sourceFor(remoteIp);
  }

  // ---- UdpOwner ----

  /** Send one UDP datagram (called by UdpSocket.send). */
  udpSend(sock: UdpSocket, data: Uint8Array, remoteIp: number, remotePort: number): void {
    this.#v4out.udpSend(sock, data, remoteIp, remotePort, this.#lastNow);
  }

  /** Send one UDP datagram over IPv6 (called by UdpSocket.send with a 16-byte address). */
  udpSend6(sock: UdpSocket, data: Uint8Array, remote: Uint8Array, remotePort: number): void {
    this.#v6.data.udpSend(sock, data, remote, remotePort, this.#lastNow);
  }

  /** Forget a closed socket (called by UdpSocket.close). */
  udpClose(sock: UdpSocket): void {
    this.#udp.remove(sock);
  }
}
