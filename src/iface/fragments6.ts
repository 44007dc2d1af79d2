/**
 * IPv6 fragment reassembly (RFC 8200 section 4.5), on the reassembly core shared with IPv4
 * (reassembly.ts), with the bounds of the IPv4 reassembler (fragments.ts): `fragMemory` bytes
 * of buffer, `fragDatagrams` datagrams and `fragPerDatagram` fragments per datagram (the kept
 * headers of first fragments count in `fragMemory` too), each family in its own buffer (as
 * Linux keeps ip6frag_* apart from ipfrag_*), and a timeout of `frag6TimeoutMs` (60 s, 4.5).
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
import { PendingDatagram, ReassemblerBase, ReassemblyTable } from "./reassembly.ts";

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

/**
 * A datagram in progress; `head` holds the first fragment's headers (IPv6 header,
 * unfragmentable part, fragment header), counted in `fragMemory`.
 */
class Datagram6 extends PendingDatagram {
  /** The data length of the first fragment (quoted in Time Exceeded). */
  firstLen = 0;
  /** The Ethernet source of the first fragment (the Time Exceeded goes there). */
  macHi = 0;
  macLo = 0;
}

/** The drop names of the core's verdicts. */
const DROP = {
  dead: "frag6-dead",
  duplicate: "frag6-duplicate",
  overlap: "frag6-overlap",
  "too-many-fragments": "frag6-too-many-fragments",
  "memory-full": "frag6-memory-full",
} as const;

/** RFC 8200 4.5: the reassembled Payload Length bound. */
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
export class Reassembler6 extends ReassemblerBase<Datagram6> {
  /** A reassembler bounded by `limits`. */
  constructor(limits: IfaceLimits) {
    super(
      new ReassemblyTable(limits, (l) => l.frag6TimeoutMs, (key, now) => new Datagram6(key, now)),
    );
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
    // RFC 8200 4.5: a datagram is identified by source, destination and identification.
    let key = (d[D_IP_ID]! >>> 0).toString(16);
    for (let i = l3 + 8; i < l3 + 40; i++) key += HEX[mem[i]!];
    const t = this.table;
    const g = t.open(key, now);
    if (g === null) return "frag6-too-many-datagrams";
    // An overlap, a fragment past the last one or another last one is inconsistent (RFC 5722:
    // the datagram is discarded).
    const fit = t.fit(g, start, end, more);
    if (fit !== "ok") return DROP[fit];
    // RFC 8200 4.5: the reassembled payload (unfragmentable headers + data) fits in 65535.
    const unfrag = start === 0 ? fh - l3 - 40 : g.head !== null ? g.head.length - 48 : 0;
    if (unfrag + Math.max(end, g.total) > MAX_PAYLOAD) {
      t.kill(g);
      return "frag6-too-long";
    }
    // The first fragment's headers are kept too, and counted (up to 8 extension headers).
    const stored = t.store(g, mem, dataOff, start, end, start === 0 ? dataOff - l3 : 0);
    if (stored !== "ok") return DROP[stored];
    if (start === 0) {
      g.head = mem.slice(l3, dataOff);
      g.firstLen = dataLen;
      g.macHi = d[D_ETH_SRC_HI]!;
      g.macLo = d[D_ETH_SRC_LO]! >>> 0;
    }
    return t.finish(g) ? "complete" : "held";
  }

  /**
   * Write the datagram completed by the last add() into `out` at `off`: the first fragment's
   * IPv6 header and unfragmentable part, with the Payload Length set and the Next Header that
   * named the fragment header replaced by the fragment header's (RFC 8200 4.5), then the data.
   * Returns its length (0 when nothing is complete).
   */
  takeInto(out: Uint8Array, off: number): number {
    const g = this.table.take();
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
    if (onExpire === undefined) return this.table.expire(now);
    return this.table.expire(now, (g) => {
      if (g.head === null) return;
      const h = g.head.subarray(0, maxQuote);
      const n = Math.min(g.firstLen, maxQuote - h.length);
      const quote = new Uint8Array(h.length + n);
      quote.set(h);
      quote.set(g.buf.subarray(0, n), h.length);
      onExpire({ quote, macHi: g.macHi, macLo: g.macLo });
    });
  }
}
