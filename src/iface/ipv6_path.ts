/**
 * The IPv6 half of the interface, sans-I/O: it builds and joins the IPv6 host (icmp6.ts:
 * neighbor discovery, DAD, SLAAC, path MTU, echo, ICMPv6 errors), fragment handling
 * (fragments6_host.ts) and the TCP and UDP data path (ip6_data.ts), and dispatches the IPv6
 * frames decoded in the receive descriptor among them:
 *
 * - fragments to reassembly; a completed datagram is dispatched like an unfragmented one
 *   (RFC 8200 4.5);
 * - TCP and UDP to the data path, the rest (ICMPv6, neighbor discovery, other protocols) to
 *   the host;
 * - frames to our IPv6 multicast groups (all-nodes, solicited-node, RFC 2464 section 7) to the
 *   host, after reassembly;
 * - some decode drops are answered with a Parameter Problem (RFC 8200 section 4).
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
  K_IPV6_FRAGMENT,
  K_TCP6,
  K_UDP6,
} from "../wire/layout.ts";
import { type EthernetFrame, ETHERTYPE_IPV6 } from "../wire/ethernet_frame.ts";
import type { Counters } from "./counters.ts";
import { Frag6Host } from "./fragments6_host.ts";
import { Icmp6Host } from "./icmp6.ts";
import { Ip6Data, isLoopback6 } from "./ip6_data.ts";
import type { InterfaceOptions } from "./interface_types.ts";
import type { IfaceLimits } from "./limits.ts";
import type { UdpTable } from "./udp.ts";

/** What the IPv6 half needs from its interface. */
export interface Ipv6PathEnv {
  /** Our MAC (6 bytes) and its two halves (hi 16 bits, lo 32 bits). */
  mac: Uint8Array;
  macHi: number;
  macLo: number;
  counters: Counters;
  /** The UDP sockets (shared with IPv4). */
  udp: UdpTable;
  limits: IfaceLimits;
  /** The interface's random source (fragment identifications, the address table's seed). */
  random: () => number;
  /** Send the whole Ethernet frame `buf[start, start+len)` to the link, counted. */
  send(buf: Uint8Array, start: number, len: number): void;
  /** Queue the frame at `engine.mem[start, +len)` on the loopback path; false when full. */
  loop(start: number, len: number): boolean;
  /** Whether the frame being received came from the loopback path. */
  looped(): boolean;
  /** The `now` of the last driver call (for sends an application makes between turns). */
  lastNow(): number;
}

/** The IPv6 half of one interface. */
export class Ipv6Path {
  /** The IPv6 host: neighbor discovery, DAD, SLAAC, path MTU, ICMPv6 (icmp6.ts). */
  readonly host: Icmp6Host;
  /** Reassembly and fragmentation (fragments6_host.ts). */
  readonly frag: Frag6Host;
  /** TCP and UDP over IPv6 (ip6_data.ts). */
  readonly data: Ip6Data;
  #engine: Engine;
  #env: Ipv6PathEnv;
  #mtu: number;

