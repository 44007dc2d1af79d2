/**
 * IPv4 fragment reassembly (RFC 791 section 3.2, RFC 1122 3.3.2, RFC 815 hole bookkeeping),
 * with bounded memory, a bounded number of datagrams and of fragments per datagram, and a
 * timeout. Overlapping fragments discard the whole datagram and every later fragment of it
 * until its timeout (RFC 5722 for IPv6, as Linux does for IPv4 since 4.19); an exact duplicate
 * of a held fragment is dropped alone. New fragments are refused, not older datagrams evicted,
 * when memory or the datagram count is exhausted (Linux inet_frag_find above high_thresh).
 *
 * Buffers are allocated per datagram (not on the per-packet hot path) and grow by doubling;
 * the memory bound counts their capacity.
 *
 * @module
 */

import type { Ipv4Header } from "../wire/ipv4_header.ts";
import type { IfaceLimits } from "./limits.ts";

/** What add() did with a fragment: held, completed, or a drop reason name. */
export type FragResult =
  | "held"
  | "complete"
  | "frag-bad-length"
  | "frag-too-long"
  | "frag-overlap"
  | "frag-duplicate"
  | "frag-dead"
  | "frag-too-many-fragments"
  | "frag-memory-full"
  | "frag-too-many-datagrams";

/** A datagram abandoned by the timeout, for the ICMP time-exceeded message. */
export interface ExpiredDatagram {
  /** The first fragment's IPv4 header, or null when fragment zero never arrived. */
  header: Uint8Array | null;
  /** Up to the first 8 bytes of the datagram's payload (RFC 792: quoted with the header). */
  data: Uint8Array;
}

class Datagram {
  buf: Uint8Array = new Uint8Array(0);
  /** Held fragments as [start, end) pairs in arrival order. */
  ranges: number[] = [];
  held = 0;
  total = -1;
  header: Uint8Array | null = null;
  dead = false;
  constructor(readonly key: string, readonly createdAt: number) {}
}

const MAX_DATAGRAM = 65535;

/** The reassembly buffer of one interface. */
export class Reassembler {
  #limits: IfaceLimits;
  #datagrams = new Map<string, Datagram>();
  #memory = 0;
  #done: Datagram | null = null;

  /** A reassembler bounded by `limits`. */
  constructor(limits: IfaceLimits) {
    this.#limits = limits;
  }

  /** Bytes of buffer held. */
  get memory(): number {
    return this.#memory;
  }

  /** Datagrams in progress (including dead ones waiting for their timeout). */
  get datagrams(): number {
    return this.#datagrams.size;
  }

