/**
 * IPv4 fragment reassembly (RFC 791 section 3.2, RFC 1122 3.3.2), on the shared core of
 * reassembly.ts (RFC 815 hole bookkeeping, bounded memory, datagrams and fragments per
 * datagram, a timeout of `fragTimeoutMs`). Overlapping fragments discard the whole datagram
 * and every later fragment of it until its timeout (RFC 5722 for IPv6, as Linux does for IPv4
 * since 4.19); an exact duplicate of a held fragment is dropped alone. New fragments are
 * refused, not older datagrams evicted, when memory or the datagram count is exhausted (Linux
 * inet_frag_find above high_thresh).
 *
 * The first fragment's header is kept (not counted in `fragMemory`) to rebuild the datagram
 * and to quote it in the Time Exceeded message.
 *
 * @module
 */

import type { Ipv4Header } from "../wire/ipv4_header.ts";
import type { IfaceLimits } from "./limits.ts";
import { PendingDatagram, ReassemblerBase, ReassemblyTable } from "./reassembly.ts";

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

/** The drop names of the core's verdicts. */
const DROP = {
  dead: "frag-dead",
  duplicate: "frag-duplicate",
  overlap: "frag-overlap",
  "too-many-fragments": "frag-too-many-fragments",
  "memory-full": "frag-memory-full",
} as const;

/** RFC 791: the total length field bounds the datagram. */
const MAX_DATAGRAM = 65535;

/** The reassembly buffer of one interface. */
export class Reassembler extends ReassemblerBase<PendingDatagram> {
  /** A reassembler bounded by `limits`. */
  constructor(limits: IfaceLimits) {
    super(
      new ReassemblyTable(
        limits,
        (l) => l.fragTimeoutMs,
        (key, now) => new PendingDatagram(key, now),
      ),
    );
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
    // RFC 791 3.2: a datagram is identified by source, destination, protocol and identification.
    const t = this.table;
    const d = t.open(`${src >>> 0}/${dst >>> 0}/${proto}/${id}`, now);
    if (d === null) return "frag-too-many-datagrams";
    const fit = t.fit(d, start, end, more);
    if (fit !== "ok") return DROP[fit];
    const stored = t.store(d, mem, dataOff, start, end, 0);
    if (stored !== "ok") return DROP[stored];
    if (start === 0) d.head = mem.slice(ipOff, ipOff + hlen);
    return t.finish(d) ? "complete" : "held";
  }

  /**
   * Write the datagram completed by the last add() into `out` at `off`: the first fragment's
   * header with the total length set, the fragment field cleared and the checksum recomputed,
   * then the data. Returns its length (0 when nothing is complete).
   */
  takeInto(out: Uint8Array, off: number): number {
    const d = this.table.take();
    if (d === null || d.head === null) return 0;
    const h = d.head;
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
    if (onExpire === undefined) return this.table.expire(now);
    return this.table.expire(now, (d) => {
      const first = d.ranges.findIndex((v, i) => i % 2 === 0 && v === 0);
      const n = first < 0 ? 0 : Math.min(8, d.ranges[first + 1]!);
      onExpire({ header: d.head, data: d.buf.slice(0, n) });
    });
  }
}