  /**
   * The IPv6 half of the interface with `options` (`mtu`, `maxSendFrame`, `slaac`, `ipv6`)
   * whose parts `env` gives. Throws a RangeError for an IPv6 address that is not 16 bytes.
   */
  constructor(engine: Engine, options: InterfaceOptions, env: Ipv6PathEnv) {
    this.#engine = engine;
    this.#env = env;
    this.#mtu = options.mtu;
    const { limits, send } = env;
    const inc = (name: string, n?: number) => env.counters.inc(name, n);
    this.host = new Icmp6Host(engine, env.mac, {
      // IPv6 frames over the path MTU (echo replies) leave in fragments (fragments6_host.ts).
      // TCP (Next Header 6) and datagrams within the IPv6 minimum MTU never need it: they go
      // out without a path MTU lookup (the hot path of TCP over IPv6).
      send: (buf, off, len) =>
        len - 14 <= 1280 || buf[off + 20] === 6
          ? send(buf, off, len)
          : this.frag.output(buf, off, len, this.#mtu6(buf, off), send),
      loop: env.loop,
      inc,
      mtu: options.mtu,
      slaac: options.slaac ?? false,
    }, limits);
    this.frag = new Frag6Host(
      engine,
      {
        // Ours, or ::1 on the loopback path (RFC 4291 2.5.3).
        isOurs: (m, off) => this.host.isOurs(m, off) || (env.looped() && isLoopback6(m, off)),
        send: (start, len) => send(engine.mem, start, len),
        inc,
        random: env.random,
      },
      env.macHi,
      env.macLo,
      limits,
    );
    for (const a of options.ipv6 ?? []) {
      if (a.address.length !== 16) {
        throw new RangeError(`IPv6 address must be 16 bytes, got ${a.address.length}`);
      }
      this.host.addAddress(a.address, a.prefixLength);
    }
    this.data = new Ip6Data(engine, this.host, {
      counters: env.counters,
      udp: env.udp,
      mtu: options.mtu,
      macHi: env.macHi,
      macLo: env.macLo,
      tableSize: limits.ip6AddressTable,
      seed: Math.floor(env.random() * 4294967296),
      ours: this.host.addresses,
      loop: env.loop,
      maxSendFrame: options.maxSendFrame ?? 0,
      fragment: (start, len, mtu, emit) =>
        this.frag.output(engine.mem, start, len, mtu, (_b, s, l) => emit(s, l)),
    });
  }

  /**
   * The IPv6 datagram of `kind` decoded in rxDesc, to our MAC: fragments to reassembly
   * (fragments6_host.ts), then TCP and UDP to the data path (ip6_data.ts), the rest to the
   * host (icmp6.ts).
   */
  input(kind: number, now: number): void {
    let k = kind;
    // RFC 8200 4.5: a completed datagram is dispatched like an unfragmented one.
    if (k === K_IPV6_FRAGMENT) {
      if (!this.frag.input(now)) return;
      k = this.#engine.rxDesc[D_KIND]!;
    }
    if ((k === K_TCP6 || k === K_UDP6) && this.data.input(this.#env.looped(), now)) return;
    this.host.input(now);
  }

  /**
   * A frame to a group MAC that is not ours at the Ethernet layer: true when it is one of our
   * IPv6 multicast groups (all-nodes, solicited-node; RFC 2464 section 7), taken by the host
   * (untagged only, fragments after reassembly).
   */
  groupInput(eth: Readonly<EthernetFrame>, now: number): boolean {
    if (eth.ethertype !== ETHERTYPE_IPV6 || !this.host.acceptsMac(eth.dstHi, eth.dstLo)) {
      return false;
    }
    if (eth.vlan < 0 && (eth.kind !== K_IPV6_FRAGMENT || this.frag.input(now))) {
      this.host.input(now);
    }
    return true;
  }

  /**
   * A frame that decode dropped with `verdict`: when it is an untagged IPv6 frame to our MAC,
   * the host answers some drops with a Parameter Problem (RFC 8200 section 4).
   */
  dropped(verdict: number, now: number): void {
    const d = this.#engine.rxDesc;
    if (
      d[D_ETHERTYPE] === ETHERTYPE_IPV6 && d[D_VLAN] === -1 &&
      (d[D_ETH_DST_HI]! & 0xffff) === this.#env.macHi && d[D_ETH_DST_LO]! >>> 0 === this.#env.macLo
    ) this.host.dropped(verdict, now);
  }

  /** Neighbor discovery timers, then reassembly timeouts. */
  poll(now: number): void {
    this.host.poll(now);
    this.frag.poll(now);
  }

  /** The earliest deadline of poll(), or Infinity. */
  pollAt(): number {
    return Math.min(this.host.pollAt(), this.frag.pollAt());
  }

  /** The path MTU toward the destination of the IPv6 frame at `buf[off, ...)` (RFC 8201). */
  #mtu6(buf: Uint8Array, off: number): number {
    if (buf.length < off + 54) return this.#mtu;
    return this.host.pathMtu6(buf.subarray(off + 38, off + 54), this.#env.lastNow());
  }
}
