/**
 * A minimal IPv6 host for the data path (implements `Ip6Services`, ip6_types.ts) until the
 * neighbor discovery modules provide theirs: every destination is taken as on-link, the
 * source is the configured address whose prefix matches best (else the first configured one,
 * the link-local one toward fe80::/10), neighbors are learned from the link-layer source of
 * the unicast IPv6 frames they send us, and an unknown neighbor is asked for with a Neighbor
 * Solicitation to its solicited-node group (RFC 4861 section 7.2.2) while its frames wait in a
 * small bounded queue. No router, no path MTU discovery (the link MTU), no reachability
 * states. Our own addresses and ::1 loop back.
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
  D_IP_TTL,
  D_KIND,
  D_VLAN,
  K_ICMP6,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../wire/layout.ts";
import { writeMac } from "./ethernet.ts";
import type { Ip6Route, Ip6Services } from "./ip6_types.ts";

/** Neighbors remembered (the oldest is forgotten beyond). */
const NEIGHBORS = 256;
/** Addresses being solicited at once, frames waiting per address, solicitations per address. */
const PENDING_ADDRS = 16;
const PENDING_FRAMES = 64;
const SOLICITS = 3;
const SOLICIT_MS = 1000;

interface Neighbor {
  addr: Uint8Array;
  hi: number;
  lo: number;
}

interface Pending {
  addr: Uint8Array;
  frames: Uint8Array[];
  sent: number;
  at: number;
}

/** What the stand-in needs from the interface. */
export interface OnLinkEnv {
  /** Our MAC, hi and lo words. */
  macHi: number;
  macLo: number;
  /** The link MTU. */
  mtu: number;
  /** Our unicast addresses with their prefix lengths, the link-local one first. */
  addresses(): readonly { address: Uint8Array; prefixLength: number }[];
  /** Whether mem[off, off+16) is one of our unicast addresses. */
  isOurs(m: Uint8Array, off: number): boolean;
  /** Put a frame on the link. */
  send(buf: Uint8Array, off: number, len: number): void;
  /** Queue a frame on the loopback path; false when full. */
  loop(buf: Uint8Array, off: number, len: number): boolean;
  /** Count an event. */
  inc(name: string, n?: number): void;
}

function same(a: Uint8Array, m: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== m[off + i]) return false;
  return true;
}

function matching(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < 16; i++) {
    const x = a[i]! ^ b[i]!;
    if (x === 0) {
      n += 8;
      continue;
    }
    return n + Math.clz32(x) - 24;
  }
  return n;
}

/** The loopback address ::1 at m[off, off+16). */
export function isLoopback6(m: Uint8Array, off: number): boolean {
  for (let i = 0; i < 15; i++) if (m[off + i] !== 0) return false;
  return m[off + 15] === 1;
}

/** On-link-only IPv6 routing and neighbor resolution (see the module note). */
export class OnLinkIp6 implements Ip6Services {
  onUnreachable6: ((addr: Uint8Array, now: number) => void) | null = null;
  onError6: Ip6Services["onError6"] = null;
  #engine: Engine;
  #env: OnLinkEnv;
  #neighbors: Neighbor[] = [];
  #pending: Pending[] = [];

  constructor(engine: Engine, env: OnLinkEnv) {
    this.#engine = engine;
    this.#env = env;
  }

