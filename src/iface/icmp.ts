/**
 * ICMP (RFC 792, RFC 1122 3.2.2): echo replies of any size, errors we send (port and protocol
 * unreachable, reassembly time exceeded) under a rate limit, and errors we receive, passed to
 * TCP (RFC 1122 4.2.3.9) with fragmentation-needed lowering the path MTU (RFC 1191).
 *
 * @module
 */

import type { Engine } from "../kernels/engine.ts";
import { K_ICMP, TX_PAYLOAD_OFF } from "../wire/layout.ts";
import { IcmpHeader } from "../wire/icmp_header.ts";
import type { Ipv4Header } from "../wire/ipv4_header.ts";
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP } from "../wire/checksum.ts";
import type { TcpHandler, TcpIcmpError, TcpIcmpReport } from "../tcp/contract.ts";
import type { Counters } from "./counters.ts";
import type { ExpiredDatagram } from "./fragments.ts";
import type { IfaceLimits } from "./limits.ts";
import { TokenBucket } from "./rate_limit.ts";
import { isMulticastIp, type Router } from "./routing.ts";
import type { Transmitter } from "./transmit.ts";

/** ICMP types (RFC 792). */
export const ICMP_ECHO_REPLY = 0;
/** Destination unreachable. */
export const ICMP_UNREACHABLE = 3;
/** Source quench (deprecated, RFC 6633: ignored). */
export const ICMP_SOURCE_QUENCH = 4;
/** Echo request. */
export const ICMP_ECHO = 8;
/** Time exceeded. */
export const ICMP_TIME_EXCEEDED = 11;
/** Parameter problem. */
export const ICMP_PARAMETER_PROBLEM = 12;

/** Destination-unreachable codes we send. */
export const CODE_PROTOCOL_UNREACHABLE = 2;
/** Port unreachable. */
export const CODE_PORT_UNREACHABLE = 3;
/** Fragmentation needed and DF set. */
export const CODE_FRAG_NEEDED = 4;
/** Destination unreachable code 13: communication administratively prohibited (RFC 1812 5.2.7.1). */
export const CODE_ADMIN_PROHIBITED = 13;

/** RFC 1812 4.3.2.3 (and Linux): an error quotes as much as fits in a 576-byte datagram. */
const MAX_QUOTE = 576 - 20 - 8;

