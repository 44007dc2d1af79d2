/**
 * Gateway options, their defaults and limits, and the allow list (CIDR matching). The
 * addresses follow slirp4netns: in the default 10.0.2.0/24, the gateway is .2, the DNS
 * forwarder .3, the guest .100 (DHCP leases from .15).
 *
 * @module
 */

import { formatIpv4, parseCidr, parseIpv4 } from "../api/addr.ts";
import { formatIpv6, parseIpv6 } from "../wire/ipv6_address.ts";

/** Limits of a gateway (all bounded; see docs/limits.md). */
export interface GatewayLimits {
  /** Relayed TCP connections at once (established and closing). Default 1024. */
  maxTcpFlows: number;
  /** SYNs waiting for their upstream connect at once (half-open relays). Default 256. */
  maxPendingConnects: number;
  /** How long an upstream connect may take before the guest gets RST (ms). Default 10000. */
  connectTimeoutMs: number;
  /**
   * Bytes read per direction of a relayed TCP connection at a time (one buffer each way).
   * Default 262144: with 64 KiB the relay moved host-to-guest bulk data at about half the
   * rate (bench/gateway.ts). A direction's buffer starts at 16 KiB (or this bound, if
   * smaller) and grows 4x per read that fills it, up to this bound.
   */
  relayBufferBytes: number;
  /** UDP flows (guest address and port to a destination) at once. Default 1024. */
  maxUdpFlows: number;
  /** A UDP flow with no traffic for this long is closed (ms). Default 60000 (DNS: 10000). */
  udpIdleMs: number;
  /** Port forwards' accepted connections at once. Default 1024. */
  maxForwardConns: number;
}

/** Default limits. */
export const GATEWAY_LIMITS: Readonly<GatewayLimits> = Object.freeze({
  maxTcpFlows: 1024,
  maxPendingConnects: 256,
  connectTimeoutMs: 10000,
  relayBufferBytes: 262144,
  maxUdpFlows: 1024,
  udpIdleMs: 60000,
  maxForwardConns: 1024,
});

/** One IPv4 prefix of the allow list. */
export interface Cidr {
  /** Network address (u32). */
  readonly network: number;
  /** Prefix length 0..32. */
  readonly prefixLength: number;
}

/** Parse "a.b.c.d/n" (or a bare address as /32) as a prefix; TypeError when malformed. */
export function parsePrefix(text: string): Cidr {
  if (!text.includes("/")) return { network: parseIpv4(text), prefixLength: 32 };
  const { address, prefixLength } = parseCidr(text);
  return { network: (address & maskOf(prefixLength)) >>> 0, prefixLength };
}

/** The netmask of a prefix length. */
export function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** True when `ip` lies in one of `list`. */
export function inPrefixes(list: readonly Cidr[], ip: number): boolean {
  for (const c of list) {
    if (((ip & maskOf(c.prefixLength)) >>> 0) === c.network) return true;
  }
  return false;
}

/** Format a prefix. */
export function formatPrefix(c: Cidr): string {
  return `${formatIpv4(c.network)}/${c.prefixLength}`;
}

/** One IPv6 prefix of the allow list. */
export interface Cidr6 {
  /** Network address (16 bytes, host bits zero). */
  readonly network: Uint8Array;
  /** Prefix length 0..128. */
  readonly prefixLength: number;
}

/** Parse "x::y/n" (or a bare IPv6 address as /128); TypeError/RangeError when malformed. */
export function parsePrefix6(text: string): Cidr6 {
  const slash = text.indexOf("/");
  const addr = parseIpv6(slash < 0 ? text : text.slice(0, slash));
  if (addr === null) throw new TypeError(`Invalid IPv6 prefix "${text}"`);
  const lenText = slash < 0 ? "128" : text.slice(slash + 1);
  const n = Number(lenText);
  if (!/^[0-9]{1,3}$/.test(lenText) || n > 128) {
    throw new RangeError(`Invalid IPv6 prefix length in "${text}" (0..128)`);
  }
  const network = addr.slice();
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, n - 8 * i));
    network[i]! &= (0xff00 >> keep) & 0xff;
  }
  return { network, prefixLength: n };
}

