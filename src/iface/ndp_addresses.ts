/**
 * Our IPv6 unicast addresses and their life (RFC 4862), sans-I/O: duplicate address detection
 * (section 5.4) before any address is used, addresses formed by stateless autoconfiguration
 * from router-advertised prefixes (section 5.5.3) with their preferred and valid lifetimes, and
 * source address selection (RFC 6724 section 5, simplified).
 *
 * States: TENTATIVE (DAD running: the address neither receives nor sends, except DAD's own
 * solicitations), PREFERRED, DEPRECATED (preferred lifetime over: still receives, used as a
 * source only when nothing preferred fits, RFC 4862 5.5.4), DUPLICATE (DAD found another node
 * using it: never used, counted; RFC 4862 5.4.5).
 *
 * DAD: DupAddrDetectTransmits = 1 solicitation, then RetransTimer (ndRetransMs, 1000 ms) of
 * silence, and the address is PREFERRED. DAD of the addresses known at start begins at
 * `start()`; SLAAC addresses begin theirs when formed. No optimistic DAD (RFC 4429): the
 * link-local address is usable about one second after start, as on Linux.
 *
 * @module
 */

import type { IfaceLimits } from "./limits.ts";

/** DAD is running. */
export const ADDR_TENTATIVE = 0;
/** Usable. */
export const ADDR_PREFERRED = 1;
/** Preferred lifetime over: receives, sends only when nothing preferred fits. */
export const ADDR_DEPRECATED = 2;
/** DAD found a duplicate: never used. */
export const ADDR_DUPLICATE = 3;
/** State names (for diagnostics). */
export const ADDR_STATE_NAMES: readonly string[] = [
  "tentative",
  "preferred",
  "deprecated",
  "duplicate",
];

/** RFC 4862 section 5.1: DupAddrDetectTransmits. */
export const DUP_ADDR_DETECT_TRANSMITS = 1;
/** RFC 4862 5.5.3 (e): the two-hour rule against forged short valid lifetimes. */
const TWO_HOURS_MS = 7200000;

/** One address of ours. */
export class Address6 {
  /** The address (16 bytes). */
  readonly addr: Uint8Array;
  /** The on-link prefix length it was configured with (64 for SLAAC and link-local). */
  readonly prefixLength: number;
  /** Where it came from. */
  readonly origin: "link-local" | "static" | "slaac";
  /** ADDR_TENTATIVE ... ADDR_DUPLICATE. */
  state = ADDR_TENTATIVE;
  /** DAD solicitations sent. */
  dadSent = 0;
  /** When the next DAD step is due (Infinity: DAD not started yet). */
  dadAt = Infinity;
  /** When the preferred lifetime ends (SLAAC; Infinity otherwise). */
  preferredUntil = Infinity;
  /** When the valid lifetime ends and the address is removed (SLAAC; Infinity otherwise). */
  validUntil = Infinity;

  /** A new TENTATIVE address. */
  constructor(addr: Uint8Array, prefixLength: number, origin: Address6["origin"]) {
    this.addr = Uint8Array.from(addr);
    this.prefixLength = prefixLength;
    this.origin = origin;
  }

  /** Whether the address receives and may be a source (DAD passed, not duplicate). */
  get usable(): boolean {
    return this.state === ADDR_PREFERRED || this.state === ADDR_DEPRECATED;
  }
}

/** What the table asks its owner to do. */
export interface AddressActions {
  /** Send the DAD solicitation for `a` (from ::, to its solicited-node group, no SLLA). */
  dadSolicit(a: Address6, now: number): void;
}

/** Our addresses, the link-local one first. */
export class AddressTable6 {
  /** Every address, link-local first (duplicates stay listed, as Linux shows "dadfailed"). */
  readonly list: Address6[] = [];
  /** The same addresses' bytes, in the same order: a live array (kept in step with `list`). */
  readonly bytes: Uint8Array[] = [];
  #limits: IfaceLimits;
  #actions: AddressActions;
  #started = false;
  #startAt = 0;
  #due = Infinity;
  /** DAD found a duplicate (RFC 4862 5.4.5). */
  duplicates = 0;
  /** DAD finished without a duplicate. */
  dadCompleted = 0;
  /** retransMs in force (an RA may change RetransTimer). */
  retransMs: number;

