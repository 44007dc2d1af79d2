/**
 * IPv4 address helpers for the socket API: dotted-quad parsing and formatting, CIDR parsing,
 * MAC parsing, and `Deno.NetAddr` construction. Hostnames are dotted-quad IPv4 only: this
 * stack has no resolver, so a name such as "localhost" is a caller error.
 *
 * @module
 */

import { isIpv6Handle } from "../wire/ip_handle.ts";
import { formatIpv6, parseIpv6 } from "../wire/ipv6_address.ts";

/** Formats the numeric IPv6 handles of one stack (its interface's address table). */
export type AddrFormatter = (ip: number) => string;

/**
 * An address literal: a dotted quad as a u32, IPv6 text (RFC 4291 2.2, brackets allowed as in
 * URLs: "[fd00::1]") as 16 bytes, or null when `text` is neither (a name to resolve). Text
 * with a colon that is no IPv6 address is a TypeError.
 *
 * @example
 * ```ts
 * import { parseIpLiteral } from "./addr.ts";
 * if (parseIpLiteral("10.7.0.1") !== 0x0a070001) throw new Error();
 * if ((parseIpLiteral("[fd00::1]") as Uint8Array)[15] !== 1) throw new Error();
 * if (parseIpLiteral("example.com") !== null) throw new Error();
 * ```
 */
export function parseIpLiteral(text: string): number | Uint8Array | null {
  const quad = dottedQuad(text);
  if (quad >= 0) return quad;
  if (/^[0-9.]+$/.test(text) && text.split(".").length === 4) return parseIpv4(text);
  if (!text.includes(":")) return null;
  const inner = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const a = parseIpv6(inner);
  if (a === null) {
    throw new TypeError(`Cannot parse "${text}" as an IPv6 address`);
  }
  return a;
}

/**
 * A well-formed dotted quad ("10.7.0.1": four decimal octets of one to three digits, each at
 * most 255) as a u32, or -1 for anything else, without allocating (every `connect` parses its
 * hostname).
 */
