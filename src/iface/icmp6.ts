/**
 * The first IPv6 host functions of the interface, sans-I/O: our link-local address from the
 * MAC (modified EUI-64, RFC 4291 section 2.5.6 and appendix A), the Ethernet multicast groups
 * it listens to (all-nodes and our solicited-node group, RFC 4291 section 2.7.1, mapped as
 * RFC 2464 section 7), echo replies (RFC 4443 section 4.2) and neighbor advertisements in
 * answer to solicitations for our address (RFC 4861 sections 7.1.1 and 7.2.4).
 *
 * ICMPv6 errors (RFC 4443 section 2.4) go back about datagrams to our unicast addresses:
 * Parameter Problem for the extension-header drops that carry a pointer (RFC 8200 section 4)
 * and for an unknown upper layer, Destination Unreachable (port) for UDP and TCP (no IPv6
 * sockets yet); never about multicast or unspecified sources, never about an ICMPv6 error, at most
 * `icmpErrorsPerSecond` with a burst of `icmpErrorBurst`, as for IPv4.
 *
 * Not here yet: a neighbor cache (replies go to the requester's link-layer source, which on
 * one link is the neighbor or the router that forwarded the request), DAD, router
 * advertisements, reassembly, TCP and UDP over IPv6.
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
const NEIGHBOR_SOLICIT = 135;
const NEIGHBOR_ADVERT = 136;
/** NA flags (RFC 4861 section 4.4) in the word after the checksum. */
const NA_SOLICITED = 0x40000000;
const NA_OVERRIDE = 0x20000000;

/** The link-local address of a MAC: fe80::/64 with the modified EUI-64 interface identifier. */
export function linkLocalFromMac(mac: Uint8Array): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0xfe;
  a[1] = 0x80;
  a[8] = mac[0]! ^ 0x02; // the universal/local bit inverted
  a[9] = mac[1]!;
  a[10] = mac[2]!;
  a[11] = 0xff;
  a[12] = 0xfe;
  a[13] = mac[3]!;
  a[14] = mac[4]!;
  a[15] = mac[5]!;
  return a;
}

/** The solicited-node multicast address of `addr`: ff02::1:ff00:0/104 and its low 24 bits. */
export function solicitedNode(addr: Uint8Array): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0xff;
  a[1] = 0x02;
  a[11] = 0x01;
  a[12] = 0xff;
  a[13] = addr[13]!;
  a[14] = addr[14]!;
  a[15] = addr[15]!;
  return a;
}

function equal16(m: Uint8Array, off: number, a: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (m[off + i] !== a[i]) return false;
  return true;
}

function unspecified(m: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (m[off + i] !== 0) return false;
  return true;
}

/** What the host needs from the interface. */
export interface Icmp6Env {
  /** Send the frame at `engine.mem[start, start+len)`. */
  send(start: number, len: number): void;
  /** Count an event. */
  inc(name: string, n?: number): void;
}

/** Our IPv6 addresses and the ICMPv6 messages we answer. */
export class Icmp6Host {
  /** Our unicast addresses, the link-local one first. */
  readonly addresses: Uint8Array[];
  #engine: Engine;
  #env: Icmp6Env;
  #mac: Uint8Array;
  #macHi: number;
  #macLo: number;

  #bucket: TokenBucket;

  constructor(
    engine: Engine,
    mac: Uint8Array,
    env: Icmp6Env,
    limits: { icmpErrorsPerSecond: number; icmpErrorBurst: number },
  ) {
    this.#bucket = new TokenBucket(limits.icmpErrorsPerSecond, limits.icmpErrorBurst);
    this.#engine = engine;
    this.#env = env;
    this.#mac = Uint8Array.from(mac);
    this.#macHi = (mac[0]! << 8) | mac[1]!;
    this.#macLo = ((mac[2]! << 24) | (mac[3]! << 16) | (mac[4]! << 8) | mac[5]!) >>> 0;
    this.addresses = [linkLocalFromMac(mac)];
  }

  /** Whether mem[off, off+16) is one of our unicast addresses. */
  isOurs(m: Uint8Array, off: number): boolean {
    for (const a of this.addresses) if (equal16(m, off, a)) return true;
    return false;
  }

