/**
 * Router Advertisements of the gateway's IPv6 side (RFC 4861 section 4.2, 6.2): our link-local
 * address as the default router, the prefix (fd00::/64 by default) on-link and autonomous so
 * that the guest's kernel forms an address by SLAAC (RFC 4862 5.5.3), the source link-layer
 * address and the link MTU. Always to all-nodes:
 * - none before our link-local address passed duplicate address detection (RFC 4862 5.4: a
 *   tentative address is not used; RFC 4861 6.2.2 sends from it), polled every
 *   {@link DAD_POLL_MS}; none at all when DAD found it duplicated (RFC 4862 5.4.5);
 * - then unsolicited at once, the first {@link RA_INITIAL_COUNT} after it
 *   {@link RA_INITIAL_INTERVAL_MS} apart, later every {@link RA_MIN_INTERVAL_MS} to
 *   {@link RA_INTERVAL_MS} (uniformly random, 6.2.4);
 * - in answer to each Router Solicitation (6.2.6: a solicitation before DAD passed is covered
 *   by the first unsolicited one) after a random delay of up to {@link MAX_RA_DELAY_TIME_MS},
 *   at most one per {@link MIN_DELAY_BETWEEN_RAS_MS};
 * - a final one with Router Lifetime 0 when the gateway stops (6.2.5), so that the guest
 *   drops its default route through us at once instead of after {@link ROUTER_LIFETIME_S}.
 *
 * @module
 */

import { foldSum } from "../wire/checksum.ts";

/** Interval of unsolicited advertisements (RFC 4861 6.2.1 allows 4..1800 s; we use 20 s). */
export const RA_INTERVAL_MS = 20000;
/** MinRtrAdvInterval (6.2.1: at least 3 s, at most 0.75 x MaxRtrAdvInterval). */
export const RA_MIN_INTERVAL_MS = 15000;
/** RFC 4861 section 10: MAX_RA_DELAY_TIME, the most an answer to a solicitation waits. */
export const MAX_RA_DELAY_TIME_MS = 500;
/** The first few advertisements come sooner (6.2.4: MAX_INITIAL_RTR_ADVERT_INTERVAL 16 s). */
export const RA_INITIAL_INTERVAL_MS = 3000;
/** How many of them (6.2.4: MAX_INITIAL_RTR_ADVERTISEMENTS). */
export const RA_INITIAL_COUNT = 3;
/** RFC 4861 section 10: MIN_DELAY_BETWEEN_RAS (answers to solicitations). */
export const MIN_DELAY_BETWEEN_RAS_MS = 3000;
/** Router Lifetime we advertise (seconds; 6.2.1 default 3 x MaxRtrAdvInterval). */
export const ROUTER_LIFETIME_S = 1800;
/** How often the advertiser looks whether our link-local address passed DAD (ms). */
export const DAD_POLL_MS = 50;

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

/**
 * The whole Ethernet frame of a Router Advertisement to all-nodes, with Router Lifetime
 * `routerLifetime` (seconds; 0: "not a default router", the final advertisement of 6.2.5).
 */
