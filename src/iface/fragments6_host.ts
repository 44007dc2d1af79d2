/**
 * The interface's IPv6 fragment handling, sans-I/O: fragments in (reassembly, fragments6.ts),
 * our oversized datagrams out (fragment6_out.ts), and the ICMPv6 errors that go with them.
 *
 * - `input()` takes the fragment decoded in `engine.rxDesc`. When it completes a datagram,
 *   the datagram is written at `REASM_OFF` (transmit.ts), decoded there with
 *   `engine.decodeIpv6` (the last fragment's Ethernet fields kept in the descriptor, and
 *   EXT6_FRAGMENT set in D_IP6_EXT so that neighbor discovery drops it, RFC 6980) and
 *   `input()` returns true: the caller dispatches `rxDesc` as any unfragmented datagram.
 * - A first fragment without the whole header chain (RFC 7112 section 5) is dropped and
 *   answered with a Parameter Problem code 3, pointer 0 (RFC 8200 4.5, RFC 4443 3.4).
 * - `poll()` abandons datagrams after `frag6TimeoutMs` and answers those whose first fragment
 *   came with a Time Exceeded code 1 quoting it (RFC 8200 4.5, RFC 4443 3.3).
 * - `output()` sends an IPv6 frame, in fragments when its datagram exceeds the MTU.
 *
 * The errors follow RFC 4443 2.4: never about a datagram to a multicast group or from a
 * multicast or unspecified source, rate limited by a bucket of `icmpErrorsPerSecond` and
 * `icmpErrorBurst` (as the IPv4 and the other IPv6 errors; the timeouts are further bounded
 * by `fragDatagrams` per `frag6TimeoutMs`). They go to the link-layer source of the fragment.
 *
 * @module
 */

