/**
 * Routing for one interface: the on-link subnet from our address and prefix, one default
 * gateway, and nothing else (RFC 1122 3.3.1: a host sends on-link destinations directly and
 * everything else to a gateway).
 *
 * @module
 */

/** The result of a route lookup: where the frame goes next and which source address to use. */
export interface Route {
  /** The IPv4 address whose MAC the frame is sent to (the destination or the gateway). */
  nextHop: number;
  /** Our address, the source of datagrams on this route. */
  source: number;
}

/** The netmask of a prefix length, as a u32. */
export function prefixMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** Parse a dotted quad ("10.0.0.1") into a u32; throws a TypeError on bad input. */
export function parseIpv4(text: string): number {
  const parts = text.split(".");
  if (parts.length !== 4) throw new TypeError(`Invalid IPv4 address "${text}"`);
  let v = 0;
  for (const p of parts) {
    const n = Number(p);
    if (!/^\d{1,3}$/.test(p) || n > 255) throw new TypeError(`Invalid IPv4 address "${text}"`);
    v = v * 256 + n;
  }
  return v;
}

/** Format a u32 as a dotted quad. */
export function formatIpv4(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** 127.0.0.1, the source of datagrams to 127.0.0.0/8 (RFC 1122 3.2.1.3 (g)). */
export const LOOPBACK_ADDRESS = 0x7f000001;

/** True for 224.0.0.0/4 (RFC 1112). */
export function isMulticastIp(ip: number): boolean {
  return ip >>> 28 === 0xe;
}

/**
 * The routing table of one interface.
 *
 * @example
 * ```ts
 * import { Router, parseIpv4 } from "./routing.ts";
 * const r = new Router(parseIpv4("10.0.0.2"), 24, parseIpv4("10.0.0.1"));
 * if (r.route(parseIpv4("8.8.8.8"))?.nextHop !== parseIpv4("10.0.0.1")) throw new Error();
 * if (r.route(parseIpv4("10.0.0.9"))?.nextHop !== parseIpv4("10.0.0.9")) throw new Error();
 * ```
 */
export class Router {
  /** Our address. */
  readonly address: number;
  /** The on-link prefix length. */
  readonly prefixLength: number;
  /** The netmask of the prefix. */
  readonly mask: number;
  /** The subnet's directed broadcast address (none for /31 and /32, RFC 3021). */
  readonly subnetBroadcast: number;
  /** The default gateway, or -1. */
  readonly gateway: number;

  /** Throws a RangeError for a prefix outside 0..32 or a gateway that is not on-link. */
  constructor(address: number, prefixLength: number, gateway?: number) {
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
      throw new RangeError(`Prefix length must be 0..32, got ${prefixLength}`);
    }
    this.address = address >>> 0;
    this.prefixLength = prefixLength;
    this.mask = prefixMask(prefixLength);
    this.subnetBroadcast = prefixLength >= 31 ? -1 : ((this.address | ~this.mask) >>> 0);
    if (gateway !== undefined && !this.onLink(gateway >>> 0)) {
      throw new RangeError(`Gateway ${formatIpv4(gateway)} is not on the interface's subnet`);
    }
    this.gateway = gateway === undefined ? -1 : gateway >>> 0;
  }

  /** True when `ip` is on the attached subnet. */
  onLink(ip: number): boolean {
    return ((ip ^ this.address) & this.mask) === 0;
  }

  /** True when `ip` is the limited or our subnet's directed broadcast address. */
  isBroadcast(ip: number): boolean {
    const u = ip >>> 0;
    return u === 0xffffffff || u === this.subnetBroadcast;
  }

  /**
   * True for destinations that never leave the host: our own address and 127.0.0.0/8
   * (RFC 1122 3.2.1.3 (g): loopback, never sent on a link). They go through the loopback path.
   */
  isLocal(ip: number): boolean {
    const u = ip >>> 0;
    return u === this.address || u >>> 24 === 127;
  }

  /** The source address for datagrams to `dst`: 127.0.0.1 toward 127/8, else our address. */
  sourceFor(dst: number): number {
    return (dst >>> 24) === 127 ? LOOPBACK_ADDRESS : this.address;
  }

  /**
   * The next hop for `dst`, or null when unroutable: 0.0.0.0 and off-link destinations
   * without a gateway. Local destinations (`isLocal`) are their own next hop (loopback).
   */
  route(dst: number): Route | null {
    const ip = dst >>> 0;
    if (ip === 0) return null;
    if (this.isLocal(ip)) return { nextHop: ip, source: this.sourceFor(ip) };
    if (this.onLink(ip) || this.isBroadcast(ip) || isMulticastIp(ip)) {
      return { nextHop: ip, source: this.address };
    }
    if (this.gateway < 0) return null;
    return { nextHop: this.gateway, source: this.address };
  }

  /** The next hop for `dst` without allocating, or -1 when unroutable (see route). */
  nextHop(dst: number): number {
    const ip = dst >>> 0;
    if (ip === 0) return -1;
    if (this.isLocal(ip)) return ip;
    if (this.onLink(ip) || this.isBroadcast(ip) || isMulticastIp(ip)) return ip;
    return this.gateway;
  }
}
