/**
 * Router Advertisements of the gateway's IPv6 side (RFC 4861 section 4.2, 6.2): our link-local
 * address as the default router, the prefix (fd00::/64 by default) on-link and autonomous so
 * that the guest's kernel forms an address by SLAAC (RFC 4862 5.5.3), the source link-layer
 * address and the link MTU. Sent unsolicited when the gateway starts and then every
 * {@link RA_INTERVAL_MS} (RFC 4861 6.2.4), and in answer to each Router Solicitation
 * (6.2.6, rate-limited to one per {@link MIN_DELAY_BETWEEN_RAS_MS}), always to all-nodes.
 *
 * @module
 */

import { foldSum } from "../wire/checksum.ts";

/** Interval of unsolicited advertisements (RFC 4861 6.2.1 allows 4..1800 s; we use 20 s). */
export const RA_INTERVAL_MS = 20000;
/** The first few advertisements come sooner (6.2.4: MAX_INITIAL_RTR_ADVERT_INTERVAL 16 s). */
export const RA_INITIAL_INTERVAL_MS = 3000;
/** How many of them (6.2.4: MAX_INITIAL_RTR_ADVERTISEMENTS). */
export const RA_INITIAL_COUNT = 3;
/** RFC 4861 section 10: MIN_DELAY_BETWEEN_RAS (answers to solicitations). */
export const MIN_DELAY_BETWEEN_RAS_MS = 3000;
/** Router Lifetime we advertise (seconds; 6.2.1 default 3 x MaxRtrAdvInterval). */
export const ROUTER_LIFETIME_S = 1800;

/** What an advertisement says. */
export interface RaParams {
  /** Our MAC (6 bytes). */
  mac: Uint8Array;
  /** Our link-local address (16 bytes), the advertisement's source. */
  linkLocal: Uint8Array;
  /** The /64 prefix (16 bytes, the low 64 bits zero). */
  prefix: Uint8Array;
  /** The link MTU (the MTU option). */
  mtu: number;
}

/** All-nodes ff02::1. */
const ALL_NODES = Uint8Array.from([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

/** The whole Ethernet frame of a Router Advertisement to all-nodes. */
export function buildRouterAdvert(p: RaParams): Uint8Array {
  const icmpLen = 16 + 8 + 8 + 32; // header, SLLA, MTU, Prefix Information
  const f = new Uint8Array(14 + 40 + icmpLen);
  const v = new DataView(f.buffer);
  f.set([0x33, 0x33, 0, 0, 0, 1], 0); // RFC 2464 section 7
  f.set(p.mac, 6);
  v.setUint16(12, 0x86dd);
  const ip = 14;
  f[ip] = 0x60;
  v.setUint16(ip + 4, icmpLen);
  f[ip + 6] = 58; // ICMPv6
  f[ip + 7] = 255; // RFC 4861 6.1.2: hop limit 255
  f.set(p.linkLocal, ip + 8);
  f.set(ALL_NODES, ip + 24);
  const o = ip + 40;
  f[o] = 134;
  f[o + 4] = 64; // Cur Hop Limit
  f[o + 5] = 0; // M = O = 0: addresses by SLAAC, no DHCPv6
  v.setUint16(o + 6, ROUTER_LIFETIME_S);
  // Reachable Time and Retrans Timer 0: unspecified (the guest keeps its own).
  let q = o + 16;
  f[q] = 1; // Source Link-Layer Address
  f[q + 1] = 1;
  f.set(p.mac, q + 2);
  q += 8;
  f[q] = 5; // MTU
  f[q + 1] = 1;
  v.setUint32(q + 4, p.mtu);
  q += 8;
  f[q] = 3; // Prefix Information (RFC 4861 4.6.2)
  f[q + 1] = 4;
  f[q + 2] = 64;
  f[q + 3] = 0xc0; // L (on-link) and A (autonomous)
  v.setUint32(q + 4, 86400); // valid lifetime (s)
  v.setUint32(q + 8, 14400); // preferred lifetime (s)
  f.set(p.prefix.subarray(0, 8), q + 16);
  // RFC 4443 2.3: the checksum over the pseudo-header (RFC 8200 8.1) and the message.
  let sum = 58 + icmpLen;
  for (let i = ip + 8; i < f.length; i += 2) sum += (f[i]! << 8) | (f[i + 1] ?? 0);
  v.setUint16(o + 2, ~foldSum(sum) & 0xffff);
  return f;
}

/**
 * The advertising side: `send` is called with the frame at start, for the initial ones, then
 * periodically, and on solicitations (at most one per MIN_DELAY_BETWEEN_RAS_MS).
 */
export class RouterAdvertiser {
  readonly #frame: Uint8Array;
  readonly #send: (frame: Uint8Array) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sent = 0;
  #lastAt = -Infinity;
  #pendingAnswer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** Start advertising. */
  constructor(params: RaParams, send: (frame: Uint8Array) => void) {
    this.#frame = buildRouterAdvert(params);
    this.#send = send;
    this.#tick();
  }

  /** Advertisements sent. */
  get sent(): number {
    return this.#sent;
  }

  #tick(): void {
    if (this.#closed) return;
    this.#emit();
    const next = this.#sent <= RA_INITIAL_COUNT ? RA_INITIAL_INTERVAL_MS : RA_INTERVAL_MS;
    this.#timer = setTimeout(() => this.#tick(), next);
    Deno.unrefTimer(this.#timer);
  }

  #emit(): void {
    this.#lastAt = Date.now();
    this.#sent++;
    this.#send(this.#frame);
  }

  /** A router solicitation arrived: answer now, or once MIN_DELAY_BETWEEN_RAS_MS passed. */
  solicited(): void {
    if (this.#closed || this.#pendingAnswer !== undefined) return;
    const wait = this.#lastAt + MIN_DELAY_BETWEEN_RAS_MS - Date.now();
    if (wait <= 0) return this.#emit();
    this.#pendingAnswer = setTimeout(() => {
      this.#pendingAnswer = undefined;
      if (!this.#closed) this.#emit();
    }, wait);
    Deno.unrefTimer(this.#pendingAnswer);
  }

  /** Stop advertising. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#pendingAnswer);
  }
}