  /** A table bounded by `limits`. */
  constructor(limits: IfaceLimits, actions: AddressActions) {
    this.#limits = limits;
    this.#actions = actions;
    this.retransMs = limits.ndRetransMs;
  }

  /** Add a TENTATIVE address; its DAD starts now when the table is started, else at start. */
  add(addr: Uint8Array, prefixLength: number, origin: Address6["origin"], now = 0): Address6 {
    const a = new Address6(addr, prefixLength, origin);
    this.list.push(a);
    this.bytes.push(a.addr);
    if (this.#started) this.#beginDad(a, Math.max(now, this.#startAt));
    return a;
  }

  /** Start DAD of every address (interface start). */
  start(now: number): void {
    if (this.#started) return;
    this.#started = true;
    this.#startAt = now;
    for (const a of this.list) if (a.state === ADDR_TENTATIVE) this.#beginDad(a, now);
  }

  /** The address at `m[off, off+16)` in any state, or undefined. */
  find(m: Uint8Array, off = 0): Address6 | undefined {
    for (const a of this.list) if (same16(a.addr, m, off)) return a;
    return undefined;
  }

  /** Whether `m[off, off+16)` is a usable address of ours (DAD passed). */
  isOurs(m: Uint8Array, off = 0): boolean {
    for (const a of this.list) if (a.usable && same16(a.addr, m, off)) return true;
    return false;
  }

  /**
   * Whether `m[off, off+16)` is a multicast group we joined: all-nodes, or the solicited-node
   * group of one of our addresses (tentative ones too, RFC 4862 5.4.2; not duplicates).
   */
  joined(m: Uint8Array, off: number): boolean {
    if (m[off] !== 0xff || m[off + 1] !== 0x02) return false;
    for (let i = 2; i < 11; i++) if (m[off + i] !== 0) return false;
    if (m[off + 11] === 0 && m[off + 12] === 0 && m[off + 13] === 0 && m[off + 14] === 0) {
      return m[off + 15] === 1; // ff02::1
    }
    if (m[off + 11] !== 1 || m[off + 12] !== 0xff) return false;
    return this.#groupLow24((m[off + 13]! << 16) | (m[off + 14]! << 8) | m[off + 15]!);
  }

  /** Whether an Ethernet multicast destination (RFC 2464 section 7) is one of our groups. */
  joinedMac(hi: number, lo: number): boolean {
    if ((hi & 0xffff) !== 0x3333) return false;
    const l = lo >>> 0;
    if (l === 1) return true; // 33:33:00:00:00:01, all-nodes
    return l >>> 24 === 0xff && this.#groupLow24(l & 0xffffff);
  }

  #groupLow24(low: number): boolean {
    for (const { addr: a, state } of this.list) {
      if (state !== ADDR_DUPLICATE && low === ((a[13]! << 16) | (a[14]! << 8) | a[15]!)) {
        return true;
      }
    }
    return false;
  }

  /** DAD of `a` saw another node with its address: never use it (RFC 4862 5.4.5). */
  duplicate(a: Address6): void {
    if (a.state !== ADDR_TENTATIVE) return;
    a.state = ADDR_DUPLICATE;
    a.dadAt = Infinity;
    this.duplicates++;
  }

  /**
   * The source address toward `dst` (RFC 6724 section 5, simplified): usable addresses only;
   * a link-local destination gets the link-local address (rule 2, scope); otherwise a
   * non-link-local address, preferred before deprecated (rule 3), longest common prefix
   * (rule 8). Null when none fits.
   */
  source(dst: Uint8Array): Uint8Array | null {
    const linkLocal = isLinkLocal(dst, 0) || (dst[0] === 0xff && (dst[1]! & 0x0f) <= 2);
    let best: Address6 | null = null;
    let bestScore = -1;
    for (const a of this.list) {
      if (!a.usable || isLinkLocal(a.addr, 0) !== linkLocal) continue;
      const score = (a.state === ADDR_PREFERRED ? 256 : 0) + commonPrefix(a.addr, dst);
      if (score > bestScore) {
        best = a;
        bestScore = score;
      }
    }
    return best === null ? null : best.addr;
  }

  /**
   * A Prefix Information option with the A flag (RFC 4862 5.5.3): form prefix + `iid` when
   * the prefix is new (64 bits long, lifetimes sane), or update the lifetimes of the address
   * formed from it. Lifetimes in seconds (0xffffffff: infinite). Returns what happened.
   */
  slaac(
    prefix: Uint8Array,
    prefixLength: number,
    validS: number,
    preferredS: number,
    iid: Uint8Array,
    now: number,
  ): "formed" | "updated" | "ignored" | "bad-length" | "full" {
    if (isLinkLocal(prefix, 0) || preferredS > validS) return "ignored"; // (b), (c)
    const addr = new Uint8Array(16);
    addr.set(prefix.subarray(0, 8));
    addr.set(iid.subarray(8, 16), 8);
    const cur = this.list.find((a) => a.origin === "slaac" && same16(a.addr, addr, 0));
    const valid = lifetime(validS, now);
    const preferred = lifetime(preferredS, now);
    if (cur === undefined) {
      if (validS === 0) return "ignored"; // (d)
      // RFC 4862 5.5.3 (d): the prefix and the 64-bit interface identifier must make 128 bits.
      if (prefixLength !== 64) return "bad-length";
      if (this.list.some((a) => same16(a.addr, addr, 0))) return "ignored"; // already ours
      const n = this.list.filter((a) => a.origin === "slaac").length;
      if (n >= this.#limits.ndSlaacAddresses) return "full";
      const a = this.add(addr, 64, "slaac", now);
      a.validUntil = valid;
      a.preferredUntil = preferred;
      this.#due = Math.min(this.#due, valid, preferred);
      return "formed";
    }
    // (e): preferred lifetime as advertised; the valid one under the two-hour rule.
    cur.preferredUntil = preferred;
    if (cur.state === ADDR_DEPRECATED && now < preferred) cur.state = ADDR_PREFERRED;
    const remaining = cur.validUntil - now;
    if (valid - now > TWO_HOURS_MS || valid > cur.validUntil) cur.validUntil = valid;
    else if (remaining > TWO_HOURS_MS) cur.validUntil = now + TWO_HOURS_MS;
    this.#due = Math.min(this.#due, cur.validUntil, cur.preferredUntil);
    return "updated";
  }

  /** DAD steps and lifetimes; returns the addresses removed (valid lifetime over). */
  poll(now: number): number {
    let due = Infinity;
    let removed = 0;
    for (let i = this.list.length - 1; i >= 0; i--) {
      const a = this.list[i]!;
      if (now >= a.validUntil) {
        this.list.splice(i, 1);
        this.bytes.splice(i, 1);
        removed++;
        continue;
      }
      if (a.state === ADDR_TENTATIVE && now >= a.dadAt) {
        if (a.dadSent < DUP_ADDR_DETECT_TRANSMITS) {
          a.dadSent++;
          a.dadAt = now + this.retransMs;
          this.#actions.dadSolicit(a, now);
        } else {
          a.state = now >= a.preferredUntil ? ADDR_DEPRECATED : ADDR_PREFERRED;
          a.dadAt = Infinity;
          this.dadCompleted++;
        }
      }
      if (a.state === ADDR_PREFERRED && now >= a.preferredUntil) a.state = ADDR_DEPRECATED;
      due = Math.min(due, a.validUntil, a.dadAt);
      if (a.state === ADDR_PREFERRED) due = Math.min(due, a.preferredUntil);
    }
    this.#due = due;
    return removed;
  }

  /** The earliest deadline of poll(), or Infinity. */
  pollAt(): number {
    return this.#due;
  }

  /** Whether some address is still TENTATIVE. */
  get tentative(): boolean {
    return this.list.some((a) => a.state === ADDR_TENTATIVE);
  }

  #beginDad(a: Address6, now: number): void {
    a.dadAt = now;
    this.#due = Math.min(this.#due, now);
  }
}

/** A lifetime in seconds (0xffffffff: infinite, RFC 4861 4.6.2) as an absolute time in ms. */
export function lifetime(seconds: number, now: number): number {
  return seconds >>> 0 === 0xffffffff ? Infinity : now + (seconds >>> 0) * 1000;
}

/** Whether `m[off, off+16)` is link-local unicast (fe80::/10). */
export function isLinkLocal(m: Uint8Array, off: number): boolean {
  return m[off] === 0xfe && (m[off + 1]! & 0xc0) === 0x80;
}

/** Bits in common at the start of two addresses. */
export function commonPrefix(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 16; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return 128;
}

function same16(a: Uint8Array, m: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== m[off + i]) return false;
  return true;
}
