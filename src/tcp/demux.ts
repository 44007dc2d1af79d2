/**
 * The connection table: constant-time lookup by four-tuple without allocating per packet. An
 * open-addressing hash table (linear probing, backward-shift deletion, no tombstones) of the
 * connections themselves, compared field by field: no key object and no boxed number per
 * lookup (the earlier nested maps keyed by `address * 65536 + port`, numbers beyond the small
 * integer range, boxed one per lookup, add and delete: a few percent of a short-connection
 * run, and its garbage).
 *
 * The hash is keyed with random bits drawn per table, so that a peer choosing its ports and
 * addresses cannot aim its connections (or half-open ones) at one probe chain.
 *
 * @module
 */

import { ipNum } from "../wire/ip_handle.ts";
import type { TcpConnection } from "./connection.ts";

/**
 * Key of an (address, port) pair: address * 65536 + port, exact in a double (an IPv6 handle is
 * below 2^32 + 2^20, src/wire/ip_handle.ts).
 */
export function endpointKey(ip: number, port: number): number {
  return ipNum(ip) * 65536 + port;
}

/** Slots of an empty table (a power of two). */
const MIN_SLOTS = 64;

/** The four-tuple of a connection, as the table compares it. */
type Tuple = Pick<TcpConnection, "localIp" | "localPort" | "remoteIp" | "remotePort">;

/** Connections by four-tuple. */
export class ConnTable {
  /** Every connection, for timers and shutdown. */
  readonly all: Set<TcpConnection> = new Set();
  #slots: (TcpConnection | undefined)[] = new Array(MIN_SLOTS).fill(undefined);
  /** The hash of the connection in each slot (its home is `hash & mask`). */
  #hashes = new Int32Array(MIN_SLOTS);
  #mask = MIN_SLOTS - 1;
  readonly #seed: number;

  /** An empty table; `seed` fixes the hash key (random by default). */
  constructor(seed?: number) {
    this.#seed = seed ?? crypto.getRandomValues(new Int32Array(1))[0]!;
  }

  /** Number of connections. */
  get size(): number {
    return this.all.size;
  }

  /** Find the connection of a four-tuple. */
  get(lip: number, lport: number, rip: number, rport: number): TcpConnection | undefined {
    lip = ipNum(lip);
    rip = ipNum(rip);
    const slots = this.#slots, mask = this.#mask;
    for (let i = tupleHash(this.#seed, lip, lport, rip, rport) & mask;; i = (i + 1) & mask) {
      const c = slots[i];
      if (c === undefined) return undefined;
      if (
        c.remotePort === rport && c.localPort === lport && c.remoteIp === rip && c.localIp === lip
      ) {
        return c;
      }
    }
  }

  /** Whether the four-tuple is in use. */
  has(lip: number, lport: number, rip: number, rport: number): boolean {
    return this.get(lip, lport, rip, rport) !== undefined;
  }

  /** Add a connection (its four-tuple must be free). */
  add(c: TcpConnection): void {
    if (this.all.has(c)) return;
    // At most half full: probe chains stay short.
    if (2 * (this.all.size + 1) > this.#slots.length) this.#resize(2 * this.#slots.length);
    this.all.add(c);
    this.#place(c, this.#hashOf(c));
  }

  /** Remove a connection. */
  delete(c: TcpConnection): void {
    if (!this.all.delete(c)) return;
    const slots = this.#slots, hashes = this.#hashes, mask = this.#mask;
    let i = this.#hashOf(c) & mask;
    while (slots[i] !== c) {
      if (slots[i] === undefined) return; // not placed (cannot happen while `all` has it)
      i = (i + 1) & mask;
    }
    // Backward-shift deletion: move later members of the chain into the hole when their home
    // does not lie cyclically in (hole, their slot].
    slots[i] = undefined;
    for (let j = (i + 1) & mask; slots[j] !== undefined; j = (j + 1) & mask) {
      const home = hashes[j]! & mask;
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (stays) continue;
      slots[i] = slots[j];
      hashes[i] = hashes[j]!;
      slots[j] = undefined;
      i = j;
    }
  }

  #place(c: TcpConnection, h: number): void {
    const slots = this.#slots, mask = this.#mask;
    let i = h & mask;
    while (slots[i] !== undefined) i = (i + 1) & mask;
    slots[i] = c;
    this.#hashes[i] = h;
  }

  #resize(n: number): void {
    this.#slots = new Array(n).fill(undefined);
    this.#hashes = new Int32Array(n);
    this.#mask = n - 1;
    for (const c of this.all) this.#place(c, this.#hashOf(c));
  }

  #hashOf(c: Tuple): number {
    return tupleHash(this.#seed, c.localIp, c.localPort, c.remoteIp, c.remotePort);
  }
}

/**
 * A keyed 32-bit mix of a four-tuple (murmur3 finaliser style), shared by the connection
 * table and the TIME-WAIT records (time_wait.ts). An IPv6 handle (>= 2^32) is 2^32 + its slot:
 * the low 32 bits tell handles apart, and the high part marks it apart from the IPv4 address
 * with the same low bits.
 */
export function tupleHash(
  seed: number,
  lip: number,
  lport: number,
  rip: number,
  rport: number,
): number {
  let h = Math.imul(seed ^ (rip >>> 0), 0xcc9e2d51);
  h = Math.imul((h << 15) | (h >>> 17), 0x1b873593) ^ ((rport << 16) | lport);
  h = Math.imul(h ^ (lip >>> 0) ^ (rip > 0xffffffff ? 0x6b43a9b5 : 0), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
