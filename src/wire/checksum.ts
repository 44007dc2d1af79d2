/**
 * Internet checksum helpers shared by both engines and the layers above them: the IPv4
 * pseudo-header partial sum for TCP and UDP (RFC 9293 section 3.1, RFC 768), folding, and the
 * incremental update of RFC 1624. The bulk sum over packet memory is a hot path and lives in
 * the engines (`Engine.checksum`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checksumUpdate16, pseudoHeaderSum } from "./checksum.ts";
 *
 * // Partial sum for a 20-byte TCP segment from 10.0.0.1 to 10.0.0.2.
 * const initial = pseudoHeaderSum(0x0a000001, 0x0a000002, 6, 20);
 * assert(initial === 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + 20);
 * // A TTL decrement in an IPv4 header (RFC 1624 section 4).
 * assert(checksumUpdate16(0xdd2f, 0x5555, 0x3285) === 0x0000);
 * ```
 *
 * @module
 */

/** IPv4 protocol number of TCP (RFC 9293). */
export const PROTO_TCP = 6;
/** IPv4 protocol number of UDP (RFC 768). */
export const PROTO_UDP = 17;
/** IPv4 protocol number of ICMP (RFC 792). */
export const PROTO_ICMP = 1;

/**
 * The unfolded ones'-complement partial sum of the IPv4 pseudo-header (RFC 9293 section 3.1:
 * source address, destination address, zero, protocol, TCP/UDP length). Pass it as `initial`
 * to `Engine.checksum`. Addresses are u32 values (or their int32 bit pattern).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pseudoHeaderSum } from "./checksum.ts";
 * assert(pseudoHeaderSum(0xc0a80001, 0xc0a80002, 17, 8) === 0x1816c);
 * ```
 */
export function pseudoHeaderSum(src: number, dst: number, proto: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + (proto & 0xff) +
    (length & 0xffff);
}

/**
 * Fold a non-negative partial sum (any size below 2^53) to 16 bits with end-around carry
 * (RFC 1071 section 4.1), without complementing it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { foldSum } from "./checksum.ts";
 * assert(foldSum(0x2ddf0) === 0xddf2); // RFC 1071 section 3 example
 * ```
 */
export function foldSum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/**
 * The checksum after one 16-bit word of the covered data changes from `oldWord` to `newWord`
 * (RFC 1624 section 3, eqn. 3: HC' = ~(~HC + ~m + m')). Valid for IPv4, TCP, UDP and ICMP
 * checksums; never yields a wrong -0 (0xffff where 0x0000 is meant), the flaw of RFC 1141.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checksumUpdate16 } from "./checksum.ts";
 * assert(checksumUpdate16(0xdd2f, 0x5555, 0x3285) === 0x0000); // RFC 1624 section 4
 * ```
 */
export function checksumUpdate16(checksum: number, oldWord: number, newWord: number): number {
  const s = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~foldSum(s) & 0xffff;
}

/**
 * The checksum after one 32-bit value of the covered data (an address, a sequence number)
 * changes from `oldValue` to `newValue`, 16-bit aligned in the covered data (RFC 1624
 * section 3 applied to both halves).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checksumUpdate16, checksumUpdate32 } from "./checksum.ts";
 * const a = checksumUpdate32(0x1234, 0x0a000001, 0x0a000002);
 * assert(a === checksumUpdate16(0x1234, 0x0001, 0x0002));
 * ```
 */
export function checksumUpdate32(checksum: number, oldValue: number, newValue: number): number {
  const s = (~checksum & 0xffff) + (~oldValue >>> 16 & 0xffff) + (~oldValue & 0xffff) +
    (newValue >>> 16 & 0xffff) + (newValue & 0xffff);
  return ~foldSum(s) & 0xffff;
}