/** RFC 1191 section 7 plateau table, for fragmentation-needed without a next-hop MTU. */
const PLATEAUS = [32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

/** True when `ip` may be the source of a datagram we answer (RFC 1122 3.2.1.3, 3.2.2). */
export function isUnicastSource(ip: number, router: Router): boolean {
  const u = ip >>> 0;
  return u !== 0 && u >>> 24 !== 127 && !isMulticastIp(u) && u >>> 28 !== 0xf &&
    !router.isBroadcast(u);
}

/** The ICMP side of one interface. */
export class Icmp {
  /** The TCP layer that receives errors quoting its segments. */
  tcp: TcpHandler | null = null;
  #engine: Engine;
  #tx: Transmitter;
  #router: Router;
  #counters: Counters;
  #bucket: TokenBucket;
  #minPathMtu: number;
  /** The header of the message being sent. */
  #out = new IcmpHeader();
  /** The record handed to TCP's icmpError (reused). */
  #report: TcpIcmpReport = {
    kind: "net-unreachable",
    localIp: 0,
    localPort: 0,
    remoteIp: 0,
    remotePort: 0,
    seq: 0,
    mtu: 0,
  };

  /** ICMP for the interface that owns `tx`. */
  constructor(
    engine: Engine,
    tx: Transmitter,
    router: Router,
    counters: Counters,
    limits: IfaceLimits,
  ) {
    this.#engine = engine;
    this.#tx = tx;
    this.#router = router;
    this.#counters = counters;
    this.#bucket = new TokenBucket(limits.icmpErrorsPerSecond, limits.icmpErrorBurst);
    this.#minPathMtu = limits.minPathMtu;
  }

  /** Called with each echo reply to us: source, identifier, sequence number, data (a copy). */
  onEchoReply: ((from: number, ident: number, seq: number, data: Uint8Array) => void) | null = null;

  /**
   * Send an echo request (RFC 792) to `dst`, fragmented when larger than the path MTU.
   * Returns false when unroutable.
   */
  sendEcho(dst: number, ident: number, seq: number, data: Uint8Array, now: number): boolean {
    const nh = this.#router.nextHop(dst);
    if (nh < 0) return false;
    const mem = this.#engine.mem;
    mem.set(data, TX_PAYLOAD_OFF);
    const t = this.#tx.ipHeader(K_ICMP, this.#router.address, dst, 0);
    this.#out.echo(ICMP_ECHO, ident, seq).toDesc(t);
    this.#counters.inc("icmp-echo-requests");
    return this.#tx.sendDatagram(TX_PAYLOAD_OFF, data.length, dst, nh, now);
  }

  /** An ICMP message `msg` to us in datagram `ip`. `toBroadcast`: sent to a broadcast address. */
  input(
    ip: Readonly<Ipv4Header>,
    msg: Readonly<IcmpHeader>,
    toBroadcast: boolean,
    now: number,
  ): void {
    const type = msg.type;
    this.#counters.inc("icmp-in");
    switch (type) {
      case ICMP_ECHO: {
        // Linux icmp_echo_ignore_broadcasts=1: no replies to broadcast pings (smurf attacks).
        if (toBroadcast) return this.#counters.inc("icmp-echo-broadcast-ignored");
        const src = ip.src;
        const nh = this.#router.nextHop(src);
        if (nh < 0 || !isUnicastSource(src, this.#router)) {
          return this.#counters.inc("icmp-echo-no-route");
        }
        // RFC 792 echo: the reply carries the request's identifier, sequence and data; RFC 1122
        // 3.2.2.6: any size, and the reply's source is the address the request was sent to.
        const t = this.#tx.ipHeader(K_ICMP, this.#router.address, src, 0, ip.tos);
        this.#out.set(ICMP_ECHO_REPLY, 0, msg.rest).toDesc(t);
        this.#counters.inc("icmp-echo-replies");
        this.#tx.sendDatagram(msg.payloadOff, msg.payloadLen, src, nh, now);
        return;
      }
      case ICMP_UNREACHABLE:
      case ICMP_TIME_EXCEEDED:
      case ICMP_PARAMETER_PROBLEM:
        if (toBroadcast) return this.#counters.inc("icmp-error-broadcast-ignored");
        return this.#error(msg, now);
      case ICMP_SOURCE_QUENCH:
        return this.#counters.inc("icmp-source-quench-ignored"); // RFC 6633
      case ICMP_ECHO_REPLY: {
        this.#counters.inc("icmp-echo-reply-in");
        if (this.onEchoReply === null || toBroadcast) return;
        const off = msg.payloadOff;
        const data = this.#engine.mem.slice(off, off + msg.payloadLen);
        this.onEchoReply(ip.src, msg.ident, msg.sequence, data);
        return;
      }
      default:
        return this.#counters.inc("icmp-type-ignored");
    }
  }

  /**
   * Send an ICMP error about the received datagram `ip`, unless RFC 1122 3.2.2 forbids it (the
   * datagram is an ICMP error, went to a broadcast or multicast address, is a non-initial
   * fragment, or has no unicast source) or the rate limit suppresses it. `toBroadcast` says
   * the frame or datagram was broadcast or multicast.
   */
  sendError(
    type: number,
    code: number,
    ip: Readonly<Ipv4Header>,
    toBroadcast: boolean,
    now: number,
  ): void {
    const src = ip.src;
    if (toBroadcast || (ip.frag & 0x1fff) !== 0 || !isUnicastSource(src, this.#router)) {
      return this.#counters.inc("icmp-error-suppressed");
    }
    const mem = this.#engine.mem;
    if (ip.proto === PROTO_ICMP) {
      const t = mem[ip.payloadOff]!; // the type of the ICMP message it carries
      if (t !== ICMP_ECHO && t !== ICMP_ECHO_REPLY && t !== 13 && t !== 14) {
        return this.#counters.inc("icmp-error-suppressed");
      }
    }
    const len = Math.min(ip.totalLen, MAX_QUOTE);
    mem.copyWithin(TX_PAYLOAD_OFF, ip.headerOff, ip.headerOff + len);
    this.#emitError(type, code, src, len, now);
  }

  /** RFC 1122 3.3.2: a reassembly timeout with fragment zero held sends time exceeded (code 1). */
  reassemblyTimeout(x: ExpiredDatagram, now: number): void {
    if (x.header === null) return;
    const h = x.header;
    const src = ((h[12]! << 24) | (h[13]! << 16) | (h[14]! << 8) | h[15]!) >>> 0;
    const dst = ((h[16]! << 24) | (h[17]! << 16) | (h[18]! << 8) | h[19]!) >>> 0;
    if (
      !isUnicastSource(src, this.#router) || this.#router.isBroadcast(dst) || isMulticastIp(dst)
    ) return;
    const mem = this.#engine.mem;
    mem.set(h, TX_PAYLOAD_OFF);
    mem.set(x.data, TX_PAYLOAD_OFF + h.length);
    this.#emitError(ICMP_TIME_EXCEEDED, 1, src, h.length + x.data.length, now);
  }

  /** Send the error whose quoted bytes lie at TX_PAYLOAD_OFF, rate limited. */
  #emitError(type: number, code: number, dst: number, quoteLen: number, now: number): void {
    const nh = this.#router.nextHop(dst);
    if (nh < 0) return this.#counters.inc("icmp-error-no-route");
    if (!this.#bucket.take(now)) return this.#counters.inc("icmp-rate-limited");
    const t = this.#tx.ipHeader(K_ICMP, this.#router.address, dst, 0, 0xc0);
    this.#out.set(type, code, 0).toDesc(t);
    this.#counters.inc("icmp-errors-out");
    this.#tx.encodeAndSend(TX_PAYLOAD_OFF, quoteLen, nh, now);
  }

  /** An ICMP error to us: find the datagram it quotes and tell its protocol. */
  #error(msg: Readonly<IcmpHeader>, now: number): void {
    const { type, code, rest } = msg;
    const mem = this.#engine.mem;
    const q = msg.payloadOff, n = msg.payloadLen;
    // RFC 792: the quote is the original IPv4 header and at least 8 bytes of its data.
    const ihl = (mem[q]! & 15) * 4;
    if (n < 28 || mem[q]! >> 4 !== 4 || ihl < 20 || n < ihl + 8) {
      return this.#counters.inc("icmp-bad-quote");
    }
    const proto = mem[q + 9]!;
    const qsrc = u32(mem, q + 12), qdst = u32(mem, q + 16);
    if (qsrc !== this.#router.address) return this.#counters.inc("icmp-quote-not-ours");
    let mtu = 0;
    if (type === ICMP_UNREACHABLE && code === CODE_FRAG_NEEDED) {
      mtu = rest & 0xffff;
      if (mtu < 68) {
        // RFC 1191 section 5: old routers send 0; guess the plateau below the quoted length.
        const tot = (mem[q + 2]! << 8) | mem[q + 3]!;
        mtu = PLATEAUS.find((p) => p < tot) ?? 68;
      }
      this.#counters.inc("icmp-frag-needed");
      // A quote of UDP or another protocol has no state to check it against: believed.
      if (proto !== PROTO_TCP) this.#tx.pmtu.lower(qdst, mtu, now);
    }
    if (proto === PROTO_TCP) {
      const kind = errorKind(type, code);
      if (kind === null) return this.#counters.inc("icmp-error-ignored");
      if (this.tcp === null) return this.#counters.inc("tcp-no-handler");
      const o = q + ihl;
      this.#counters.inc("icmp-errors-to-tcp");
      const r = this.#report;
      r.kind = kind;
      r.localIp = qsrc;
      r.localPort = (mem[o]! << 8) | mem[o + 1]!;
      r.remoteIp = qdst;
      r.remotePort = (mem[o + 2]! << 8) | mem[o + 3]!;
      r.seq = u32(mem, o + 4);
      // What the path MTU becomes if TCP believes the error (floored as PathMtuCache.lower).
      r.mtu = mtu > 0 ? Math.min(this.#tx.pmtu.get(qdst, now), Math.max(mtu, this.#minPathMtu)) : 0;
      // RFC 5927 section 7.2 (as Linux tcp_v4_err): a fragmentation-needed message lowers the
      // path MTU only when it quotes a connection's sequence number in flight, so a blind
      // forged ICMP cannot shrink every later connection to that host.
      if (this.tcp.icmpError(r, now) === true && mtu > 0) this.#tx.pmtu.lower(qdst, mtu, now);
      else if (mtu > 0) this.#counters.inc("icmp-frag-needed-ignored");
    } else if (proto === PROTO_UDP) {
      this.#counters.inc("icmp-errors-udp");
    } else {
      this.#counters.inc("icmp-error-ignored");
    }
  }
}

/** RFC 792 type/code to the TCP layer's error kinds; null for codes TCP need not see. */
function errorKind(type: number, code: number): TcpIcmpError | null {
  if (type === ICMP_TIME_EXCEEDED) return "time-exceeded";
  if (type === ICMP_PARAMETER_PROBLEM) return "parameter-problem";
  switch (code) {
    case 0:
    case 6:
    case 11:
      return "net-unreachable";
    case 1:
    case 5:
    case 7:
    case 12:
      return "host-unreachable";
    case 2:
      return "protocol-unreachable";
    case 3:
      return "port-unreachable";
    case CODE_FRAG_NEEDED:
      return "fragmentation-needed";
    case 9:
    case 10:
    case 13:
      return "admin-prohibited";
    default:
      return null;
  }
}

function u32(mem: Uint8Array, o: number): number {
  return ((mem[o]! << 24) | (mem[o + 1]! << 16) | (mem[o + 2]! << 8) | mem[o + 3]!) >>> 0;
}