  route6(dst: Uint8Array): Ip6Route | null {
    if (isLoopback6(dst, 0) || this.#env.isOurs(dst, 0)) return { nextHop: dst, source: dst };
    const all = this.#env.addresses();
    const linkLocal = dst[0] === 0xfe && (dst[1]! & 0xc0) === 0x80;
    if (linkLocal || dst[0] === 0xff || all.length < 2) {
      return all.length > 0 ? { nextHop: dst, source: all[0]!.address } : null;
    }
    let best = all[1]!, bestLen = -1;
    for (let i = 1; i < all.length; i++) {
      const a = all[i]!;
      const n = Math.min(matching(a.address, dst), a.prefixLength);
      if (n >= a.prefixLength && n > bestLen) {
        best = a;
        bestLen = n;
      }
    }
    return { nextHop: dst, source: best.address };
  }

  pathMtu6(_dst: Uint8Array, _now: number): number {
    return this.#env.mtu;
  }

  isOurs(m: Uint8Array, off: number): boolean {
    return this.#env.isOurs(m, off);
  }

  emit6(nextHop: Uint8Array, start: number, len: number, now: number): boolean {
    const env = this.#env;
    const mem = this.#engine.mem;
    if (isLoopback6(nextHop, 0) || env.isOurs(nextHop, 0)) {
      writeMac(mem, start, env.macHi, env.macLo);
      if (env.loop(mem, start, len)) return true;
      env.inc("loopback-queue-full");
      return false;
    }
    if (nextHop[0] === 0xff) {
      const lo = (nextHop[12]! << 24 | nextHop[13]! << 16 | nextHop[14]! << 8 | nextHop[15]!) >>> 0;
      writeMac(mem, start, 0x3333, lo);
      env.send(mem, start, len);
      return true;
    }
    const nb = this.#neighbors;
    for (let i = 0; i < nb.length; i++) {
      const n = nb[i]!;
      if (!same(n.addr, nextHop, 0)) continue;
      if (i > 0) { // most recently used first
        nb[i] = nb[0]!;
        nb[0] = n;
      }
      writeMac(mem, start, n.hi, n.lo);
      env.send(mem, start, len);
      return true;
    }
    let p = this.#pending.find((q) => same(q.addr, nextHop, 0));
    if (p === undefined) {
      if (this.#pending.length >= PENDING_ADDRS) {
        env.inc("ndp-queue-full");
        return false;
      }
      p = { addr: Uint8Array.from(nextHop), frames: [], sent: 0, at: -Infinity };
      this.#pending.push(p);
    }
    if (p.frames.length >= PENDING_FRAMES) {
      env.inc("ndp-queue-full");
      return false;
    }
    p.frames.push(mem.slice(start, start + len));
    if (p.sent === 0) this.#solicit(p, now);
    return true;
  }

  /** Learn `mem[off, off+16)` at MAC hi/lo (a unicast IPv6 frame it sent us). */
  learn(m: Uint8Array, off: number, hi: number, lo: number, now: number): void {
    if (m[off] === 0xff || (hi & 0x0100) !== 0) return;
    const nb = this.#neighbors;
    let n = nb.find((x) => same(x.addr, m, off));
    if (n === undefined) {
      n = { addr: m.slice(off, off + 16), hi, lo };
      if (nb.length >= NEIGHBORS) nb.pop();
      nb.unshift(n);
    }
    n.hi = hi;
    n.lo = lo >>> 0;
    const i = this.#pending.findIndex((q) => same(q.addr, m, off));
    if (i < 0) return;
    const [p] = this.#pending.splice(i, 1);
    for (const f of p!.frames) {
      writeMac(f, 0, n.hi, n.lo);
      this.#env.send(f, 0, f.length);
    }
    void now;
  }

  /** Solicitations again, and give up on addresses that never answered. */
  poll(now: number): void {
    for (const p of [...this.#pending]) {
      if (now - p.at < SOLICIT_MS) continue;
      if (p.sent >= SOLICITS) {
        this.#pending.splice(this.#pending.indexOf(p), 1);
        this.#env.inc("ndp-unresolved", p.frames.length);
        this.onUnreachable6?.(p.addr, now);
        continue;
      }
      this.#solicit(p, now);
    }
  }

  /** The next poll deadline, or Infinity. */
  pollAt(): number {
    let t = Infinity;
    for (const p of this.#pending) t = Math.min(t, p.at + SOLICIT_MS);
    return t;
  }

  /** RFC 4861 4.3: a solicitation for `p.addr` to its solicited-node group, with our SLLA. */
  #solicit(p: Pending, now: number): void {
    p.sent++;
    p.at = now;
    const env = this.#env;
    const e = this.#engine;
    const m = e.mem;
    const src = this.route6(p.addr)?.source;
    if (!src) return;
    m.set(p.addr, TX_PAYLOAD_OFF);
    m[TX_PAYLOAD_OFF + 16] = 1; // source link-layer address option
    m[TX_PAYLOAD_OFF + 17] = 1;
    writeMac(m, TX_PAYLOAD_OFF + 18, env.macHi, env.macLo);
    m.set(src, TX_IP6_SRC);
    m.fill(0, TX_IP6_DST, TX_IP6_DST + 16);
    m[TX_IP6_DST] = 0xff;
    m[TX_IP6_DST + 1] = 0x02;
    m[TX_IP6_DST + 11] = 1;
    m[TX_IP6_DST + 12] = 0xff;
    m[TX_IP6_DST + 13] = p.addr[13]!;
    m[TX_IP6_DST + 14] = p.addr[14]!;
    m[TX_IP6_DST + 15] = p.addr[15]!;
    const t = e.txDesc;
    t.fill(0);
    t[D_KIND] = K_ICMP6;
    t[D_VLAN] = -1;
    t[D_ETH_DST_HI] = 0x3333;
    t[D_ETH_DST_LO] = (0xff000000 | (p.addr[13]! << 16) | (p.addr[14]! << 8) | p.addr[15]!) | 0;
    t[D_ETH_SRC_HI] = env.macHi;
    t[D_ETH_SRC_LO] = env.macLo | 0;
    t[D_IP_TTL] = 255;
    t[D_ICMP_TYPE] = 135;
    t[D_ICMP_CODE] = 0;
    t[D_ICMP_REST] = 0;
    const start = e.encode(TX_PAYLOAD_OFF, 24);
    if (start < 0) return env.inc(`encode-error-${-start}`);
    env.inc("ndp-solicitations-out");
    env.send(m, start, TX_PAYLOAD_OFF + 24 - start);
  }
}
