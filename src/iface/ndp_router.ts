/**
 * Router discovery for a host (RFC 4861 section 6.3), sans-I/O: router solicitations after
 * start (6.3.7: a random delay of up to MAX_RTR_SOLICITATION_DELAY, not before the link-local
 * address passed DAD, from :: when it failed; up to MAX_RTR_SOLICITATIONS,
 * RTR_SOLICITATION_INTERVAL apart, until an advertisement with a non-zero router lifetime), and
 * router advertisements (6.1.2 validation, 6.3.4 processing): Cur Hop Limit, Router Lifetime
 * (0 removes the router), Reachable Time, Retrans Timer, the source link-layer address, the MTU
 * option bounded to [1280, link MTU], Prefix Information options (on-link prefixes; SLAAC per
 * RFC 4862 5.5.3 when enabled).
 *
 * @module
 */

import { D_ICMP_REST, D_L3_OFF, D_PAYLOAD_LEN, D_PAYLOAD_OFF } from "../wire/layout.ts";
import { isGroupMac } from "./ethernet.ts";
import { ADDR_TENTATIVE, isLinkLocal } from "./ndp_addresses.ts";
import { OPT_SLLA } from "./ndp_wire.ts";
import type { Ndp } from "./ndp.ts";
import { IPV6_MIN_MTU } from "./pmtu6.ts";

/** RFC 4861 section 10 host constants. */
const MAX_RTR_SOLICITATION_DELAY_MS = 1000;
const RTR_SOLICITATION_INTERVAL_MS = 4000;
const MAX_RTR_SOLICITATIONS = 3;
const MAX_REACHABLE_TIME_MS = 3600000;
/** Bounds we put on an advertised RetransTimer (our choice, documented in docs/limits.md). */
const RETRANS_MIN_MS = 100;
const RETRANS_MAX_MS = 60000;

/** Router solicitations and advertisements of one host. */
export class RouterDiscovery {
  #nd: Ndp;
  #iid: Uint8Array;
  #slaac: boolean;
  #linkMtu: number;
  #random: () => number;
  #baseReachable: number;
  #rsSent = 0;
  #rsAt = Infinity;

  /** Router discovery for `nd`; SLAAC forms addresses with interface identifier `iid`. */
  constructor(
    nd: Ndp,
    opts: {
      iid: Uint8Array;
      slaac: boolean;
      linkMtu: number;
      random: () => number;
      baseReachable: number;
    },
  ) {
    this.#nd = nd;
    this.#iid = opts.iid;
    this.#slaac = opts.slaac;
    this.#linkMtu = opts.linkMtu;
    this.#random = opts.random;
    this.#baseReachable = opts.baseReachable;
  }

  /** Interface start: the first solicitation after a random delay. */
  start(now: number): void {
    this.#rsAt = now + Math.floor(this.#random() * MAX_RTR_SOLICITATION_DELAY_MS);
  }

