/**
 * Neighbor Discovery for a host (RFC 4861) and address autoconfiguration (RFC 4862), sans-I/O:
 * the neighbor cache (neighbor6.ts), the default router and prefix lists (ndp_routers.ts), our
 * addresses with DAD and SLAAC (ndp_addresses.ts), the IPv6 path MTU (pmtu6.ts), and the
 * messages that drive them (ndp_wire.ts). It is the neighbor half of the interface's IPv6 data
 * path contract (ip6_types.ts): next hop and source selection, neighbor resolution with a
 * bounded queue, path MTU.
 *
 * Validation (RFC 4861 sections 6.1.2, 7.1.1, 7.1.2): every ND message must arrive with hop
 * limit 255 (`ndp-bad-hop-limit`), code 0, its minimum length, options of non-zero length
 * inside the message, and not in a fragment (RFC 6980 section 5); router advertisements only
 * from link-local sources (`ndp-ra-not-link-local`). Router solicitations are ignored (hosts,
 * section 6.2.6), redirects are not acted on (`ndp-redirect-ignored`).
 *
 * Router solicitations (section 6.3.7): after a random delay of up to 1 s from start and once
 * the link-local address passed DAD (from :: if it failed), up to 3, 4 s apart, until an
 * advertisement with a non-zero router lifetime arrives.
 *
 * SLAAC (RFC 4862 5.5.3) forms prefix + modified EUI-64 of our MAC for each advertised prefix
 * with the A flag, when the interface was created with `slaac: true`.
 *
 * @module
 */

import type { Engine } from "../kernels/engine.ts";
import {
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_ICMP_CODE,
  D_ICMP_REST,
  D_IP6_EXT,
  D_IP_TTL,
  D_L3_OFF,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  EXT6_FRAGMENT,
} from "../wire/layout.ts";
import { isGroupMac, writeMac } from "./ethernet.ts";
import type { Ip6Route, Ip6Services } from "./ip6_types.ts";
import type { IfaceLimits } from "./limits.ts";
import { ADDR_DUPLICATE, ADDR_TENTATIVE, AddressTable6 } from "./ndp_addresses.ts";
import { RouterTable6 } from "./ndp_routers.ts";
import { RouterDiscovery } from "./ndp_router.ts";
import {
  groupLo,
  linkLocalFromMac,
  NA_OVERRIDE,
  NA_ROUTER,
  NA_SOLICITED,
  ND_NEIGHBOR_ADVERT,
  ND_NEIGHBOR_SOLICIT,
  ND_ROUTER_ADVERT,
  ND_ROUTER_SOLICIT,
  NdOptions,
  NdSender,
  OPT_SLLA,
  OPT_TLLA,
} from "./ndp_wire.ts";
import { ND_INCOMPLETE, type Neighbor6, NeighborCache6 } from "./neighbor6.ts";
import { IPV6_MIN_MTU, PathMtuCache6 } from "./pmtu6.ts";