function dottedQuad(text: string): number {
  const n = text.length;
  if (n < 7 || n > 15) return -1;
  let value = 0, octet = 0, digits = 0, dots = 0;
  for (let i = 0; i < n; i++) {
    const ch = text.charCodeAt(i);
    if (ch >= 48 && ch <= 57) {
      octet = octet * 10 + ch - 48;
      if (++digits > 3 || octet > 255) return -1;
    } else if (ch === 46 && digits > 0 && dots < 3) {
      value = value * 256 + octet;
      octet = digits = 0;
      dots++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return (value * 256 + octet) >>> 0;
}

/** The text of a numeric address: dotted quad, or an IPv6 handle through `fmt` (RFC 5952). */
function formatIp(ip: number, fmt?: AddrFormatter): string {
  if (!isIpv6Handle(ip)) return formatIpv4(ip);
  if (fmt === undefined) throw new TypeError("An IPv6 address handle needs its stack to format");
  return fmt(ip);
}

/** IPv6 text (RFC 5952) of 16 bytes, for the socket API. */
export function formatIp6(addr: Uint8Array): string {
  return formatIpv6(addr);
}

/**
 * Parse a dotted-quad IPv4 address into an unsigned 32-bit number.
 *
 * @example Parse an address
 * ```ts
 * import { parseIpv4 } from "./addr.ts";
 * if (parseIpv4("10.7.0.2") !== 0x0a070002) throw new Error("parse failed");
 * ```
 */
export function parseIpv4(text: string): number {
  const parts = text.split(".");
  if (parts.length !== 4) {
    throw new TypeError(`Cannot parse "${text}" as an IPv4 address: expected a dotted quad`);
  }
  let value = 0;
  for (const part of parts) {
    if (!/^[0-9]{1,3}$/.test(part) || Number(part) > 255) {
      throw new TypeError(`Cannot parse "${text}" as an IPv4 address: bad octet "${part}"`);
    }
    value = value * 256 + Number(part);
  }
  return value >>> 0;
}

/**
 * Format an unsigned 32-bit IPv4 address as a dotted quad.
 *
 * @example Format an address
 * ```ts
 * import { formatIpv4 } from "./addr.ts";
 * if (formatIpv4(0x0a070001) !== "10.7.0.1") throw new Error("format failed");
 * ```
 */
export function formatIpv4(ip: number): string {
  return `${(ip >>> 24) & 255}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/**
 * Parse a CIDR such as "10.7.0.2/24" into the address and the prefix length.
 *
 * @example Parse a CIDR
 * ```ts
 * import { parseCidr } from "./addr.ts";
 * const { address, prefixLength } = parseCidr("10.7.0.2/24");
 * if (address !== 0x0a070002 || prefixLength !== 24) throw new Error("parse failed");
 * ```
 */
export function parseCidr(text: string): { address: number; prefixLength: number } {
  const slash = text.indexOf("/");
  if (slash < 0) {
    throw new TypeError(`Cannot parse "${text}" as a CIDR: expected an address and "/prefix"`);
  }
  const prefix = text.slice(slash + 1);
  if (!/^[0-9]{1,2}$/.test(prefix) || Number(prefix) > 32) {
    throw new TypeError(`Cannot parse "${text}" as a CIDR: bad prefix length "${prefix}"`);
  }
  return { address: parseIpv4(text.slice(0, slash)), prefixLength: Number(prefix) };
}

/**
 * Parse an IPv6 CIDR ("fd00::2/64", RFC 4291 section 2.3) into 16 bytes and a prefix length.
 * Throws a TypeError when it is not one.
 *
 * @example Parse an IPv6 CIDR
 * ```ts
 * import { parseCidr6 } from "./addr.ts";
 * const { address, prefixLength } = parseCidr6("fd00::2/64");
 * if (address[15] !== 2 || prefixLength !== 64) throw new Error("parse failed");
 * ```
 */
export function parseCidr6(text: string): { address: Uint8Array; prefixLength: number } {
  const slash = text.indexOf("/");
  if (slash < 0) {
    throw new TypeError(`Cannot parse "${text}" as a CIDR: expected an address and "/prefix"`);
  }
  const prefix = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefix) || Number(prefix) > 128) {
    throw new TypeError(`Cannot parse "${text}" as a CIDR: bad prefix length "${prefix}"`);
  }
  const address = parseIpv6(text.slice(0, slash));
  if (address === null) {
    throw new TypeError(`Cannot parse "${text}" as a CIDR: not an IPv6 address`);
  }
  if (address[0] === 0xff) throw new TypeError(`Cannot use "${text}": a multicast address`);
  if (address.every((b, i) => b === (i === 15 ? 1 : 0)) || address.every((b) => b === 0)) {
    throw new TypeError(`Cannot use "${text}": the loopback or unspecified address`);
  }
  return { address, prefixLength: Number(prefix) };
}

/**
 * Parse a MAC address written as six hex octets ("02:00:00:00:00:01" or with dashes).
 *
 * @example Parse a MAC
 * ```ts
 * import { parseMac } from "./addr.ts";
 * if (parseMac("02:00:00:00:00:01")[5] !== 1) throw new Error("parse failed");
 * ```
 */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new TypeError(`Cannot parse "${text}" as a MAC address: expected six hex octets`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/**
 * Format a 6-byte MAC address as colon-separated lowercase hex.
 *
 * @example Format a MAC
 * ```ts
 * import { formatMac } from "./addr.ts";
 * if (formatMac(new Uint8Array([2, 0, 0, 0, 0, 1])) !== "02:00:00:00:00:01") throw new Error();
 * ```
 */
export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/**
 * Build a `Deno.NetAddr` from a numeric address and a port.
 *
 * @example Build an address
 * ```ts
 * import { netAddr } from "./addr.ts";
 * const a = netAddr("tcp", 0x0a070001, 80);
 * if (a.hostname !== "10.7.0.1" || a.port !== 80) throw new Error("bad address");
 * ```
 */
export function netAddr(
  transport: "tcp" | "udp",
  ip: number,
  port: number,
  fmt?: AddrFormatter,
): Deno.NetAddr {
  // As Deno: IPv6 hostnames without brackets ({ hostname: "fd00::2" }).
  return { transport, hostname: formatIp(ip, fmt), port };
}

/**
 * Check a port number given by a caller (0 allowed when `allowZero`).
 *
 * @example Check a port
 * ```ts
 * import { checkPort } from "./addr.ts";
 * checkPort(8080, false);
 * ```
 */
export function checkPort(port: number, allowZero: boolean): number {
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new RangeError(
      `Invalid port ${port}: expected an integer from ${allowZero ? 0 : 1} to 65535`,
    );
  }
  return port;
}

/**
 * "10.7.0.1:8080", for messages.
 *
 * @example Format an endpoint
 * ```ts
 * import { endpoint } from "./addr.ts";
 * if (endpoint(0x0a070001, 8080) !== "10.7.0.1:8080") throw new Error("bad endpoint");
 * ```
 */
export function endpoint(ip: number, port: number, fmt?: AddrFormatter): string {
  return isIpv6Handle(ip) ? `[${formatIp(ip, fmt)}]:${port}` : `${formatIpv4(ip)}:${port}`;
}
