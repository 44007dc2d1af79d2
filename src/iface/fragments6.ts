/**
 * IPv6 fragment reassembly (RFC 8200 section 4.5), with the bounds of the IPv4 reassembler
 * (fragments.ts): `fragMemory` bytes of buffer, `fragDatagrams` datagrams and
 * `fragPerDatagram` fragments per datagram (the kept headers of first fragments count in
 * `fragMemory` too), each family in its own buffer (as Linux keeps
 * ip6frag_* apart from ipfrag_*), and a timeout of `frag6TimeoutMs` (60 s, section 4.5).
 *
 * - A datagram is identified by source, destination and Fragment Identification (4.5).
 * - Overlapping fragments discard the whole datagram, and every later fragment of it is
 *   dropped until its timeout (RFC 5722 section 4); an exact duplicate of a held fragment is
 *   dropped alone (RFC 8200 4.5 allows it).
 * - The unfragmentable part and the Next Header come from the offset-zero fragment only (4.5).
 * - A first fragment without the whole header chain through the upper-layer header is dropped
 *   before it touches any state (RFC 7112 section 5; {@linkcode incompleteChain}); the caller
 *   answers it with a Parameter Problem code 3.
 * - Atomic fragments (offset 0, M clear) never come here: decode processes them as whole
 *   datagrams (RFC 6946 section 4), so they cannot disturb a datagram being reassembled.
 * - Empty fragments are dropped (Linux ip6_frag_queue does the same).
 *
 * The caller passes fragments decoded by the engine (kind K_IPV6_FRAGMENT, which already
 * checked the M-bit length rule and the 65535 bound of one fragment, RFC 8200 4.5).
 *
 * @module
 */

import {
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_IP6_FRAG_HDR,
  D_IP_FRAG,
  D_IP_ID,
  D_L3_OFF,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
} from "../wire/layout.ts";
import type { IfaceLimits } from "./limits.ts";

/** What add() did with a fragment: held, completed, or a drop reason (a stats() key). */
export type Frag6Result =
  | "held"
  | "complete"
  | "frag6-empty"
  | "frag6-too-long"
  | "frag6-overlap"
  | "frag6-duplicate"
  | "frag6-dead"
  | "frag6-too-many-fragments"
  | "frag6-memory-full"
  | "frag6-too-many-datagrams";

/** A datagram abandoned by the timeout whose first fragment had arrived (RFC 4443 3.3). */
export interface Expired6 {
  /** The first fragment as it arrived (headers and data), cut to `maxQuote` bytes. */
  quote: Uint8Array;
  /** The Ethernet source of the first fragment (hi 16 bits, lo 32 bits). */
  macHi: number;
  macLo: number;
}

class Datagram6 {
  buf: Uint8Array = new Uint8Array(0);
  /** Held fragments as [start, end) pairs in arrival order. */
  ranges: number[] = [];
  held = 0;
  total = -1;
  /** The first fragment's headers: IPv6 header, unfragmentable part, fragment header. */
  head: Uint8Array | null = null;
  firstLen = 0;
  macHi = 0;
  macLo = 0;
  dead = false;
  constructor(readonly key: string, readonly createdAt: number) {}
}

const MAX_PAYLOAD = 65535;
/** Next Header values (IANA) of the headers walked by incompleteChain. */
const NH_HOP_BY_HOP = 0;
const NH_TCP = 6;
const NH_UDP = 17;
const NH_ROUTING = 43;
const NH_FRAGMENT = 44;
const NH_AH = 51;
const NH_ICMP6 = 58;
const NH_NONE = 59;
const NH_DEST_OPTS = 60;

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * RFC 7112 section 5 (RFC 8200 4.5): whether the first fragment decoded in `d` (offset 0, M
 * set) lacks part of the header chain: an extension header, or the first 8 bytes of ICMPv6 and
 * UDP or 20 of TCP (the headers Linux requires in ipv6_frag_thdr_truncated), past its end.
 */