const ALL_NODES = Uint8Array.from([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

/** What Neighbor Discovery needs from the interface. */
export interface NdpEnv {
  /** Send `buf[off, off+len)` (a whole Ethernet frame) on the link. */
  send(buf: Uint8Array, off: number, len: number): void;
  /** Queue the frame at `engine.mem[start, +len)` on the loopback path; false when full. */
  loop(start: number, len: number): boolean;
  /** Count an event. */
  inc(name: string, n?: number): void;
}

/** Options of the ND host. */
export interface NdpOptions {
  /** The link's MTU (an RA MTU option may lower the IPv6 one, never raise it). */
  mtu: number;
  /** Form addresses from advertised prefixes (RFC 4862 SLAAC). */
  slaac: boolean;
  /** Random numbers in [0, 1) (RS delay, ReachableTime). */
  random: () => number;
}

/** The neighbor discovery host of one interface. */
export class Ndp implements Ip6Services {
  /** The neighbor cache. */
  readonly cache: NeighborCache6;
  /** Default routers and on-link prefixes. */
  readonly routers: RouterTable6;
  /** Our addresses (link-local first). */
  readonly addrs: AddressTable6;
  /** Path MTUs lowered by Packet Too Big. */
  readonly pmtu: PathMtuCache6;
  /** Cur Hop Limit from router advertisements (RFC 4861 6.3.4), 64 until one sets it. */
  curHopLimit = 64;
  /** See Ip6Services. */
  onUnreachable6: ((addr: Uint8Array, now: number) => void) | null = null;
  /** See Ip6Services (called by the ICMPv6 error input, icmp6.ts). */
  onError6: Ip6Services["onError6"] = null;
  /** The engine (for the ND modules). */
  readonly engine: Engine;
  /** The interface's services (for the ND modules). */
  readonly env: NdpEnv;
  /** The sender of ND messages. */
  readonly tx: NdSender;
  /** The option parser (reused). */
  readonly opts: NdOptions = new NdOptions();
  #rd: RouterDiscovery;
  #macHi: number;
  #macLo: number;
  #lastNow = 0;

  /** ND for our MAC on a link of MTU `opts.mtu`. */
  constructor(
    engine: Engine,
    mac: Uint8Array,
    env: NdpEnv,
    limits: IfaceLimits,
    opts: NdpOptions,
  ) {
    this.engine = engine;
    this.env = env;
    this.#macHi = (mac[0]! << 8) | mac[1]!;
    this.#macLo = ((mac[2]! << 24) | (mac[3]! << 16) | (mac[4]! << 8) | mac[5]!) >>> 0;
    this.tx = new NdSender(engine, mac, (s, l) => env.send(engine.mem, s, l));
    this.cache = new NeighborCache6(limits, this.#neighborActions(), opts.random);
    this.routers = new RouterTable6(limits);
    this.addrs = new AddressTable6(limits, {
      dadSolicit: (a) => {
        env.inc("ndp-dad-solicitations");
        this.tx.solicit(a.addr, null, null); // RFC 4862 5.4.2: from ::, no SLLA
      },
    });
    this.pmtu = new PathMtuCache6(Math.max(opts.mtu, IPV6_MIN_MTU), limits);
    const iid = linkLocalFromMac(mac);
    this.addrs.add(iid, 64, "link-local");
    this.#rd = new RouterDiscovery(this, {
      iid,
      slaac: opts.slaac,
      linkMtu: opts.mtu,
      random: opts.random,
      baseReachable: limits.ndReachableMs,
    });
  }

  /** Add a configured address and its on-link prefix; it is used once DAD passes. */
  addAddress(addr: Uint8Array, prefixLength: number): void {
    this.addrs.add(addr, prefixLength, "static", this.#lastNow);
    this.routers.addConfigured(addr, prefixLength);
  }

  /** Interface start: DAD of every address, then router solicitations. */
  start(now: number): void {
    this.#lastNow = now;
    this.addrs.start(now);
    this.#rd.start(now);
  }

  /** Timers: DAD, lifetimes, neighbor states, router solicitations. */
  poll(now: number): void {
    this.#lastNow = now;
    const gone = this.addrs.poll(now) + this.routers.poll(now);
    if (gone > 0) this.env.inc("ndp-lifetime-expired", gone);
    this.cache.poll(now);
    this.#rd.poll(now);
  }

  /** The earliest deadline of poll(), or Infinity. */
  pollAt(): number {
    return Math.min(
      this.addrs.pollAt(),
      this.routers.pollAt(),
      this.cache.pollAt(),
      this.#rd.pollAt(),
    );
  }

  // ---- Ip6Services ----

  /** See Ip6Services.route6 (RFC 4861 5.2 next-hop determination). */
  route6(dst: Uint8Array): Ip6Route | null {
    const now = this.#lastNow;
    if (this.addrs.isOurs(dst)) return { nextHop: dst, source: dst };
    const source = this.addrs.source(dst);
    if (source === null) return null;
    if (this.routers.onLink(dst, now)) return { nextHop: dst, source };
    const r = this.routers.defaultRouter(now, (a) => {
      const e = this.cache.get(a);
      return e !== undefined && e.state !== ND_INCOMPLETE;
    });
    return r === null ? null : { nextHop: r, source };
  }

  /** See Ip6Services.emit6 (RFC 4861 7.2.2). */
  emit6(nextHop: Uint8Array, start: number, len: number, now: number): boolean {
    this.#lastNow = now;
    const m = this.engine.mem;
    if (nextHop[0] === 0xff) {
      writeMac(m, start, 0x3333, groupLo(nextHop)); // RFC 2464 section 7
      this.env.send(m, start, len);
      return true;
    }
    if (this.addrs.isOurs(nextHop)) {
      writeMac(m, start, this.#macHi, this.#macLo);
      if (this.env.loop(start, len)) return true;
      this.env.inc("loopback-queue-full");
      return false;
    }
    const e = this.cache.get(nextHop);
    if (e !== undefined && e.state !== ND_INCOMPLETE) {
      this.cache.use(e, now);
      writeMac(m, start, e.macHi, e.macLo);
      this.env.send(m, start, len);
      return true;
    }
    const copy = m.slice(start, start + len);
    const n = this.cache.lookup(nextHop, now); // may send a solicitation (ndp_wire.ts)
    if (n === null) {
      this.env.inc("ndp-cache-full");
      return false;
    }
    // A full queue drops its oldest frame for this one (RFC 4861 7.2.2), counted.
    const dropped = this.cache.enqueue(n, copy);
    if (dropped > 0) this.env.inc("ndp-queue-full", dropped);
    return n.pending[n.pending.length - 1] === copy;
  }

  /** See Ip6Services.pathMtu6. */
  pathMtu6(dst: Uint8Array, now: number): number {
    return this.pmtu.get(dst, now);
  }

  /** See Ip6Services.isOurs. */
  isOurs(mem: Uint8Array, off: number): boolean {
    return this.addrs.isOurs(mem, off);
  }

  /** See Ip6Services.confirm6 (RFC 4861 7.3.1 upper-layer reachability confirmation). */
  confirm6(addr: Uint8Array, now: number): number {
    this.cache.confirm(addr, now);
    return this.cache.reachableMs;
  }

  /** See Ip6Services.hopLimit6. */
  hopLimit6(): number {
    return this.curHopLimit;
  }

  // ---- input ----

  /** An ND message (ICMPv6 type 133..137) decoded in rxDesc, to us or a group we joined. */
  input(type: number, now: number): void {
    this.#lastNow = now;
    const d = this.engine.rxDesc;
    const env = this.env;
    if (d[D_IP_TTL] !== 255) return env.inc("ndp-bad-hop-limit"); // RFC 4861 7.1: not routed
    if (d[D_ICMP_CODE] !== 0 || (d[D_IP6_EXT]! & EXT6_FRAGMENT) !== 0) {
      return env.inc("ndp-invalid");
    }
    if (type === ND_NEIGHBOR_SOLICIT) return this.#solicitation(now);
    if (type === ND_NEIGHBOR_ADVERT) return this.#advertisement(now);
    if (type === ND_ROUTER_ADVERT) return this.#rd.input(now);
    if (type === ND_ROUTER_SOLICIT) return env.inc("ndp-rs-ignored");
    env.inc("ndp-redirect-ignored");
  }

  /** RFC 4861 7.1.1 validation, 7.2.3 (cache), 7.2.4 (answer); RFC 4862 5.4.3 (DAD). */
  #solicitation(now: number): void {
    const d = this.engine.rxDesc;
    const m = this.engine.mem;
    const env = this.env;
    const l3 = d[D_L3_OFF]!;
    const p = d[D_PAYLOAD_OFF]!; // the target address
    const n = d[D_PAYLOAD_LEN]!;
    const o = this.opts;
    if (n < 16 || m[p] === 0xff || m[l3 + 8] === 0xff) return env.inc("ndp-invalid");
    if (!o.parse(m, p + 16, p + n, OPT_SLLA)) return env.inc("ndp-invalid");
    const fromUnspecified = unspecified(m, l3 + 8);
    // From :: (DAD): to a solicited-node group and without a source link-layer option.
    if (fromUnspecified && (o.lla || !solicitedNodeGroup(m, l3 + 24))) {
      return env.inc("ndp-invalid");
    }
    if (o.lla && isGroupMac(o.llaHi)) return env.inc("ndp-invalid");
    const a = this.addrs.find(m, p);
    if (a === undefined || a.state === ADDR_DUPLICATE) return env.inc("ndp-not-our-target");
    if (a.state === ADDR_TENTATIVE) {
      // RFC 4862 5.4.3: another node is doing DAD for our tentative address: a duplicate
      // (our own solicitation looped back by the link is not). From a unicast source the
      // solicitation is silently discarded.
      if (!fromUnspecified) return env.inc("ndp-to-tentative");
      if (d[D_ETH_SRC_HI] === this.#macHi && d[D_ETH_SRC_LO]! >>> 0 === this.#macLo) {
        return env.inc("ndp-dad-looped");
      }
      this.addrs.duplicate(a);
      return env.inc("ndp-dad-duplicate");
    }
    env.inc("ndp-solicitations");
    let hi = d[D_ETH_SRC_HI]!;
    let lo = d[D_ETH_SRC_LO]! >>> 0;
    if (!fromUnspecified && o.lla) {
      hi = o.llaHi;
      lo = o.llaLo;
      const r = this.cache.observe(m.subarray(l3 + 8, l3 + 24), hi, lo, true, now);
      env.inc(`ndp-ns-${r}`);
    }
    env.inc("ndp-advertisements");
    if (fromUnspecified) {
      // Section 7.2.4: to all-nodes, not solicited (a duplicate address is being detected).
      this.tx.advertise(a.addr, ALL_NODES, 0x3333, 1, NA_OVERRIDE);
    } else {
      const src = m.slice(l3 + 8, l3 + 24);
      this.tx.advertise(a.addr, src, hi, lo, NA_SOLICITED | NA_OVERRIDE);
    }
  }

  /** RFC 4861 7.1.2 validation and 7.2.5; RFC 4862 5.4.4 (DAD). */
  #advertisement(now: number): void {
    const d = this.engine.rxDesc;
    const m = this.engine.mem;
    const env = this.env;
    const l3 = d[D_L3_OFF]!;
    const p = d[D_PAYLOAD_OFF]!;
    const n = d[D_PAYLOAD_LEN]!;
    const flags = d[D_ICMP_REST]! >>> 0;
    const s = (flags & NA_SOLICITED) !== 0;
    const o = this.opts;
    if (n < 16 || m[p] === 0xff || (s && m[l3 + 24] === 0xff)) return env.inc("ndp-invalid");
    if (!o.parse(m, p + 16, p + n, OPT_TLLA)) return env.inc("ndp-invalid");
    if (o.lla && isGroupMac(o.llaHi)) return env.inc("ndp-invalid");
    const a = this.addrs.find(m, p);
    if (a !== undefined) {
      if (a.state === ADDR_TENTATIVE) {
        this.addrs.duplicate(a); // RFC 4862 5.4.4
        return env.inc("ndp-dad-duplicate");
      }
      // Another node claims an address we use: reported, nothing changes (5.4.4).
      return env.inc("ndp-advert-for-our-address");
    }
    const r = this.cache.advert(m.subarray(p, p + 16), o.lla, o.llaHi, o.llaLo, {
      s,
      o: (flags & NA_OVERRIDE) !== 0,
      r: (flags & NA_ROUTER) !== 0,
    }, now);
    env.inc(`ndp-na-${r}`);
  }

  #neighborActions() {
    return {
      solicit: (e: Neighbor6, _now: number) => {
        // Section 7.2.2: from the address we would send from (never a tentative one).
        const src = this.addrs.source(e.addr) ?? this.#anyUsable();
        if (src === null) return this.env.inc("ndp-no-source");
        this.env.inc("ndp-solicitations-out");
        this.tx.solicit(e.addr, src, e.state === ND_INCOMPLETE ? null : [e.macHi, e.macLo]);
      },
      resolved: (e: Neighbor6, _now: number) => {
        for (const f of e.pending.splice(0)) {
          writeMac(f, 0, e.macHi, e.macLo);
          this.env.send(f, 0, f.length);
        }
      },
      failed: (e: Neighbor6, now: number) => {
        this.env.inc("ndp-unresolved", e.pending.length);
        this.env.inc("ndp-failed");
        e.pending.length = 0;
        this.onUnreachable6?.(e.addr, now);
      },
      notRouter: (e: Neighbor6, _now: number) => {
        if (this.routers.removeRouter(e.addr)) this.env.inc("ndp-router-gone");
      },
    };
  }

  #anyUsable(): Uint8Array | null {
    for (const a of this.addrs.list) if (a.usable) return a.addr;
    return null;
  }
}

function unspecified(m: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (m[off + i] !== 0) return false;
  return true;
}

/** Whether `m[off, +16)` is a solicited-node group ff02::1:ffxx:xxxx. */
function solicitedNodeGroup(m: Uint8Array, off: number): boolean {
  if (m[off] !== 0xff || m[off + 1] !== 0x02) return false;
  for (let i = 2; i < 11; i++) if (m[off + i] !== 0) return false;
  return m[off + 11] === 1 && m[off + 12] === 0xff;
}