export function buildRouterAdvert(p: RaParams, routerLifetime = ROUTER_LIFETIME_S): Uint8Array {
  if (!Number.isInteger(routerLifetime) || routerLifetime < 0 || routerLifetime > 9000) {
    throw new RangeError(
      `Router lifetime must be 0..9000 s (RFC 4861 6.2.1), got ${routerLifetime}`,
    );
  }
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
  v.setUint16(o + 6, routerLifetime);
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

/** The state of our link-local address: DAD running, passed, or found a duplicate. */
export type LinkLocalState = "tentative" | "usable" | "duplicate";

/**
 * The advertising side: `send` is called with the frame once `linkLocal()` says "usable"
 * (polled), for the initial ones, then periodically, on solicitations (at most one per
 * MIN_DELAY_BETWEEN_RAS_MS), and with the final one (Router Lifetime 0) at `close`.
 */
export class RouterAdvertiser {
  readonly #params: RaParams;
  readonly #frame: Uint8Array;
  readonly #send: (frame: Uint8Array) => void;
  readonly #linkLocal: () => LinkLocalState;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sent = 0;
  #answers = 0;
  #lastAt = -Infinity;
  #pendingAnswer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #duplicate = false;

  /** Advertise once our link-local address passed DAD (`linkLocal`, default: at once). */
  constructor(
    params: RaParams,
    send: (frame: Uint8Array) => void,
    linkLocal: () => LinkLocalState = () => "usable",
  ) {
    this.#params = params;
    this.#frame = buildRouterAdvert(params);
    this.#send = send;
    this.#linkLocal = linkLocal;
    this.#wait();
  }

  /** Advertisements sent (the final one included). */
  get sent(): number {
    return this.#sent;
  }

  /** Advertisements sent in answer to router solicitations. */
  get answers(): number {
    return this.#answers;
  }

  /** True once advertising began (our link-local address passed DAD). */
  get advertising(): boolean {
    return this.#lastAt > -Infinity;
  }

  /** True when DAD found our link-local address duplicated: we never advertise. */
  get duplicate(): boolean {
    return this.#duplicate;
  }

  #wait(): void {
    if (this.#closed) return;
    const st = this.#linkLocal();
    if (st === "usable") return this.#tick();
    if (st === "duplicate") {
      this.#duplicate = true; // RFC 4862 5.4.5: the interface is not used for IPv6
      return;
    }
    this.#timer = setTimeout(() => this.#wait(), DAD_POLL_MS);
    Deno.unrefTimer(this.#timer);
  }

  #tick(): void {
    if (this.#closed) return;
    if (this.#pendingAnswer !== undefined) { // this one answers the waiting solicitation too
      clearTimeout(this.#pendingAnswer);
      this.#pendingAnswer = undefined;
      this.#answers++;
    }
    this.#emit(this.#frame);
    const next = this.#sent <= RA_INITIAL_COUNT
      ? RA_INITIAL_INTERVAL_MS
      : RA_MIN_INTERVAL_MS + Math.random() * (RA_INTERVAL_MS - RA_MIN_INTERVAL_MS);
    this.#timer = setTimeout(() => this.#tick(), next);
    Deno.unrefTimer(this.#timer);
  }

  #emit(frame: Uint8Array): void {
    this.#lastAt = Date.now();
    this.#sent++;
    this.#send(frame);
  }

  /**
   * A router solicitation arrived: answer after a random delay of up to MAX_RA_DELAY_TIME_MS
   * (6.2.6 MUST), and not before MIN_DELAY_BETWEEN_RAS_MS since the last advertisement; one
   * answer covers every solicitation that arrives while it waits.
   */
  solicited(): void {
    // Before DAD passed, the first unsolicited advertisement (sent as it passes) answers.
    if (this.#closed || !this.advertising || this.#pendingAnswer !== undefined) return;
    const wait = Math.max(
      Math.random() * MAX_RA_DELAY_TIME_MS,
      this.#lastAt + MIN_DELAY_BETWEEN_RAS_MS - Date.now(),
    );
    this.#pendingAnswer = setTimeout(() => {
      this.#pendingAnswer = undefined;
      if (!this.#closed) this.#answer();
    }, wait);
    Deno.unrefTimer(this.#pendingAnswer);
  }

  #answer(): void {
    this.#answers++;
    this.#emit(this.#frame);
  }

  /**
   * Stop advertising. When we did advertise, a final advertisement with Router Lifetime 0
   * goes out now (RFC 4861 6.2.5; `send` must still reach the link), so the guest removes us
   * from its default router list (6.3.4) at once.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#pendingAnswer);
    if (this.advertising) this.#emit(buildRouterAdvert(this.#params, 0));
  }
}