  /**
   * Add one fragment: `ip` is its decoded header (lying at `mem[ip.headerOff, +headerLen)`,
   * its data at `mem[ip.payloadOff, +payloadLen)`). On "complete", call takeInto() before the
   * next add().
   */
  add(mem: Uint8Array, ip: Readonly<Ipv4Header>, now: number): FragResult {
    const { headerOff: ipOff, headerLen: hlen, payloadOff: dataOff, payloadLen: dataLen } = ip;
    const { src, dst, proto, id, frag } = ip;
    const start = (frag & 0x1fff) * 8;
    const more = (frag & 0x2000) !== 0;
    // RFC 791: every fragment but the last carries a multiple of 8 bytes.
    if (dataLen === 0 || (more && (dataLen & 7) !== 0)) return "frag-bad-length";
    const end = start + dataLen;
    if (hlen + end > MAX_DATAGRAM) return "frag-too-long";
    const key = `${src >>> 0}/${dst >>> 0}/${proto}/${id}`;
    let d = this.#datagrams.get(key);
    if (d === undefined) {
      if (this.#datagrams.size >= this.#limits.fragDatagrams) return "frag-too-many-datagrams";
      d = new Datagram(key, now);
      this.#datagrams.set(key, d);
    }
    if (d.dead) return "frag-dead";
    const r = d.ranges;
    for (let i = 0; i < r.length; i += 2) {
      const a = r[i]!, b = r[i + 1]!;
      if (a === start && b === end) return "frag-duplicate";
      if (start < b && a < end) return this.#kill(d);
    }
    // The last fragment fixes the total length; anything beyond it is inconsistent.
    if (!more) {
      if (d.total >= 0 && d.total !== end) return this.#kill(d);
      for (let i = 1; i < r.length; i += 2) if (r[i]! > end) return this.#kill(d);
      d.total = end;
    } else if (d.total >= 0 && end > d.total) {
      return this.#kill(d);
    }
    if (r.length >= 2 * this.#limits.fragPerDatagram) return "frag-too-many-fragments";
    if (end > d.buf.length) {
      const cap = Math.min(MAX_DATAGRAM, Math.max(end, 2 * d.buf.length, 2048));
      if (this.#memory - d.buf.length + cap > this.#limits.fragMemory) {
        if (d.ranges.length === 0) this.#datagrams.delete(key);
        return "frag-memory-full";
      }
      const grown = new Uint8Array(cap);
      grown.set(d.buf);
      this.#memory += cap - d.buf.length;
      d.buf = grown;
    }
    d.buf.set(mem.subarray(dataOff, dataOff + dataLen), start);
    r.push(start, end);
    d.held += dataLen;
    if (start === 0) d.header = mem.slice(ipOff, ipOff + hlen);
    if (d.total >= 0 && d.held === d.total && d.header !== null) {
      this.#done = d;
      this.#remove(d);
      return "complete";
    }
    return "held";
  }

  /**
   * Write the datagram completed by the last add() into `out` at `off`: the first fragment's
   * header with the total length set, the fragment field cleared and the checksum recomputed,
   * then the data. Returns its length (0 when nothing is complete).
   */
  takeInto(out: Uint8Array, off: number): number {
    const d = this.#done;
    this.#done = null;
    if (d === null || d.header === null) return 0;
    const h = d.header;
    const hlen = h.length;
    const len = hlen + d.total;
    out.set(h, off);
    out[off + 2] = len >>> 8;
    out[off + 3] = len & 0xff;
    out[off + 6] = 0;
    out[off + 7] = 0;
    out[off + 10] = 0;
    out[off + 11] = 0;
    let sum = 0;
    for (let i = 0; i < hlen; i += 2) sum += (out[off + i]! << 8) | out[off + i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const ck = ~sum & 0xffff;
    out[off + 10] = ck >>> 8;
    out[off + 11] = ck & 0xff;
    out.set(d.buf.subarray(0, d.total), off + hlen);
    return len;
  }

  /** Abandon datagrams older than fragTimeoutMs; `onExpire` sees each live one. */
  poll(now: number, onExpire?: (d: ExpiredDatagram) => void): number {
    let expired = 0;
    for (const d of this.#datagrams.values()) {
      if (now - d.createdAt < this.#limits.fragTimeoutMs) continue;
      this.#remove(d);
      if (d.dead) continue;
      expired++;
      if (onExpire !== undefined) {
        const first = d.ranges.findIndex((v, i) => i % 2 === 0 && v === 0);
        const n = first < 0 ? 0 : Math.min(8, d.ranges[first + 1]!);
        onExpire({ header: d.header, data: d.buf.slice(0, n) });
      }
    }
    return expired;
  }

  /** The earliest timeout, or Infinity. */
  pollAt(): number {
    let due = Infinity;
    for (const d of this.#datagrams.values()) {
      due = Math.min(due, d.createdAt + this.#limits.fragTimeoutMs);
    }
    return due;
  }

  /** Free a datagram's memory and mark it dead; it stays until its timeout. */
  #kill(d: Datagram): FragResult {
    this.#memory -= d.buf.length;
    d.buf = new Uint8Array(0);
    d.ranges.length = 0;
    d.header = null;
    d.dead = true;
    return "frag-overlap";
  }

  #remove(d: Datagram): void {
    this.#memory -= d.buf.length;
    this.#datagrams.delete(d.key);
  }
}
