/**
 * SYN cookies (RFC 4987 section 3.6), encoded the way Linux does (`net/ipv4/syncookies.c`):
 * when a listener's half-open queue is full, the SYN+ACK's sequence number carries what the
 * connection needs and no state is kept; the returning ACK is checked and the connection
 * built from it.
 *
 *     ISS = H(tuple, secret1) + client ISN + (minute << 24)
 *           + ((H(tuple, minute, secret2) + MSS index) mod 2^24)
 *
 * The MSS is one of four table values (536, 1300, 1440, 1460: Linux `msstab`), the largest not
 * above the peer's. With timestamps (RFC 7323), the low 6 bits of our TSval carry the window
 * scale (4 bits, 15 = none) and SACK-permitted (1 bit); the peer echoes them in TSecr. Without
 * timestamps the connection runs without window scaling and SACK, as on Linux.
 *
 * What keeps RFC 6528 and RFC 5961 intact: the ISS is still a keyed hash of the four-tuple
 * (secret, 128-bit keys drawn when the layer is built) plus the client's ISN, so it cannot be
 * predicted; an ACK is taken only when SEG.ACK - 1 decodes to a valid MSS index under this
 * minute's or the previous minute's hash (a forged ACK passes with probability 4 / 2^24, as
 * on Linux), only within two minutes after the listener last sent a cookie, and only once:
 * a bounded set of used cookies rejects a replayed ACK after its connection has gone (Linux
 * would build the connection again).
 *
 * @module
 */

import { F_ACK, F_SYN } from "../wire/layout.ts";
import { seqAdd, seqGt } from "../wire/seq.ts";
import { TcpSegment } from "../wire/tcp_segment.ts";
import { scaleFor } from "./handshake.ts";
import type { ConnHost } from "./host.ts";
import { type AddressBytes, tupleHash } from "./isn.ts";
import { isIpv6Handle, tcpIpOverhead } from "../wire/ip_handle.ts";
import type { TcpOptions } from "./types.ts";

/** The MSS values a cookie can carry (Linux `msstab` for IPv4). */
export const COOKIE_MSS: readonly number[] = [536, 1300, 1440, 1460];
/** The MSS values of an IPv6 cookie (Linux `msstab` of syncookies.c for IPv6: MTU - 60). */
export const COOKIE_MSS6: readonly number[] = [1220, 1420, 1440, 8940];
/** One tick of the cookie clock (Linux: one minute). */
export const COOKIE_TICK_MS = 60_000;
/** A cookie is valid in the tick it was made and the next (Linux MAX_SYNCOOKIE_AGE 2). */
const MAX_AGE = 2;
const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
/** Low TSval bits that carry options (Linux TSBITS 6). */
const TS_MASK = 0x3f;
/** Cookies remembered as used (replay filter); the oldest are forgotten past this. */
export const COOKIES_USED_MAX = 65536;

/** What a valid cookie ACK restores. */
export interface CookieState {
  /** MSS from the table. */
  mss: number;
  /** The peer's window scale, -1 when not in use. */
  ws: number;
  /** SACK-permitted was agreed. */
  sackOk: boolean;
  /** Timestamps are in use (the ACK carries them). */
  hasTs: boolean;
}

/**
 * The cookie secret and clock of one TCP layer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SynCookies } from "./syncookie.ts";
 * const sc = new SynCookies(new Uint32Array(8).fill(7));
 * const iss = sc.make(1, 80, 2, 40000, 1234, 3, 0);
 * assert.equal(sc.check(1, 80, 2, 40000, 1234, iss, 30_000), 3);
 * assert.equal(sc.check(1, 80, 2, 40001, 1234, iss, 30_000), -1); // another tuple
 * assert.equal(sc.check(1, 80, 2, 40000, 1234, iss, 200_000), -1); // too old
 * ```
 */
export class SynCookies {
  readonly #k1: Uint32Array;
  readonly #k2: Uint32Array;
  readonly #used = new Map<string, number>();
  readonly #bytesOf: AddressBytes | undefined;

