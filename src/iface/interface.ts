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
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETHERTYPE,
  D_KIND,
  D_VLAN,
  K_ARP,
  K_ETH_OTHER,
  K_IPV6_FRAGMENT,
  K_TCP,
  K_TCP6,
  K_UDP,
  K_UDP6,
  TX_PAYLOAD_OFF,
} from "../wire/layout.ts";
import { ARP_REPLY, ARP_REQUEST, ArpPacket } from "../wire/arp_packet.ts";
import { EthernetFrame, ETHERTYPE_IPV6 } from "../wire/ethernet_frame.ts";
import { Icmp6Host } from "./icmp6.ts";
import { Ip6Data, isLoopback6 } from "./ip6_data.ts";
import { isIpv6Handle } from "../wire/ip_handle.ts";
import { IP_DF } from "../wire/ipv4_header.ts";
import { UdpHeader } from "../wire/udp_header.ts";
import type { TcpHandler, TcpTransmit } from "../tcp/contract.ts";
import { dropName } from "../wire/drop.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import { arpInput } from "./arp.ts";
import { Counters } from "./counters.ts";
import { IfaceError } from "./errors.ts";
import { filterDestination, isGroupMac, macHi, macLo, randomMac } from "./ethernet.ts";
import { Reassembler } from "./fragments.ts";
import { Ipv4Input } from "./ipv4_input.ts";
import { Frag6Host } from "./fragments6_host.ts";
import { Icmp } from "./icmp.ts";
import type { ForeignHandler, FrameSink, InterfaceOptions } from "./interface_types.ts";
import { type IfaceLimits, resolveLimits } from "./limits.ts";
import { formatIpv4, isMulticastIp, type Route, Router } from "./routing.ts";
import { LOOPBACK_RX_OFF, Transmitter } from "./transmit.ts";
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
  #engine: Engine;
  #router: Router;
  #counters = new Counters();
  #tx: Transmitter;
  #icmp: Icmp;
  #frags: Reassembler;
  #udp: UdpTable;
  /** The IPv4 receive path (ipv4_input.ts). */
  #v4in: Ipv4Input;
  #ip6: Icmp6Host;
  #frag6: Frag6Host;
  /** TCP and UDP over IPv6 (ip6_data.ts). */
  #ip6d: Ip6Data;
  #tcp: TcpHandler | null = null;
  // Received headers, one reused record per layer (filled from the receive descriptor).
  #eth = new EthernetFrame();
  #arp = new ArpPacket();
  // Outgoing UDP header.
  #txUdp = new UdpHeader();
  #macHi: number;
  #macLo: number;
  #multicast: boolean;
  /**
   * The `now` of the last start/receive/poll call, for the calls an application makes between
   * driver turns (ping, UDP send) that take no clock; TCP passes its own `now`.
   */
  #lastNow = 0;
  /** True while a frame from the loopback queue is being received. */
  #looped = false;
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
    this.#maxSendFrame = options.maxSendFrame ?? 0;
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
      maxSendFrame: options.maxSendFrame,
      limits: this.limits,
      idSeed: Math.floor(random() * 65536),
    });
    this.#tx.onUnreachable = (ip, now) => this.#tcp?.unreachable(ip, now);
    this.#icmp = new Icmp(engine, this.#tx, this.#router, this.#counters, this.limits);
    this.#frags = new Reassembler(this.limits);
    this.#udp = new UdpTable(Math.floor(random() * 65536));
    this.#v4in = new Ipv4Input(engine, this.#router, this.#counters, this.#icmp, this.#frags, {
      udp: this.#udp,
      address: this.#router.address,
      multicast: this.#multicast,
      tcp: () => this.#tcp,
      foreign: () => this.#foreign,
      looped: () => this.#looped,
    });
    const send6 = (buf: Uint8Array, start: number, len: number) => {
      this.#counters.framesOut++;
      this.#counters.bytesOut += len;
      sink.send(buf, start, len);
    };
    const inc = (name: string, n?: number) => this.#counters.inc(name, n);
    this.#ip6 = new Icmp6Host(engine, this.mac, {
      // IPv6 frames over the path MTU (echo replies) leave in fragments (fragments6_host.ts).
      // TCP (Next Header 6) and datagrams within the IPv6 minimum MTU never need it: they go
      // out without a path MTU lookup (the hot path of TCP over IPv6).
      send: (buf, off, len) =>
        len - 14 <= 1280 || buf[off + 20] === 6
          ? send6(buf, off, len)
          : this.#frag6.output(buf, off, len, this.#mtu6(buf, off), send6),
      loop: (start, len) => this.#tx.loopback.push(this.#engine.mem, start, len),
      inc,
      mtu: options.mtu,
      slaac: options.slaac ?? false,
    }, this.limits);
    this.#frag6 = new Frag6Host(
      engine,
      {
        // Ours, or ::1 on the loopback path (RFC 4291 2.5.3).
        isOurs: (m, off) => this.#ip6.isOurs(m, off) || (this.#looped && isLoopback6(m, off)),
        send: (start, len) => send6(this.#engine.mem, start, len),
        inc,
        random,
      },
      this.#macHi,
      this.#macLo,
      this.limits,
    );
    for (const a of options.ipv6 ?? []) {
      if (a.address.length !== 16) {
        throw new RangeError(`IPv6 address must be 16 bytes, got ${a.address.length}`);
      }
      this.#ip6.addAddress(a.address, a.prefixLength);
    }
    this.#ip6d = new Ip6Data(engine, this.#ip6, {
      counters: this.#counters,
      udp: this.#udp,
      mtu: options.mtu,
      macHi: this.#macHi,
      macLo: this.#macLo,
      tableSize: this.limits.ip6AddressTable,
      seed: Math.floor(random() * 4294967296),
      ours: this.#ip6.addresses,
      loop: (start, len) => this.#tx.loopback.push(this.#engine.mem, start, len),
      maxSendFrame: options.maxSendFrame ?? 0,
      fragment: (start, len, mtu, emit) =>
        this.#frag6.output(this.#engine.mem, start, len, mtu, (_b, s, l) => emit(s, l)),
    });
  }

  /**
   * The text of a numeric address: a dotted quad, or an IPv6 handle of this interface's
   * address table in RFC 5952 form.
   */
  formatAddress(ip: number): string {
    return isIpv6Handle(ip) ? this.#ip6d.addrs.format(ip) : formatIpv4(ip);
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
    return this.#ip6d.addrs.probe(addr, 0);
  }

  /** The handle of an IPv6 address (16 bytes) that has one, else -1 (nothing is entered). */
  ipv6Lookup(addr: Uint8Array): number {
    return addr.length === 16 ? this.#ip6d.addrs.lookup(addr, 0) : -1;
  }

  /** The 16 bytes of an IPv6 handle (a copy). */
  ipv6Bytes(h: number): Uint8Array {
    return this.#ip6d.addrs.bytes(h).slice();
  }

  /** Whether `addr` (16 bytes) is one of our IPv6 addresses or ::1. */
  isOwnIpv6(addr: Uint8Array): boolean {
    return this.#ip6.isOurs(addr, 0) || (addr.every((b, i) => b === (i === 15 ? 1 : 0)));
  }

  /** The path MTU toward the destination of the IPv6 frame at `buf[off, ...)` (RFC 8201). */
  #mtu6(buf: Uint8Array, off: number): number {
    if (buf.length < off + 54) return this.mtu;
    return this.#ip6.pathMtu6(buf.subarray(off + 38, off + 54), this.#lastNow);
  }

  /** Our IPv6 addresses (copies): the link-local one first, then those configured. */
  get ipv6Addresses(): Uint8Array[] {
    return this.#ip6.addresses.map((a) => a.slice());
  }

  /** The IPv6 host: neighbor discovery, DAD, SLAAC, path MTU (for tools and tests). */
  get ip6Host(): Icmp6Host {
    return this.#ip6;
  }

  /** Gateway mode over IPv6: UDP to our addresses' unbound ports (Ip6Data.foreignUdp6). */
  set foreignUdp6(fn: Ip6Data["foreignUdp6"]) {
    this.#ip6d.foreignUdp6 = fn;
  }

  /** Gateway mode over IPv6: take TCP and UDP to other hosts too (Ip6Data.foreign6). */
  set foreign6(on: boolean) {
    this.#ip6d.foreign6 = on;
  }

  /** Gateway mode over IPv6: a UDP datagram from `src` (ours), Ip6Data.udpSendFrom. */
  udpSendFrom6(
    src: Uint8Array,
    srcPort: number,
    dst: Uint8Array,
    dstPort: number,
    data: Uint8Array,
  ): boolean {
    return this.#ip6d.udpSendFrom(src, srcPort, dst, dstPort, data, this.#lastNow);
  }

  /** Our IPv6 link-local address (fe80::/64 with the modified EUI-64 of our MAC). */
  get linkLocal(): Uint8Array {
    return this.#ip6.addresses[0]!.slice();
  }

  /** Attach the TCP layer; until then TCP segments are counted as "tcp-no-handler" and dropped. */
  attachTcp(handler: TcpHandler): void {
    this.#tcp = handler;
    this.#icmp.tcp = handler;
    this.#ip6d.tcp = handler;
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
    const nh = this.#router.nextHop(dstIp >>> 0);
    if (nh < 0) return false;
    this.#engine.mem.set(data, TX_PAYLOAD_OFF);
    const t = this.#tx.ipHeader(K_UDP, srcIp >>> 0, dstIp >>> 0, 0);
    const u = this.#txUdp;
    u.srcPort = srcPort;
    u.dstPort = dstPort;
    u.toDesc(t);
    this.#counters.inc("udp-out");
    return this.#tx.sendDatagram(TX_PAYLOAD_OFF, data.length, dstIp >>> 0, nh, this.#lastNow);
  }

  /** Announce our address once (a gratuitous ARP request, RFC 5227 section 2.3). */
  start(now: number): void {
    this.#lastNow = now;
    this.#tx.sendArp(ARP_REQUEST, this.address, 0, 0, this.address, 0xffff, 0xffffffff);
    this.#ip6.start(now); // IPv6: DAD, then router solicitations (ndp.ts)
  }

  /** Process one frame lying in `engine.mem[off, off+len)`. Never throws on any bytes. */
  receive(off: number, len: number, now: number): void {
    this.#lastNow = now;
    const c = this.#counters;
    c.framesIn++;
    c.bytesIn += len;
    this.#frame(off, len, now);
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
    const q = this.#tx.loopback;
    const n = q.pending;
    for (let i = 0; i < n; i++) {
      const f = q.shift()!;
      this.#engine.mem.set(f, LOOPBACK_RX_OFF); // mem is re-read: WASM memory may grow
      this.#looped = true;
      try {
        this.#frame(LOOPBACK_RX_OFF, f.length, now);
      } finally {
        this.#looped = false;
      }
    }
    return n;
  }

  #frame(off: number, len: number, now: number): void {
    this.#lastNow = now;
    const c = this.#counters;
    const verdict = this.#engine.decode(off, len);
    if (verdict !== 0) {
      c.inc(dropName(verdict));
      const d = this.#engine.rxDesc;
      // RFC 8200 section 4: some IPv6 drops are answered with a Parameter Problem.
      if (
        d[D_ETHERTYPE] === ETHERTYPE_IPV6 && d[D_VLAN] === -1 &&
        (d[D_ETH_DST_HI]! & 0xffff) === this.#macHi && d[D_ETH_DST_LO]! >>> 0 === this.#macLo
      ) this.#ip6.dropped(verdict, now);
      return;
    }
    const d = this.#engine.rxDesc;
    const eth = this.#eth.fromDesc(d);
    const cast = filterDestination(eth.dstHi, eth.dstLo, this.#macHi, this.#macLo, this.#multicast);
    if (cast === "not-for-us") {
      // Our IPv6 multicast groups (all-nodes, solicited-node) are accepted (RFC 2464 7).
      if (eth.ethertype === ETHERTYPE_IPV6 && this.#ip6.acceptsMac(eth.dstHi, eth.dstLo)) {
        if (eth.vlan < 0 && (eth.kind !== K_IPV6_FRAGMENT || this.#frag6.input(now))) {
          this.#ip6.input(now);
        }
        return;
      }
      return c.inc("eth-not-for-us");
    }
    // No VLAN is configured here: tagged frames belong to another interface (like Linux).
    if (eth.vlan >= 0) return c.inc("eth-vlan-tagged");
    if (eth.kind === K_ARP) {
      const a = this.#arp.fromDesc(d);
      if (
        this.#foreign && a.op === ARP_REQUEST && a.tpa !== this.address &&
        this.#foreign.ownsAddress(a.tpa) && !isGroupMac(a.shaHi) && a.spa !== 0
      ) {
        c.inc("arp-replies-foreign"); // RFC 826 reply for an address the gateway serves
        return this.#tx.sendArp(ARP_REPLY, a.tpa, a.shaHi, a.shaLo, a.spa, a.shaHi, a.shaLo);
      }
      return arpInput(this.#arp.fromDesc(d), this.#tx, this.#router, this.#counters, now);
    }
    if (eth.kind === K_ETH_OTHER) return c.inc("eth-unknown-type");
    // IPv6: fragments to reassembly (fragments6_host.ts), then TCP and UDP (ip6_data.ts), the
    // rest to the IPv6 host (icmp6.ts).
    if (eth.ethertype === ETHERTYPE_IPV6) {
      let k = eth.kind;
      // RFC 8200 4.5: a completed datagram is dispatched like an unfragmented one.
      if (k === K_IPV6_FRAGMENT) {
        if (!this.#frag6.input(now)) return;
        k = this.#engine.rxDesc[D_KIND]!;
      }
      if ((k === K_TCP6 || k === K_UDP6) && this.#ip6d.input(this.#looped, now)) return;
      return this.#ip6.input(now);
    }
    this.#v4in.input(cast !== "unicast", now);
  }

  /** ARP retries and aging, fragment timeouts. */
  poll(now: number): void {
    this.#lastNow = now;
    this.#tx.arp.poll(now);
    const expired = this.#frags.poll(now, (x) => this.#icmp.reassemblyTimeout(x, now));
    if (expired > 0) this.#counters.inc("frag-timeout", expired);
    this.#ip6.poll(now);
    this.#frag6.poll(now);
  }

  /** The earliest deadline of poll() in ms (0 while looped frames wait), or Infinity. */
  pollAt(): number {
    if (this.#tx.loopback.pending > 0) return 0;
    return Math.min(
      this.#tx.arp.pollAt(),
      this.#frags.pollAt(),
      this.#ip6.pollAt(),
      this.#frag6.pollAt(),
    );
  }

  /**
   * Bind a UDP socket to `port` (0 = a free ephemeral port) on `localIp` (0 or absent = any of
   * our addresses, IPv4 and IPv6, or IPv4 only with `ipv4Only`; our address, one of 127.0.0.0/8,
   * or the handle of one of our IPv6 addresses). Throws IfaceError "addr-in-use", RangeError for
   * a bad port or an address that is not ours.
   */
  udpBind(port: number, localIp = 0, opts?: { ipv4Only?: boolean }): UdpSocket {
    if (isIpv6Handle(localIp)) {
      if (!this.isOwnIpv6(this.#ip6d.addrs.bytes(localIp))) {
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
    s["frag-memory"] = this.#frags.memory;
    s["frag-datagrams"] = this.#frags.datagrams;
    s["frag6-memory"] = this.#frag6.reassembler.memory;
    s["frag6-datagrams"] = this.#frag6.reassembler.datagrams;
    s["udp-sockets"] = this.#udp.size;
    s["ip6-address-table-entries"] = this.#ip6d.addrs.size;
    this.#ip6.stats(s); // IPv6 neighbor discovery gauges
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
    if (seg.dstIp >= 4294967296) return this.#ip6d.sendTcp(seg, ring, now); // an IPv6 handle
    const dst = seg.dstIp >>> 0;
    const nh = this.#router.nextHop(dst);
    // RFC 1122 4.2.3.10: no TCP to broadcast or multicast addresses.
    if (nh < 0 || this.#router.isBroadcast(dst) || isMulticastIp(dst)) {
      this.#counters.inc("tcp-no-route");
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
    this.#counters.tcpOut++;
    return this.#tx.encodeAndSend(TX_PAYLOAD_OFF, len, nh, now);
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
    if (isIpv6Handle(remoteIp)) return this.#ip6d.tsoMax(remoteIp, now, most);
    const nh = this.#router.nextHop(remoteIp >>> 0);
    if (nh < 0 || this.#router.isLocal(nh)) return 0;
    return this.#tx.pmtu.get(remoteIp, now) < this.mtu ? 0 : Math.min(most, 65535);
  }

  /** The IP MTU toward `remoteIp` at `now`: the link MTU, lowered by ICMP fragmentation-needed. */
  pathMtu(remoteIp: number, now: number): number {
    if (remoteIp >= 4294967296) return this.#ip6d.pathMtu(remoteIp, now);
    return this.#tx.pmtu.get(remoteIp, now);
  }

  /** TcpTransmit: a connection holds its IPv6 peer's entry in the address table. */
  holdAddress(ip: number): boolean {
    return !isIpv6Handle(ip) || this.#ip6d.addrs.hold(ip);
  }

  /** TcpTransmit: the connection left the table. */
  releaseAddress(ip: number): void {
    if (isIpv6Handle(ip)) this.#ip6d.release(ip);
  }

  /** TcpTransmit: the bytes of an IPv6 handle (a view: read during the call only). */
  addressBytes(ip: number): Uint8Array | null {
    return isIpv6Handle(ip) ? this.#ip6d.addrs.bytes(ip) : null;
  }

  /** Our address (127.0.0.1 toward 127/8) when `remoteIp` is routable, else -1. */
  sourceFor(remoteIp: number): number {
    if (isIpv6Handle(remoteIp)) return this.#ip6d.sourceFor(remoteIp);
    const dst = remoteIp >>> 0;
    if (this.#router.nextHop(dst) < 0 || this.#router.isBroadcast(dst) || isMulticastIp(dst)) {
      return -1;
    }
    return this.#router.sourceFor(dst);
  }

  // ---- UdpOwner ----

  /** Send one UDP datagram (called by UdpSocket.send). */
  udpSend(sock: UdpSocket, data: Uint8Array, remoteIp: number, remotePort: number): void {
    const nh = this.#router.nextHop(remoteIp);
    if (nh < 0) throw new IfaceError("unreachable", `No route to ${formatIpv4(remoteIp)}`);
    const src = sock.localIp === 0 ? this.#router.sourceFor(remoteIp) : sock.localIp;
    this.#engine.mem.set(data, TX_PAYLOAD_OFF);
    const t = this.#tx.ipHeader(K_UDP, src, remoteIp, 0);
    const u = this.#txUdp;
    u.srcPort = sock.localPort;
    u.dstPort = remotePort;
    u.toDesc(t);
    this.#counters.inc("udp-out");
    this.#tx.sendDatagram(TX_PAYLOAD_OFF, data.length, remoteIp, nh, this.#lastNow);
  }

  /** Send one UDP datagram over IPv6 (called by UdpSocket.send with a 16-byte address). */
  udpSend6(sock: UdpSocket, data: Uint8Array, remote: Uint8Array, remotePort: number): void {
    this.#ip6d.udpSend(sock, data, remote, remotePort, this.#lastNow);
  }

  /** Forget a closed socket (called by UdpSocket.close). */
  udpClose(sock: UdpSocket): void {
    this.#udp.remove(sock);
  }
}
