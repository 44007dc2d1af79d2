/**
 * The IPv6 host of the interface, sans-I/O: our addresses (link-local from the MAC, modified
 * EUI-64, RFC 4291 section 2.5.6 and appendix A; configured; SLAAC), the Ethernet multicast
 * groups it listens to (all-nodes and our solicited-node groups, RFC 4291 section 2.7.1, mapped
 * as RFC 2464 section 7), echo replies (RFC 4443 section 4.2) and echo requests of our own
 * (`ping6`), and the dispatch of Neighbor Discovery (ndp.ts) and of ICMPv6 errors about our
 * datagrams (icmp6_errors.ts).
 *
 * ICMPv6 errors (RFC 4443 section 2.4) go back about datagrams to our unicast addresses:
 * Parameter Problem for the extension-header drops that carry a pointer (RFC 8200 section 4)
 * and for an unknown upper layer, Destination Unreachable (port) for UDP and TCP that no
 * socket took; never about multicast or unspecified sources, never about an ICMPv6 error, at most
 * `icmpErrorsPerSecond` with a burst of `icmpErrorBurst`, as for IPv4.
 *
 * Neighbor discovery, DAD, router advertisements, SLAAC and the path MTU live in ndp.ts; this
 * host owns it and offers the interface's IPv6 data path its services (ip6_types.ts). ICMPv6
 * errors about datagrams we sent (RFC 4443 sections 3.1 to 3.4) are read in icmp6_errors.ts:
 * Packet Too Big lowers the path MTU (RFC 8201), and each is reported through `onError6`.
 * Echo replies and errors we send go back to the requester's link-layer source (on one link,
 * the neighbor or the router that forwarded the request), without a neighbor cache lookup.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linkLocalFromMac, solicitedNode } from "./icmp6.ts";
 * import { formatIpv6 } from "../wire/ipv6_address.ts";
 * const ll = linkLocalFromMac(Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]));
 * assert.equal(formatIpv6(ll), "fe80::5054:ff:fe12:3456");
 * assert.equal(formatIpv6(solicitedNode(ll)), "ff02::1:ff12:3456");
 * ```
 *
 * @module
 */

