/**
 * Numeric address handles. The TCP layer and the socket tables key everything by numbers: an
 * IPv4 address is its u32 value; an IPv6 address is a handle at or above 2^32 that the
 * interface's address table (src/iface/addr6_table.ts) hands out, 2^32 + a slot index below
 * 2^20, so that `address * 65536 + port` stays an exact double (below 2^53). Pure functions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IPV6_HANDLE_BASE, ipNum, isIpv6Handle, tcpIpOverhead } from "./ip_handle.ts";
 * assert(isIpv6Handle(IPV6_HANDLE_BASE + 3) && !isIpv6Handle(0xffffffff));
 * assert.equal(ipNum(-1), 0xffffffff); // an int32 bit pattern of an IPv4 address
 * assert.equal(ipNum(IPV6_HANDLE_BASE + 3), IPV6_HANDLE_BASE + 3);
 * assert.equal(tcpIpOverhead(IPV6_HANDLE_BASE), 60);
 * ```
 *
 * @module
 */

/** The first IPv6 handle: 2^32. */
export const IPV6_HANDLE_BASE = 4294967296;
/** Slot indices of IPv6 handles stay below this (2^20), keys below 2^53. */
export const IPV6_HANDLE_SLOTS = 1048576;

/** Whether the numeric address `ip` is an IPv6 handle (not an IPv4 u32). */
export function isIpv6Handle(ip: number): boolean {
  return ip >= IPV6_HANDLE_BASE;
}

/**
 * The canonical number of an address: an IPv4 address as u32 (an int32 bit pattern is turned
 * back into it), an IPv6 handle unchanged.
 */
export function ipNum(ip: number): number {
  return ip >= IPV6_HANDLE_BASE ? ip : ip >>> 0;
}

/**
 * Bytes of IP and TCP header in front of a segment's data toward `ip` without options:
 * 20 + 20 for IPv4 (RFC 9293 3.7.1), 40 + 20 for IPv6 (RFC 8200 section 3; RFC 8201 section 4
 * MSS = path MTU - 60).
 */
export function tcpIpOverhead(ip: number): number {
  return ip >= IPV6_HANDLE_BASE ? 60 : 40;
}