export function incompleteChain(mem: Uint8Array, d: Int32Array): boolean {
  const fh = d[D_IP6_FRAG_HDR]!;
  let nh = mem[fh]!;
  let p = d[D_PAYLOAD_OFF]!;
  const end = p + d[D_PAYLOAD_LEN]!;
  for (let i = 0; i < 16; i++) {
    if (nh === NH_HOP_BY_HOP || nh === NH_ROUTING || nh === NH_DEST_OPTS || nh === NH_AH) {
      if (p + 8 > end) return true;
      const len = nh === NH_AH ? (mem[p + 1]! + 2) * 4 : (mem[p + 1]! + 1) * 8;
      nh = mem[p]!;
      p += len;
      continue;
    }
    if (nh === NH_FRAGMENT) {
      if (p + 8 > end) return true;
      nh = mem[p]!;
      p += 8;
      continue;
    }
    break;
  }
  const need = nh === NH_TCP ? 20 : nh === NH_UDP || nh === NH_ICMP6 ? 8 : nh === NH_NONE ? 0 : 1;
  return p + need > end;
}

/** The IPv6 reassembly buffer of one interface. */
export class Reassembler6 {
  #limits: IfaceLimits;
  #datagrams = new Map<string, Datagram6>();
  #memory = 0;
  #done: Datagram6 | null = null;

  /** A reassembler bounded by `limits`. */
  constructor(limits: IfaceLimits) {
    this.#limits = limits;
  }

  /** Bytes held: data buffers and the first fragments' headers. */
  get memory(): number {
    return this.#memory;
  }

  /** Datagrams in progress (including dead ones waiting for their timeout). */
  get datagrams(): number {
    return this.#datagrams.size;
  }