  /** Send a solicitation when one is due. */
  poll(now: number): void {
    if (now >= this.#rsAt) this.#solicit(now);
  }

  /**
   * When the next solicitation is due, or Infinity: not before the link-local address leaves
   * DAD (no wake-up in between for a solicitation that would have to wait anyway).
   */
  pollAt(): number {
    const ll = this.#nd.addrs.list[0];
    if (ll !== undefined && ll.origin === "link-local" && ll.state === ADDR_TENTATIVE) {
      return Math.max(this.#rsAt, ll.dadAt);
    }
    return this.#rsAt;
  }

  /** RFC 4861 6.1.2 validation and 6.3.4 processing; RFC 4862 5.5.3 (SLAAC). */
  input(now: number): void {
    const d = this.#nd.engine.rxDesc;
    const m = this.#nd.engine.mem;
    const env = this.#nd.env;
    const l3 = d[D_L3_OFF]!;
    const p = d[D_PAYLOAD_OFF]!; // Reachable Time, Retrans Timer, options
    const n = d[D_PAYLOAD_LEN]!;
    const o = this.#nd.opts;
    if (!isLinkLocal(m, l3 + 8)) return env.inc("ndp-ra-not-link-local");
    if (n < 8 || !o.parse(m, p + 8, p + n, OPT_SLLA)) return env.inc("ndp-invalid");
    if (o.lla && isGroupMac(o.llaHi)) return env.inc("ndp-invalid");
    env.inc("ndp-router-advertisements");
    const rest = d[D_ICMP_REST]! >>> 0;
    const hops = rest >>> 24;
    const lifetimeS = rest & 0xffff;
    if (hops !== 0) this.#nd.curHopLimit = hops;
    const reachable = u32(m, p);
    if (
      reachable !== 0 && reachable <= MAX_REACHABLE_TIME_MS && reachable !== this.#baseReachable
    ) {
      this.#baseReachable = reachable; // section 6.3.4: a new ReachableTime is drawn
      this.#nd.cache.reachableMs = Math.round(reachable * (0.5 + this.#random()));
    }
    const retrans = u32(m, p + 4);
    if (retrans !== 0) {
      const v = Math.min(RETRANS_MAX_MS, Math.max(RETRANS_MIN_MS, retrans));
      this.#nd.cache.retransMs = this.#nd.addrs.retransMs = v;
    }
    const src = m.slice(l3 + 8, l3 + 24);
    env.inc(`ndp-router-${this.#nd.routers.router(src, lifetimeS, now)}`);
    if (o.lla) {
      env.inc(`ndp-ra-lla-${this.#nd.cache.observe(src, o.llaHi, o.llaLo, true, now)}`);
    }
    const e = this.#nd.cache.get(src);
    if (e !== undefined) e.isRouter = true; // section 6.3.4: the sender is a router
    // MTU option: bounded to [1280, link MTU] (RFC 4861 6.3.4, RFC 8200 section 5).
    if (o.mtu >= 0) {
      if (o.mtu >= IPV6_MIN_MTU && o.mtu <= this.#linkMtu) {
        this.#nd.pmtu.linkMtu = o.mtu;
        env.inc("ndp-ra-mtu");
      } else env.inc("ndp-ra-mtu-ignored");
    }
    for (const off of o.prefixes) this.#prefixInfo(m, off, now);
    if (lifetimeS > 0) this.#rsAt = Infinity; // section 6.3.7: solicitations are answered
  }

  /** One Prefix Information option (RFC 4861 4.6.2) at `m[off, +32)`. */
  #prefixInfo(m: Uint8Array, off: number, now: number): void {
    const len = m[off + 2]!;
    const flags = m[off + 3]!;
    const valid = u32(m, off + 4);
    const preferred = u32(m, off + 8);
    const prefix = m.slice(off + 16, off + 32);
    if ((flags & 0x80) !== 0) {
      this.#nd.env.inc(`ndp-prefix-${this.#nd.routers.prefix(prefix, len, valid, now)}`);
    }
    if ((flags & 0x40) !== 0 && this.#slaac) {
      const r = this.#nd.addrs.slaac(prefix, len, valid, preferred, this.#iid, now);
      this.#nd.env.inc(`ndp-slaac-${r}`);
    }
  }

  #solicit(now: number): void {
    const ll = this.#nd.addrs.list[0];
    if (ll !== undefined && ll.origin === "link-local" && ll.state === ADDR_TENTATIVE) {
      this.#rsAt = Math.max(now, ll.dadAt); // after DAD of the link-local address
      return;
    }
    const src = ll !== undefined && ll.origin === "link-local" && ll.usable ? ll.addr : null;
    this.#nd.env.inc("ndp-router-solicitations");
    this.#nd.tx.routerSolicit(src);
    this.#rsSent++;
    this.#rsAt = this.#rsSent >= MAX_RTR_SOLICITATIONS
      ? Infinity
      : now + RTR_SOLICITATION_INTERVAL_MS;
  }
}

function u32(m: Uint8Array, off: number): number {
  return ((m[off]! << 24) | (m[off + 1]! << 16) | (m[off + 2]! << 8) | m[off + 3]!) >>> 0;
}