import type { Engine } from "../kernels/engine.ts";
import { TokenBucket } from "./rate_limit.ts";
import type { Ip6ErrorReport, Ip6Route, Ip6Services } from "./ip6_types.ts";
import type { IfaceLimits } from "./limits.ts";
import { Ndp } from "./ndp.ts";
import { macSeeded } from "./ndp_wire.ts";
import { errorInput } from "./icmp6_errors.ts";
import {
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_ICMP_CODE,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_IP6_PTR,
  D_IP_PROTO,
  D_IP_TOTLEN,
  D_IP_TTL,
  D_KIND,
  D_L3_OFF,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  D_TCP_FLAGS,
  D_VLAN,
  DROP_IP6_FRAG_BAD_LENGTH,
  DROP_IP6_FRAG_TOO_LONG,
  DROP_IP6_HBH_NOT_FIRST,
  DROP_IP6_OPT_UNKNOWN,
  DROP_IP6_ROUTING_UNKNOWN,
  F_RST,
  K_ICMP6,
  K_IPV6_OTHER,
  K_TCP6,
  K_UDP6,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../wire/layout.ts";

/** ICMPv6 types (RFC 4443, RFC 4861). */
const DEST_UNREACHABLE = 1;
const PARAM_PROBLEM = 4;
const ECHO_REQUEST = 128;
const ECHO_REPLY = 129;

export { linkLocalFromMac, solicitedNode } from "./ndp_wire.ts";

function unspecified(m: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (m[off + i] !== 0) return false;
  return true;
}

/** What the host needs from the interface. */
export interface Icmp6Env {
  /** Send `buf[off, off+len)`, a whole Ethernet frame (`buf` is often `engine.mem`). */
  send(buf: Uint8Array, off: number, len: number): void;
  /** Queue the frame at `engine.mem[start, +len)` on the loopback path; false when full. */
  loop(start: number, len: number): boolean;
  /** Count an event. */
  inc(name: string, n?: number): void;
  /** The link MTU. */
  mtu: number;
  /** Form addresses from router-advertised prefixes (RFC 4862 SLAAC). Default false. */
  slaac?: boolean;
  /**
   * Random numbers in [0, 1) for the router solicitation delay and ReachableTime; by default a
   * generator seeded from the MAC (the interface's own random source is left untouched).
   */
  random?: () => number;
}

/** Our IPv6 addresses, the ICMPv6 messages we answer, and the IPv6 services of ip6_types.ts. */
export class Icmp6Host implements Ip6Services {
  /** Neighbor discovery, DAD, SLAAC, path MTU. */
  readonly nd: Ndp;
  #engine: Engine;
  #env: Icmp6Env;
  #macHi: number;
  #macLo: number;
  #bucket: TokenBucket;

  constructor(
    engine: Engine,
    mac: Uint8Array,
    env: Icmp6Env,
    limits: IfaceLimits,
  ) {
    this.#bucket = new TokenBucket(limits.icmpErrorsPerSecond, limits.icmpErrorBurst);
    this.#engine = engine;
    this.#env = env;
    this.#macHi = (mac[0]! << 8) | mac[1]!;
    this.#macLo = ((mac[2]! << 24) | (mac[3]! << 16) | (mac[4]! << 8) | mac[5]!) >>> 0;
    this.nd = new Ndp(engine, mac, env, limits, {
      mtu: env.mtu,
      slaac: env.slaac ?? false,
      random: env.random ?? macSeeded(mac),
    });
  }

  /**
   * Our unicast addresses in every state (tentative and duplicate too; `isOurs` tells the usable
   * ones), the link-local one first. A live array: SLAAC adds to it, expiry removes from it. Do
   * not modify it (`addAddress` adds).
   */
  get addresses(): Uint8Array[] {
    return this.nd.addrs.bytes;
  }

  /** Add a configured address (used once duplicate address detection passes). */
  addAddress(addr: Uint8Array, prefixLength: number): void {
    this.nd.addAddress(addr, prefixLength);
  }

  /** Interface start: DAD, router solicitations. */
  start(now: number): void {
    this.nd.start(now);
  }

  /** Timers of neighbor discovery. */
  poll(now: number): void {
    this.nd.poll(now);
  }

  /** The earliest deadline of poll(), or Infinity. */
  pollAt(): number {
    return this.nd.pollAt();
  }

  /** Write the gauges of IPv6 neighbor discovery into `s` (see docs/stats.md). */
  stats(s: Record<string, number>): void {
    const nd = this.nd;
    s["ndp-cache-entries"] = nd.cache.size;
    s["ndp-probe-failed"] = nd.cache.probeFailures;
    s["ndp-incomplete-evicted"] = nd.cache.incompleteEvicted;
    s["ndp-confirmed"] = nd.cache.confirmations;
    s["ndp-pending-bytes"] = nd.cache.pendingBytes;
    s["ndp-routers"] = nd.routers.routers.length;
    s["ndp-prefixes"] = nd.routers.prefixes.length;
    s["ndp-addresses"] = nd.addrs.list.length;
    s["ndp-dad-duplicates"] = nd.addrs.duplicates;
    s["ndp-dad-completed"] = nd.addrs.dadCompleted;
    s["ip6-pmtu-entries"] = nd.pmtu.size;
  }

  /** Whether duplicate address detection is still running for some address. */
  get dadPending(): boolean {
    return this.nd.addrs.tentative;
  }

  // ---- Ip6Services (ip6_types.ts), served by ndp.ts ----

  /** See Ip6Services.route6. */
  route6(dst: Uint8Array): Ip6Route | null {
    return this.nd.route6(dst);
  }

  /** See Ip6Services.emit6. */
  emit6(nextHop: Uint8Array, start: number, len: number, now: number): boolean {
    return this.nd.emit6(nextHop, start, len, now);
  }

  /** See Ip6Services.pathMtu6. */
  pathMtu6(dst: Uint8Array, now: number): number {
    return this.nd.pathMtu6(dst, now);
  }

  /** Whether mem[off, off+16) is one of our unicast addresses (DAD passed). */
  isOurs(m: Uint8Array, off: number): boolean {
    return this.nd.addrs.isOurs(m, off);
  }

  /** See Ip6Services.onUnreachable6. */
  get onUnreachable6(): ((addr: Uint8Array, now: number) => void) | null {
    return this.nd.onUnreachable6;
  }
  set onUnreachable6(fn: ((addr: Uint8Array, now: number) => void) | null) {
    this.nd.onUnreachable6 = fn;
  }

  /** See Ip6Services.onError6. */
  get onError6(): ((report: Ip6ErrorReport, now: number) => void) | null {
    return this.nd.onError6;
  }
  set onError6(fn: ((report: Ip6ErrorReport, now: number) => void) | null) {
    this.nd.onError6 = fn;
  }

  /** See Ip6Services.confirm6. */
  confirm6(addr: Uint8Array, now: number): number {
    return this.nd.confirm6(addr, now);
  }

  /** See Ip6Services.hopLimit6. */
  hopLimit6(): number {
    return this.nd.hopLimit6();
  }

  /** Whether an Ethernet multicast destination (RFC 2464 section 7) is one of our groups. */
  acceptsMac(hi: number, lo: number): boolean {
    if (this.onRouterSolicit !== null && (hi & 0xffff) === 0x3333 && lo >>> 0 === 2) return true;
    return this.nd.addrs.joinedMac(hi, lo);
  }

  /**
   * Send an ICMPv6 echo request (RFC 4443 4.1) of `data` to `dst` with identifier and sequence
   * number, from the source route6 chooses, resolving the neighbor as needed. Replies arrive
   * through `onEchoReply6`. False when there is no route (or no usable source address) or the
   * frame was dropped; RangeError when it does not fit the path MTU (no fragmentation here).
   */
  ping6(dst: Uint8Array, ident: number, seq: number, data: Uint8Array, now: number): boolean {
    const r = this.route6(dst);
    if (r === null) return false;
    if (48 + data.length > this.pathMtu6(dst, now)) {
      throw new RangeError(`Echo data of ${data.length} bytes exceeds the path MTU`);
    }
    const m = this.#engine.mem;
    m.set(data, TX_PAYLOAD_OFF);
    m.set(r.source, TX_IP6_SRC);
    m.set(dst.subarray(0, 16), TX_IP6_DST);
    const t = this.#engine.txDesc;
    t.fill(0);
    t[D_KIND] = K_ICMP6;
    t[D_VLAN] = -1;
    t[D_ETH_SRC_HI] = this.#macHi;
    t[D_ETH_SRC_LO] = this.#macLo | 0;
    t[D_IP_TTL] = this.hopLimit6();
    t[D_ICMP_TYPE] = ECHO_REQUEST;
    t[D_ICMP_REST] = ((ident & 0xffff) << 16) | (seq & 0xffff);
    const start = this.#engine.encode(TX_PAYLOAD_OFF, data.length);
    if (start < 0) return false;
    this.#env.inc("icmp6-echo-requests");
    return this.emit6(r.nextHop, start, TX_PAYLOAD_OFF + data.length - start, now);
  }

  /** Called with each echo reply to us: source, identifier, sequence, data (a view). */
  onEchoReply6: ((from: Uint8Array, ident: number, seq: number, data: Uint8Array) => void) | null =
    null;

  /**
   * A decode drop of an IPv6 datagram to our MAC: the Parameter Problem RFC 8200 section 4
   * asks for when the verdict carries a pointer (codes per RFC 4443 section 3.4).
   */
  dropped(verdict: number, now: number): void {
    let code: number;
    if (verdict === DROP_IP6_HBH_NOT_FIRST) code = 1;
    else if (verdict === DROP_IP6_OPT_UNKNOWN) code = 2;
    else if (
      verdict === DROP_IP6_ROUTING_UNKNOWN || verdict === DROP_IP6_FRAG_BAD_LENGTH ||
      verdict === DROP_IP6_FRAG_TOO_LONG
    ) code = 0;
    else return;
    const d = this.#engine.rxDesc;
    if (!this.isOurs(this.#engine.mem, d[D_L3_OFF]! + 24)) return;
    this.#error(PARAM_PROBLEM, code, d[D_IP6_PTR]!, now);
  }

  /** Handle the IPv6 datagram decoded in `engine.rxDesc` (verdict 0). */
  input(now = 0): void {
    const d = this.#engine.rxDesc;
    const m = this.#engine.mem;
    const l3 = d[D_L3_OFF]!;
    const toUs = this.isOurs(m, l3 + 24);
    if (
      !toUs && this.onRouterSolicit !== null && !this.nd.addrs.joined(m, l3 + 24) &&
      this.nd.addrs.find(m, l3 + 24) === undefined // not one of ours (a tentative one)
    ) {
      return this.#routerInput(d, m, l3, now);
    }
    if (!toUs && !this.nd.addrs.joined(m, l3 + 24)) {
      // RFC 4862 5.4: datagrams to a tentative address are dropped, except DAD's messages.
      const a = this.nd.addrs.find(m, l3 + 24);
      const nd = d[D_KIND] === K_ICMP6 && d[D_ICMP_TYPE]! >= 133 && d[D_ICMP_TYPE]! <= 137;
      if (a === undefined || !nd) {
        return this.#env.inc(a === undefined ? "ip6-not-for-us" : "ip6-to-tentative");
      }
    }
    const kind = d[D_KIND];
    if (kind !== K_ICMP6) {
      this.#env.inc("ip6-unhandled");
      if (!toUs) return;
      // RFC 4443 3.1 code 4: no IPv6 UDP socket or TCP listener (none can be yet); a TCP
      // client then fails at once (Linux reports ECONNREFUSED) instead of retrying. Never
      // about a RST.
      if (kind === K_UDP6 || (kind === K_TCP6 && (d[D_TCP_FLAGS]! & F_RST) === 0)) {
        this.#error(DEST_UNREACHABLE, 4, 0, now);
      }
      // RFC 8200 section 4: an unknown Next Header (59 is No Next Header: nothing follows).
      if (kind === K_IPV6_OTHER && d[D_IP_PROTO] !== 59) {
        this.#error(PARAM_PROBLEM, 1, d[D_IP6_PTR]!, now);
      }
      return;
    }
    const type = d[D_ICMP_TYPE]!;
    if (type === ECHO_REQUEST) {
      // RFC 4443 section 4.2: the reply carries the request's identifier, sequence and data.
      if (!toUs) return this.#env.inc("icmp6-echo-multicast-ignored");
      return this.#echoReply(d, m, l3);
    }
    if (type === ECHO_REPLY && toUs) {
      this.#env.inc("icmp6-echo-replies-in");
      const p = d[D_PAYLOAD_OFF]!;
      const rest = d[D_ICMP_REST]! >>> 0;
      const data = m.subarray(p, p + d[D_PAYLOAD_LEN]!);
      return this.onEchoReply6?.(m.slice(l3 + 8, l3 + 24), rest >>> 16, rest & 0xffff, data);
    }
    if (type >= 133 && type <= 137) return this.nd.input(type, now);
    if (type >= 1 && type <= 4) {
      if (!toUs) return this.#env.inc("icmp6-error-not-unicast");
      return errorInput(m, d, this.nd, this.#env, now);
    }
    this.#env.inc("icmp6-ignored");
  }

  /**
   * Gateway mode (src/gateway): each valid router solicitation (RFC 4861 6.1.1: hop limit 255,
   * code 0) to the all-routers group goes here (the gateway answers it, 6.2.6). While set,
   * ff02::2 is joined, and unicast datagrams to other hosts (which the gateway does not relay)
   * are answered with destination unreachable, administratively prohibited (RFC 4443 3.1
   * code 1).
   */
  onRouterSolicit: ((now: number) => void) | null = null;

  #routerInput(d: Int32Array, m: Uint8Array, l3: number, now: number): void {
    const dst = l3 + 24;
    if (m[dst] === 0xff) {
      let allRouters = m[dst + 1] === 0x02 && m[dst + 15] === 2;
      for (let i = 2; i < 15; i++) if (m[dst + i] !== 0) allRouters = false;
      if (
        allRouters && d[D_KIND] === K_ICMP6 && d[D_ICMP_TYPE] === 133 &&
        d[D_ICMP_CODE] === 0 && m[l3 + 7] === 255
      ) {
        this.#env.inc("ndp-rs-in");
        return this.onRouterSolicit?.(now);
      }
      return this.#env.inc("ip6-not-for-us");
    }
    // Not about a RST (RFC 4443 2.4 (e) covers ICMPv6 errors in #error).
    if (d[D_KIND] === K_TCP6 && (d[D_TCP_FLAGS]! & F_RST) !== 0) return;
    this.#env.inc("ip6-foreign-refused");
    this.#error(DEST_UNREACHABLE, 1, 0, now);
  }

  #echoReply(d: Int32Array, m: Uint8Array, l3: number): void {
    const len = d[D_PAYLOAD_LEN]!;
    const rest = d[D_ICMP_REST]!;
    const hi = d[D_ETH_SRC_HI]!;
    const lo = d[D_ETH_SRC_LO]!;
    m.copyWithin(TX_PAYLOAD_OFF, d[D_PAYLOAD_OFF]!, d[D_PAYLOAD_OFF]! + len);
    m.copyWithin(TX_IP6_SRC, l3 + 24, l3 + 40);
    m.copyWithin(TX_IP6_DST, l3 + 8, l3 + 24);
    this.#env.inc("icmp6-echo-replies");
    this.#send(ECHO_REPLY, rest, 64, hi, lo, len);
  }

  /**
   * An ICMPv6 error about the datagram in rxDesc (RFC 4443 section 2.4): to its source, from
   * the address it was sent to, quoting as much of it as fits in 1280 bytes.
   */
  #error(type: number, code: number, rest: number, now: number): void {
    const d = this.#engine.rxDesc;
    const m = this.#engine.mem;
    const l3 = d[D_L3_OFF]!;
    // (e): not about multicast or unspecified sources, not about an ICMPv6 error message.
    if (m[l3 + 8] === 0xff || unspecified(m, l3 + 8)) {
      return this.#env.inc("icmp6-error-suppressed");
    }
    if (d[D_KIND] === K_ICMP6 && d[D_ICMP_TYPE]! < 128) return;
    // (f): rate-limited.
    if (!this.#bucket.take(now)) return this.#env.inc("icmp6-error-rate-limited");
    const len = Math.min(d[D_IP_TOTLEN]!, 1280 - 48);
    const hi = d[D_ETH_SRC_HI]!;
    const lo = d[D_ETH_SRC_LO]!;
    m.copyWithin(TX_PAYLOAD_OFF, l3, l3 + len);
    m.copyWithin(TX_IP6_SRC, l3 + 24, l3 + 40);
    m.copyWithin(TX_IP6_DST, l3 + 8, l3 + 24);
    this.#env.inc(type === PARAM_PROBLEM ? "icmp6-parameter-problems" : "icmp6-unreachables");
    this.#send(type, rest, 64, hi, lo, len, code);
  }

  #send(
    type: number,
    rest: number,
    hops: number,
    hi: number,
    lo: number,
    len: number,
    code = 0,
  ): void {
    const t = this.#engine.txDesc;
    t.fill(0);
    t[D_KIND] = K_ICMP6;
    t[D_VLAN] = -1;
    t[D_ETH_DST_HI] = hi;
    t[D_ETH_DST_LO] = lo;
    t[D_ETH_SRC_HI] = this.#macHi;
    t[D_ETH_SRC_LO] = this.#macLo;
    t[D_IP_TTL] = hops;
    t[D_ICMP_TYPE] = type;
    t[D_ICMP_CODE] = code;
    t[D_ICMP_REST] = rest;
    const start = this.#engine.encode(TX_PAYLOAD_OFF, len);
    if (start < 0) return this.#env.inc(`encode-error-${-start}`);
    this.#env.send(this.#engine.mem, start, TX_PAYLOAD_OFF + len - start);
  }
}