  /**
   * Add the fragment decoded in `d` (kind K_IPV6_FRAGMENT; its headers at `mem[D_L3_OFF,
   * D_PAYLOAD_OFF)`, its data at `mem[D_PAYLOAD_OFF, +D_PAYLOAD_LEN)`). On "complete", call
   * takeInto() before the next add().
   */
  add(mem: Uint8Array, d: Int32Array, now: number): Frag6Result {
    const l3 = d[D_L3_OFF]!;
    const fh = d[D_IP6_FRAG_HDR]!;
    const dataOff = d[D_PAYLOAD_OFF]!;
    const dataLen = d[D_PAYLOAD_LEN]!;
    const fo = d[D_IP_FRAG]!;
    const start = fo & 0xfff8;
    const more = (fo & 1) !== 0;
    if (dataLen === 0) return "frag6-empty";
    const end = start + dataLen;
    let key = (d[D_IP_ID]! >>> 0).toString(16);
    for (let i = l3 + 8; i < l3 + 40; i++) key += HEX[mem[i]!];
    let g = this.#datagrams.get(key);
    if (g === undefined) {
      if (this.#datagrams.size >= this.#limits.fragDatagrams) return "frag6-too-many-datagrams";
      g = new Datagram6(key, now);
      this.#datagrams.set(key, g);
    }
    if (g.dead) return "frag6-dead";
    const r = g.ranges;
    for (let i = 0; i < r.length; i += 2) {
      const a = r[i]!, b = r[i + 1]!;
      if (a === start && b === end) return "frag6-duplicate";
      if (start < b && a < end) return this.#kill(g, "frag6-overlap");
    }
    // The last fragment fixes the length; a fragment past it or another last one is
    // inconsistent (RFC 5722: the datagram is discarded as for an overlap).
    if (!more) {
      if (g.total >= 0 && g.total !== end) return this.#kill(g, "frag6-overlap");
      for (let i = 1; i < r.length; i += 2) if (r[i]! > end) return this.#kill(g, "frag6-overlap");
      g.total = end;
    } else if (g.total >= 0 && end > g.total) {
      return this.#kill(g, "frag6-overlap");
    }
    // RFC 8200 4.5: the reassembled payload (unfragmentable headers + data) fits in 65535.
    const unfrag = start === 0 ? fh - l3 - 40 : g.head !== null ? g.head.length - 48 : 0;
    if (unfrag + Math.max(end, g.total) > MAX_PAYLOAD) return this.#kill(g, "frag6-too-long");
    if (r.length >= 2 * this.#limits.fragPerDatagram) return "frag6-too-many-fragments";
    // The first fragment's headers are kept too, and counted (up to 8 extension headers).
    const headLen = start === 0 ? dataOff - l3 : 0;
    if (headLen > 0 && this.#memory + headLen > this.#limits.fragMemory) {
      if (r.length === 0) this.#datagrams.delete(key);
      return "frag6-memory-full";
    }
    if (end > g.buf.length) {
      const cap = Math.min(MAX_PAYLOAD, Math.max(end, 2 * g.buf.length, 2048));
      if (this.#memory + headLen - g.buf.length + cap > this.#limits.fragMemory) {
        if (r.length === 0) this.#datagrams.delete(key);
        return "frag6-memory-full";
      }
      const grown = new Uint8Array(cap);
      grown.set(g.buf);
      this.#memory += cap - g.buf.length;
      g.buf = grown;
    }
    g.buf.set(mem.subarray(dataOff, dataOff + dataLen), start);
    r.push(start, end);
    g.held += dataLen;
    if (start === 0) {
      g.head = mem.slice(l3, dataOff);
      this.#memory += headLen;
      g.firstLen = dataLen;
      g.macHi = d[D_ETH_SRC_HI]!;
      g.macLo = d[D_ETH_SRC_LO]! >>> 0;
    }
    if (g.total >= 0 && g.held === g.total && g.head !== null) {
      this.#done = g;
      this.#remove(g);
      return "complete";
    }
    return "held";
  }

  /**
   * Write the datagram completed by the last add() into `out` at `off`: the first fragment's
   * IPv6 header and unfragmentable part, with the Payload Length set and the Next Header that
   * named the fragment header replaced by the fragment header's (RFC 8200 4.5), then the data.
   * Returns its length (0 when nothing is complete).
   */
  takeInto(out: Uint8Array, off: number): number {
    const g = this.#done;
    this.#done = null;
    if (g === null || g.head === null) return 0;
    const h = g.head;
    const ulen = h.length - 8; // without the fragment header
    out.set(h.subarray(0, ulen), off);
    // The Next Header byte that named the fragment header: walk the unfragmentable part
    // (hop-by-hop, destination options, routing; decode validated their lengths).
    let at = 6;
    for (let p = 40; p < ulen; p += (h[p + 1]! + 1) * 8) at = p;
    out[off + at] = h[ulen]!;
    const plen = ulen - 40 + g.total;
    out[off + 4] = plen >>> 8;
    out[off + 5] = plen & 0xff;
    out.set(g.buf.subarray(0, g.total), off + ulen);
    return ulen + g.total;
  }

  /**
   * Abandon datagrams older than frag6TimeoutMs (RFC 8200 4.5: 60 s after the first-arriving
   * fragment); `onExpire` sees each live one whose first fragment came, quoted in at most
   * `maxQuote` bytes. Returns how many live datagrams expired.
   */
  poll(now: number, onExpire?: (x: Expired6) => void, maxQuote = 1232): number {
    let expired = 0;
    for (const g of this.#datagrams.values()) {
      if (now - g.createdAt < this.#limits.frag6TimeoutMs) continue;
      this.#remove(g);
      if (g.dead) continue;
      expired++;
      if (onExpire === undefined || g.head === null) continue;
      const h = g.head.subarray(0, maxQuote);
      const n = Math.min(g.firstLen, maxQuote - h.length);
      const quote = new Uint8Array(h.length + n);
      quote.set(h);
      quote.set(g.buf.subarray(0, n), h.length);
      onExpire({ quote, macHi: g.macHi, macLo: g.macLo });
    }
    return expired;
  }

  /** The earliest timeout, or Infinity. */
  pollAt(): number {
    let due = Infinity;
    for (const g of this.#datagrams.values()) {
      due = Math.min(due, g.createdAt + this.#limits.frag6TimeoutMs);
    }
    return due;
  }

  /** Free a datagram's memory and mark it dead; it stays until its timeout (RFC 5722). */
  #kill(g: Datagram6, why: Frag6Result): Frag6Result {
    this.#memory -= g.buf.length + (g.head?.length ?? 0);
    g.buf = new Uint8Array(0);
    g.ranges.length = 0;
    g.head = null;
    g.dead = true;
    return why;
  }

  #remove(g: Datagram6): void {
    this.#memory -= g.buf.length + (g.head?.length ?? 0);
    this.#datagrams.delete(g.key);
  }
}