/** True when the IPv6 address `ip` (16 bytes) lies in one of `list`. */
export function inPrefixes6(list: readonly Cidr6[], ip: Uint8Array): boolean {
  for (const c of list) {
    let ok = true;
    for (let i = 0; i < 16 && ok; i++) {
      const keep = Math.max(0, Math.min(8, c.prefixLength - 8 * i));
      ok = (ip[i]! & ((0xff00 >> keep) & 0xff)) === c.network[i];
    }
    if (ok) return true;
  }
  return false;
}

/** Format an IPv6 prefix. */
export function formatPrefix6(c: Cidr6): string {
  return `${formatIpv6(c.network)}/${c.prefixLength}`;
}

/** The addresses of the virtual network. */
export interface GatewayAddresses {
  /** The network (u32) and prefix length. */
  readonly network: number;
  readonly prefixLength: number;
  /** The gateway (.2): our stack's address; maps to the host's 127.0.0.1. */
  readonly gateway: number;
  /** The DNS forwarder (.3). */
  readonly dns: number;
  /** The guest's address with `--configure` (.100). */
  readonly guest: number;
  /** First address DHCP leases (.15). */
  readonly dhcpFirst: number;
}

/** The addresses of `cidr` (default "10.0.2.0/24"), as slirp4netns: .2, .3, .100, .15. */
export function addressesOf(cidr = "10.0.2.0/24"): GatewayAddresses {
  const { network, prefixLength } = parsePrefix(cidr);
  if (prefixLength > 25) {
    throw new RangeError(`CIDR ${cidr} is too small: the gateway needs at least a /25`);
  }
  return {
    network,
    prefixLength,
    gateway: network + 2,
    dns: network + 3,
    guest: network + 100,
    dhcpFirst: network + 15,
  };
}

/** A parsed "ADDR[:PORT]" (DNS servers; port 53 by default). */
export interface HostPort {
  /** Address: a u32 (IPv4) or 16 bytes (IPv6). */
  readonly ip: number | Uint8Array;
  /** Port. */
  readonly port: number;
}

/**
 * Parse "ADDR", "ADDR:PORT" (IPv4), "IPV6" or "[IPV6]:PORT" (RFC 3986 3.2.2 brackets);
 * TypeError/RangeError when malformed.
 */
export function parseHostPort(text: string, defaultPort: number): HostPort {
  let host = text, portText: string | undefined;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    const rest = close < 0 ? "" : text.slice(close + 1);
    if (close < 0 || (rest !== "" && !rest.startsWith(":"))) {
      throw new TypeError(`Cannot parse "${text}": expected [IPV6] or [IPV6]:PORT`);
    }
    host = text.slice(1, close);
    if (rest !== "") portText = rest.slice(1);
  } else if (text.indexOf(":") === text.lastIndexOf(":") && text.includes(":")) {
    const colon = text.indexOf(":");
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!/^[0-9]+$/.test(portText ?? "53") || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`Invalid port in "${text}"`);
  }
  if (host.includes(":")) {
    const ip = parseIpv6(host);
    if (ip === null) throw new TypeError(`Invalid IPv6 address in "${text}"`);
    return { ip, port };
  }
  return { ip: parseIpv4(host), port };
}

/** The hostname of a parsed address ("127.0.0.1", "::1"). */
export function formatHost(ip: number | Uint8Array): string {
  return typeof ip === "number" ? formatIpv4(ip) : formatIpv6(ip);
}

/** Resolve partial limits against the defaults, checking each is a positive integer. */
export function resolveGatewayLimits(partial?: Partial<GatewayLimits>): GatewayLimits {
  const out = { ...GATEWAY_LIMITS, ...partial };
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new RangeError(`Gateway limit ${k} must be a positive integer, got ${v}`);
    }
  }
  return out;
}