  /** `key`: 8 words of secret (random by default); `bytesOf`: IPv6 handles to bytes. */
  constructor(key?: Uint32Array, bytesOf?: AddressBytes) {
    this.#bytesOf = bytesOf;
    const k = key ?? crypto.getRandomValues(new Uint32Array(8));
    this.#k1 = k.subarray(0, 4);
    this.#k2 = k.subarray(4, 8);
  }

  /** An address in a used-cookie key: IPv6 by its bytes (a handle's slot is reused). */
  #addrKey(ip: number): string {
    if (!isIpv6Handle(ip)) return String(ip >>> 0);
    const b = this.#bytesOf?.(ip);
    return b ? Array.from(b).join(".") : String(ip);
  }

  /** Cookies remembered as used. */
  get usedCount(): number {
    return this.#used.size;
  }

  /** The ISS for a SYN from `rip:rport` (client ISN `isn`) to `lip:lport`, MSS index `idx`. */
  make(
    lip: number,
    lport: number,
    rip: number,
    rport: number,
    isn: number,
    idx: number,
    now: number,
  ): number {
    const count = Math.floor(now / COOKIE_TICK_MS) & 0xff;
    const ports = ((lport << 16) | rport) >>> 0;
    const h1 = tupleHash(this.#k1, lip, rip, ports, 0, this.#bytesOf);
    const h2 = tupleHash(this.#k2, lip, rip, ports, count, this.#bytesOf);
    return (h1 + isn + count * (1 << COOKIE_BITS) + ((h2 + idx) & COOKIE_MASK)) >>> 0;
  }

  /** The MSS index carried by `cookie`, or -1 when it is forged, for another tuple or stale. */
  check(
    lip: number,
    lport: number,
    rip: number,
    rport: number,
    isn: number,
    cookie: number,
    now: number,
  ): number {
    const count = Math.floor(now / COOKIE_TICK_MS) & 0xff;
    const ports = ((lport << 16) | rport) >>> 0;
    const rest = (cookie - tupleHash(this.#k1, lip, rip, ports, 0, this.#bytesOf) - isn) >>> 0;
    const diff = (count - (rest >>> COOKIE_BITS)) & 0xff;
    if (diff >= MAX_AGE) return -1;
    const h2 = tupleHash(this.#k2, lip, rip, ports, (count - diff) & 0xff, this.#bytesOf);
    const idx = (rest - h2) & COOKIE_MASK;
    return idx < COOKIE_MSS.length ? idx : -1;
  }

  /**
   * Remember the cookie of an ACK (`ack` - 1 for client ISN `isn`) as used; false when it
   * already was. The key is ISS - ISN, which every later segment of the same connection shares:
   * a segment whose SEQ and ACK both moved on by the same amount decodes as a valid cookie too
   * (the ISN is only added), so a late ACK of a connection that has gone (an answer from the
   * peer's TIME-WAIT) or a replayed one is refused. Entries older than a cookie's lifetime are
   * forgotten, and the oldest beyond {@link COOKIES_USED_MAX}.
   */
  claim(
    lip: number,
    lport: number,
    rip: number,
    rport: number,
    isn: number,
    cookie: number,
    now: number,
  ): boolean {
    const key = `${this.#addrKey(lip)}:${lport}:${this.#addrKey(rip)}:${rport}:${
      (cookie - isn) >>> 0
    }`;
    for (const [k, at] of this.#used) {
      if (now - at < MAX_AGE * COOKIE_TICK_MS && this.#used.size < COOKIES_USED_MAX) break;
      this.#used.delete(k);
    }
    if (this.#used.has(key)) return false;
    this.#used.set(key, now);
    return true;
  }
}

/** The largest table MSS not above the peer's (536 without an MSS option, RFC 9293 3.7.1). */
export function cookieMssIndex(peerMss: number, ipv6 = false): number {
  const m = peerMss > 0 ? peerMss : 536;
  const table = ipv6 ? COOKIE_MSS6 : COOKIE_MSS;
  let i = table.length - 1;
  while (i > 0 && table[i]! > m) i--;
  return i;
}

/** Our TSval on a cookie SYN+ACK: the clock with its low 6 bits replaced by the options. */
export function cookieTsVal(now: number, ws: number, sackOk: boolean): number {
  const opts = (ws >= 0 ? ws & 0xf : 0xf) | (sackOk ? 0x10 : 0);
  const clock = now >>> 0;
  let ts = ((clock & ~TS_MASK) | opts) >>> 0;
  if (seqGt(ts, clock)) ts = (ts - (TS_MASK + 1)) >>> 0; // never ahead of our clock (as Linux)
  return ts;
}

/**
 * The state a cookie ACK restores: MSS from the index, options from TSecr when it carries
 * timestamps (window scale only if we would offer it, as the SYN+ACK did).
 */
export function cookieState(idx: number, seg: TcpSegment, opt: TcpOptions): CookieState {
  const mss = (isIpv6Handle(seg.dstIp) ? COOKIE_MSS6 : COOKIE_MSS)[idx]!;
  if (!seg.hasTs || !opt.timestamps) return { mss, ws: -1, sackOk: false, hasTs: false };
  const bits = seg.tsEcr & TS_MASK;
  const ws = bits & 0xf;
  return {
    mss,
    ws: ws !== 0xf && opt.windowScale ? ws : -1,
    sackOk: (bits & 0x10) !== 0 && opt.sack,
    hasTs: true,
  };
}

/** A SYN as the cookie remembers it, for `negotiate` (handshake.ts). */
export function cookieSyn(seg: TcpSegment, st: CookieState): TcpSegment {
  const s = new TcpSegment();
  s.srcIp = seg.srcIp;
  s.dstIp = seg.dstIp;
  s.srcPort = seg.srcPort;
  s.dstPort = seg.dstPort;
  s.seq = seqAdd(seg.seq, -1);
  s.flags = F_SYN;
  s.wnd = seg.wnd;
  s.mss = st.mss;
  s.ws = st.ws;
  s.sackOk = st.sackOk;
  s.hasTs = st.hasTs;
  s.tsVal = seg.tsVal;
  s.tsEcr = 0;
  return s;
}

/**
 * Answer `syn` with a SYN+ACK whose ISS is a cookie; no state is kept. Options as `sendSyn`
 * would offer them (MSS of our path, window scale, SACK-permitted and timestamps when the
 * peer offered them and we allow them). Returns whether the interface took the segment.
 */
export function sendCookieSynAck(
  host: ConnHost,
  cookies: SynCookies,
  opt: TcpOptions,
  syn: TcpSegment,
  now: number,
): boolean {
  const idx = cookieMssIndex(syn.mss, isIpv6Handle(syn.dstIp));
  const iss = cookies.make(syn.dstIp, syn.dstPort, syn.srcIp, syn.srcPort, syn.seq, idx, now);
  // Without timestamps there is nowhere to keep the options: none are offered (as Linux).
  const ts = opt.timestamps && syn.hasTs;
  const peerWs = ts && opt.windowScale && syn.ws >= 0 ? Math.min(syn.ws, 14) : -1;
  const sack = ts && opt.sack && syn.sackOk;
  const mtu = host.tx.pathMtu(syn.srcIp, now);
  const s = host.out.clear();
  s.srcIp = syn.dstIp;
  s.dstIp = syn.srcIp;
  s.srcPort = syn.dstPort;
  s.dstPort = syn.srcPort;
  s.seq = iss;
  s.ack = seqAdd(syn.seq, 1);
  s.flags = F_SYN | F_ACK;
  s.wnd = Math.min(opt.rcvBuf, 65535); // RFC 7323 2.2: never scaled on a SYN
  s.mss = Math.max(Math.min(opt.mss, mtu - tcpIpOverhead(syn.srcIp)), 88);
  if (peerWs >= 0) s.ws = scaleFor(Math.max(opt.rcvBuf, opt.rcvBufMax)); // as initSend (buf_tune.ts)
  if (sack) s.sackOk = true;
  if (ts) {
    s.hasTs = true;
    s.tsVal = cookieTsVal(now, peerWs, sack); // the peer's shift, as Linux keeps snd_wscale
    s.tsEcr = syn.tsVal;
  }
  host.count("tcp-syncookie-sent");
  return host.tx.sendTcp(s, -1, now);
}