  /** Whether mem[off, off+16) is a multicast group we joined: all-nodes or a solicited-node. */
  #joined(m: Uint8Array, off: number): boolean {
    if (m[off] !== 0xff || m[off + 1] !== 0x02) return false;
    for (let i = 2; i < 11; i++) if (m[off + i] !== 0) return false;
    if (m[off + 11] === 0 && m[off + 12] === 0 && m[off + 13] === 0 && m[off + 14] === 0) {
      return m[off + 15] === 1; // ff02::1
    }
    if (m[off + 11] !== 1 || m[off + 12] !== 0xff) return false;
    for (const a of this.addresses) {
      if (m[off + 13] === a[13] && m[off + 14] === a[14] && m[off + 15] === a[15]) return true;
    }
    return false;
  }

  /** Whether an Ethernet multicast destination (RFC 2464 section 7) is one of our groups. */
  acceptsMac(hi: number, lo: number): boolean {
    if ((hi & 0xffff) !== 0x3333) return false;
    const l = lo >>> 0;
    if (l === 1) return true; // 33:33:00:00:00:01, all-nodes
    if (l >>> 24 !== 0xff) return false;
    for (const a of this.addresses) {
      if ((l & 0xffffff) === ((a[13]! << 16) | (a[14]! << 8) | a[15]!)) return true;
    }
    return false;
  }

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
    if (!toUs && !this.#joined(m, l3 + 24)) return this.#env.inc("ip6-not-for-us");
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
    if (type === NEIGHBOR_SOLICIT) return this.#solicitation(d, m, l3);
    this.#env.inc("icmp6-ignored");
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

  /** RFC 4861 section 7.1.1 validation, then section 7.2.4: advertise our address. */
  #solicitation(d: Int32Array, m: Uint8Array, l3: number): void {
    const p = d[D_PAYLOAD_OFF]!; // the target address
    const n = d[D_PAYLOAD_LEN]!;
    if (d[D_IP_TTL] !== 255 || d[D_ICMP_CODE] !== 0 || n < 16 || m[p] === 0xff) {
      return this.#env.inc("ndp-invalid");
    }
    const fromUnspecified = unspecified(m, l3 + 8);
    // Options: every length non-zero and inside the message; the source link-layer address.
    let hi = d[D_ETH_SRC_HI]!;
    let lo = d[D_ETH_SRC_LO]!;
    let slla = false;
    for (let i = p + 16; i < p + n;) {
      const olen = m[i + 1]! * 8;
      if (i + 2 > p + n || olen === 0 || i + olen > p + n) return this.#env.inc("ndp-invalid");
      if (m[i] === 1 && olen === 8) {
        slla = true;
        hi = (m[i + 2]! << 8) | m[i + 3]!;
        lo = (m[i + 4]! << 24) | (m[i + 5]! << 16) | (m[i + 6]! << 8) | m[i + 7]!;
      }
      i += olen;
    }
    // From the unspecified address (DAD): to a solicited-node group, without SLLA.
    if (fromUnspecified && (slla || m[l3 + 24] !== 0xff)) return this.#env.inc("ndp-invalid");
    if (!this.isOurs(m, p)) return this.#env.inc("ndp-not-our-target");
    this.#env.inc("ndp-solicitations");
    // The advertisement: target, then our link-layer address (option 2, RFC 4861 4.6.1).
    m.copyWithin(TX_PAYLOAD_OFF, p, p + 16);
    m[TX_PAYLOAD_OFF + 16] = 2;
    m[TX_PAYLOAD_OFF + 17] = 1;
    m.set(this.#mac, TX_PAYLOAD_OFF + 18);
    m.copyWithin(TX_IP6_SRC, p, p + 16);
    let flags = NA_OVERRIDE;
    if (fromUnspecified) {
      // Section 7.2.4: to all-nodes, not solicited (a duplicate address is being detected).
      m.fill(0, TX_IP6_DST, TX_IP6_DST + 16);
      m[TX_IP6_DST] = 0xff;
      m[TX_IP6_DST + 1] = 0x02;
      m[TX_IP6_DST + 15] = 1;
      hi = 0x3333;
      lo = 1;
    } else {
      m.copyWithin(TX_IP6_DST, l3 + 8, l3 + 24);
      flags |= NA_SOLICITED;
    }
    this.#env.inc("ndp-advertisements");
    this.#send(NEIGHBOR_ADVERT, flags, 255, hi, lo, 24);
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
    this.#env.send(start, TX_PAYLOAD_OFF + len - start);
  }
}
