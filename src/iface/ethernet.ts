/**
 * Ethernet addressing (IEEE 802.3): MAC helpers and the receive filter. In descriptors a MAC
 * is two integers, `hi` (first 2 bytes) and `lo` (last 4 bytes), big-endian.
 *
 * @module
 */

/** The broadcast MAC's hi and lo words. */
export const BROADCAST_HI = 0xffff;
/** The broadcast MAC's lo word (as a u32). */
export const BROADCAST_LO = 0xffffffff;

/**
 * A random locally administered unicast MAC (first byte: bit 1 set, bit 0 clear), drawn from
 * `random` (values in [0, 1), like Math.random; pass a seeded function in tests).
 *
 * @example
 * ```ts
 * import { randomMac } from "./ethernet.ts";
 * const mac = randomMac(() => 0.5);
 * if ((mac[0]! & 3) !== 2) throw new Error("not locally administered unicast");
 * ```
 */
export function randomMac(random: () => number): Uint8Array {
  const mac = new Uint8Array(6);
  for (let i = 0; i < 6; i++) mac[i] = Math.floor(random() * 256) & 0xff;
  mac[0] = (mac[0]! & 0xfc) | 0x02;
  return mac;
}

/**
 * An interface's own MAC: a copy of `mac`, or a random one drawn from `random` when absent.
 * Throws a RangeError for a MAC that is not 6 bytes or is a group address.
 */
export function ownMac(mac: Uint8Array | undefined, random: () => number): Uint8Array {
  const m = mac ?? randomMac(random);
  if (m.length !== 6) throw new RangeError(`MAC must be 6 bytes, got ${m.length}`);
  if (isGroupMac(macHi(m))) throw new RangeError("MAC must be a unicast address");
  return Uint8Array.from(m);
}

/** The first two bytes of a MAC as a 16-bit number. */
export function macHi(mac: Uint8Array): number {
  return (mac[0]! << 8) | mac[1]!;
}

/** The last four bytes of a MAC as a u32 number. */
export function macLo(mac: Uint8Array): number {
  return ((mac[2]! << 24) | (mac[3]! << 16) | (mac[4]! << 8) | mac[5]!) >>> 0;
}

/** Write the MAC given as hi/lo words into `buf` at `off`. */
export function writeMac(buf: Uint8Array, off: number, hi: number, lo: number): void {
  buf[off] = hi >>> 8;
  buf[off + 1] = hi & 0xff;
  buf[off + 2] = lo >>> 24;
  buf[off + 3] = (lo >>> 16) & 0xff;
  buf[off + 4] = (lo >>> 8) & 0xff;
  buf[off + 5] = lo & 0xff;
}

/** Format a MAC given as hi/lo words ("02:00:00:00:00:01"), for messages and tests. */
export function formatMac(hi: number, lo: number): string {
  const b = new Uint8Array(6);
  writeMac(b, 0, hi, lo);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}

/** True when the group bit (bit 0 of the first byte) is set: multicast or broadcast. */
export function isGroupMac(hi: number): boolean {
  return (hi & 0x0100) !== 0;
}

/** True when hi/lo is ff:ff:ff:ff:ff:ff. */
export function isBroadcastMac(hi: number, lo: number): boolean {
  return (hi & 0xffff) === BROADCAST_HI && lo >>> 0 === BROADCAST_LO;
}

/** The hi word of the Ethernet multicast MAC of an IPv4 group (RFC 1112 6.4: 01:00:5e + 23 bits). */
export const IPV4_MCAST_HI = 0x0100;

/** The lo word of the Ethernet multicast MAC of IPv4 group `ip`. */
export function ipv4MulticastLo(ip: number): number {
  return (0x5e000000 | (ip & 0x7fffff)) >>> 0;
}

/** What the Ethernet receive filter decided. */
export type EthVerdict = "unicast" | "broadcast" | "multicast" | "not-for-us";

/**
 * The receive filter: frames to our MAC, to broadcast, and (when `acceptMulticast`) to any
 * group address are accepted; everything else is not for us.
 */
export function filterDestination(
  dstHi: number,
  dstLo: number,
  ourHi: number,
  ourLo: number,
  acceptMulticast: boolean,
): EthVerdict {
  const hi = dstHi & 0xffff;
  const lo = dstLo >>> 0;
  if (hi === ourHi && lo === ourLo) return "unicast";
  if (isBroadcastMac(hi, lo)) return "broadcast";
  if (isGroupMac(hi) && acceptMulticast) return "multicast";
  return "not-for-us";
}