import type { Engine } from "../kernels/engine.ts";
import {
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_ICMP_CODE,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_IP6_EXT,
  D_IP_FRAG,
  D_IP_TOTLEN,
  D_IP_TTL,
  D_KIND,
  D_L3_OFF,
  D_VLAN,
  EXT6_FRAGMENT,
  K_ICMP6,
  K_IPV6_FRAGMENT,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../wire/layout.ts";
import { dropName } from "../wire/drop.ts";
import { type Expired6, incompleteChain, Reassembler6 } from "./fragments6.ts";
import { fragment6 } from "./fragment6_out.ts";
import type { IfaceLimits } from "./limits.ts";
import { TokenBucket } from "./rate_limit.ts";
import { REASM_OFF } from "./transmit.ts";

/** ICMPv6 types (RFC 4443). */
const TIME_EXCEEDED = 3;
const PARAM_PROBLEM = 4;
/** The longest quote: the error stays within the minimum MTU (RFC 4443 2.4 (c)). */
const MAX_QUOTE = 1280 - 48;

/** What the fragment handling needs from the interface. */
export interface Frag6Env {
  /** Whether `mem[off, off+16)` is one of our unicast IPv6 addresses. */
  isOurs(mem: Uint8Array, off: number): boolean;
  /** Send the Ethernet frame at `engine.mem[start, start+len)` (destination MAC filled in). */
  send(start: number, len: number): void;
  /** Count an event. */
  inc(name: string, n?: number): void;
  /** Random numbers in [0, 1), for the Fragment Identification (RFC 7739). */
  random(): number;
}

/** IPv6 reassembly and fragmentation of one interface. */
export class Frag6Host {
  readonly reassembler: Reassembler6;
  #engine: Engine;
  #env: Frag6Env;
  #macHi: number;
  #macLo: number;
  #bucket: TokenBucket;

  /** Fragment handling for the interface with MAC `macHi`/`macLo`, bounded by `limits`. */
  constructor(engine: Engine, env: Frag6Env, macHi: number, macLo: number, limits: IfaceLimits) {
    this.#engine = engine;
    this.#env = env;
    this.#macHi = macHi;
    this.#macLo = macLo;
    this.reassembler = new Reassembler6(limits);
    this.#bucket = new TokenBucket(limits.icmpErrorsPerSecond, limits.icmpErrorBurst);
  }

  /**
   * The IPv6 fragment decoded in rxDesc (kind K_IPV6_FRAGMENT). True when it completed a
   * datagram, now decoded in rxDesc (verdict 0) for the caller to dispatch; false when it was
   * held or dropped (counted).
   */
  input(now: number): boolean {
    const e = this.#engine;
    const m = e.mem;
    const d = e.rxDesc;
    const l3 = d[D_L3_OFF]!;
    const toUs = this.#env.isOurs(m, l3 + 24);
    // Not ours and not a group: the caller's input counts it as not for us.
    if (!toUs && m[l3 + 24] !== 0xff) return true;
    const inc = (name: string) => this.#env.inc(name);
    inc("ip6-fragments-in");
    if ((d[D_IP_FRAG]! & 0xfff8) === 0 && incompleteChain(m, d)) {
      inc("frag6-incomplete-chain");
      if (toUs) {
        const n = Math.min(d[D_IP_TOTLEN]!, MAX_QUOTE);
        m.copyWithin(TX_PAYLOAD_OFF, l3, l3 + n);
        this.#error(PARAM_PROBLEM, 3, 0, n, d[D_ETH_SRC_HI]!, d[D_ETH_SRC_LO]!, now);
      }
      return false;
    }
    const r = this.reassembler.add(m, d, now);
    if (r === "held") return false;
    if (r !== "complete") {
      inc(r);
      return false;
    }
    const eth = [d[D_ETH_DST_HI]!, d[D_ETH_DST_LO]!, d[D_ETH_SRC_HI]!, d[D_ETH_SRC_LO]!];
    const len = this.reassembler.takeInto(e.mem, REASM_OFF);
    inc("ip6-reassembled");
    const verdict = e.decodeIpv6(REASM_OFF, len);
    const out = e.rxDesc;
    out[D_ETH_DST_HI] = eth[0]!;
    out[D_ETH_DST_LO] = eth[1]!;
    out[D_ETH_SRC_HI] = eth[2]!;
    out[D_ETH_SRC_LO] = eth[3]!;
    if (verdict !== 0) {
      inc(dropName(verdict));
      return false;
    }
    if (out[D_KIND] === K_IPV6_FRAGMENT) {
      inc("frag6-still-fragment");
      return false;
    }
    // It came in fragments: neighbor discovery drops it (RFC 6980 section 5, ndp.ts).
    out[D_IP6_EXT] = out[D_IP6_EXT]! | EXT6_FRAGMENT;
    return true;
  }

  /** Reassembly timeouts: datagrams abandoned, Time Exceeded for those with fragment zero. */
  poll(now: number): void {
    const n = this.reassembler.poll(now, (x) => this.#timeExceeded(x, now), MAX_QUOTE);
    if (n > 0) this.#env.inc("frag6-timeout", n);
  }

  /** The earliest deadline of poll(), or Infinity. */
  pollAt(): number {
    return this.reassembler.pollAt();
  }

  /**
   * Send the frame at `buf[start, start+len)` through `emit`: as it is unless it is an IPv6
   * datagram in `engine.mem` (a 14-byte Ethernet header, its destination filled in) larger
   * than `mtu`, which leaves in fragments with a random identification (RFC 7739; fragment6).
   * Returns the fragments sent (0: sent whole).
   */
  output(
    buf: Uint8Array,
    start: number,
    len: number,
    mtu: number,
    emit: (buf: Uint8Array, start: number, len: number) => void,
  ): number {
    const e = this.#engine;
    // TCP is never fragmented: it sizes its segments to the path MTU, and a larger one is a
    // TSO segment that the link cuts into MTU-sized segments (Next Header 6 right after the
    // fixed header: we send TCP without extension headers).
    if (
      len - 14 <= mtu || buf !== e.mem || buf[start + 12] !== 0x86 || buf[start + 13] !== 0xdd ||
      buf[start + 20] === 6
    ) {
      emit(buf, start, len);
      return 0;
    }
    const ident = Math.floor(this.#env.random() * 0x100000000) >>> 0;
    const n = fragment6(e, start + 14, len - 14, mtu, ident, (s, l) => {
      emit(e.mem, s, l);
      return true;
    });
    if (n < 0) {
      this.#env.inc("frag6-cannot-fragment");
      return 0;
    }
    this.#env.inc("ip6-fragments-out", n);
    return n;
  }

  #timeExceeded(x: Expired6, now: number): void {
    const q = x.quote;
    this.#engine.mem.set(q, TX_PAYLOAD_OFF);
    this.#error(TIME_EXCEEDED, 1, 0, q.length, x.macHi, x.macLo, now);
  }

  /**
   * The error about the datagram quoted at TX_PAYLOAD_OFF (`len` bytes, its IPv6 header
   * first): to its source, from the address it was sent to (RFC 4443 2.2), per 2.4 (e), (f).
   */
  #error(
    type: number,
    code: number,
    rest: number,
    len: number,
    hi: number,
    lo: number,
    now: number,
  ): void {
    const e = this.#engine;
    const m = e.mem;
    const q = TX_PAYLOAD_OFF;
    const zero = m.subarray(q + 8, q + 24).every((b) => b === 0);
    if (m[q + 24] === 0xff || m[q + 8] === 0xff || zero) {
      return this.#env.inc("icmp6-error-suppressed");
    }
    if (!this.#bucket.take(now)) return this.#env.inc("icmp6-error-rate-limited");
    m.copyWithin(TX_IP6_SRC, q + 24, q + 40);
    m.copyWithin(TX_IP6_DST, q + 8, q + 24);
    const t = e.txDesc;
    t.fill(0);
    t[D_KIND] = K_ICMP6;
    t[D_VLAN] = -1;
    t[D_ETH_DST_HI] = hi;
    t[D_ETH_DST_LO] = lo;
    t[D_ETH_SRC_HI] = this.#macHi;
    t[D_ETH_SRC_LO] = this.#macLo;
    t[D_IP_TTL] = 64;
    t[D_ICMP_TYPE] = type;
    t[D_ICMP_CODE] = code;
    t[D_ICMP_REST] = rest;
    const start = e.encode(q, len);
    if (start < 0) return this.#env.inc(`encode-error-${-start}`);
    this.#env.inc(type === TIME_EXCEEDED ? "icmp6-time-exceeded" : "icmp6-parameter-problems");
    this.#env.send(start, q + len - start);
  }
}
