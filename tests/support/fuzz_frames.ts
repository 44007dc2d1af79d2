/**
 * Frame mutation for the whole-stack fuzz harness: checksum repair (IPv4 header,
 * TCP, UDP and ICMP, RFC 1071 with the RFC 768/9293 pseudo-header) so that a mutation reaches
 * the deep parsers, and a mutator that applies one hostile change to a real frame: bit flips,
 * random bytes, truncation, extension, field swaps, TCP option bytes, lengths and offsets set to
 * boundary values, flag combinations. Everything here is plain TypeScript, independent of the
 * engines under test.
 *
 * @module
 */

import type { Rng } from "./rng.ts";

/** Where the layers of an Ethernet frame start, as far as its bytes tell. */
export interface FrameLayout {
  /** Offset of the IPv4 (or ARP) header, after Ethernet and an optional 802.1Q tag. */
  l3: number;
  /** EtherType after any tag. */
  ethertype: number;
  /** IPv4 header length in bytes (0 when not IPv4). */
  ihl: number;
  /** Offset of the L4 header (0 when not IPv4). */
  l4: number;
  /** IPv4 protocol (-1 when not IPv4). */
  proto: number;
  /** True when the datagram is a fragment (MF or offset). */
  fragment: boolean;
}

/** Read the layer offsets of `f` (tolerating any garbage). */
export function layoutOf(f: Uint8Array): FrameLayout {
  let l3 = 14;
  let ethertype = f.length >= 14 ? (f[12]! << 8) | f[13]! : -1;
  if (ethertype === 0x8100 && f.length >= 18) {
    ethertype = (f[16]! << 8) | f[17]!;
    l3 = 18;
  }
  const out = { l3, ethertype, ihl: 0, l4: 0, proto: -1, fragment: false };
  if (ethertype !== 0x0800 || f.length < l3 + 20) return out;
  out.ihl = (f[l3]! & 15) * 4;
  out.l4 = l3 + out.ihl;
  out.proto = f[l3 + 9]!;
  out.fragment = (((f[l3 + 6]! << 8) | f[l3 + 7]!) & 0x3fff) !== 0;
  return out;
}

function sum16(f: Uint8Array, off: number, end: number, init: number): number {
  let s = init;
  let i = off;
  for (; i + 1 < end; i += 2) s += (f[i]! << 8) | f[i + 1]!;
  if (i < end) s += f[i]! << 8;
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return ~s & 0xffff;
}

function put16(f: Uint8Array, off: number, v: number): void {
  if (off + 1 >= f.length) return;
  f[off] = (v >>> 8) & 0xff;
  f[off + 1] = v & 0xff;
}

/**
 * Recompute the IPv4 header checksum and, for an unfragmented TCP, UDP or ICMP datagram that
 * fits in the frame, the L4 checksum, in place. Garbage headers are left as they are where the
 * lengths do not allow a checksum.
 */
export function repairChecksums(f: Uint8Array): void {
  const l = layoutOf(f);
  if (l.ethertype !== 0x0800 || l.ihl < 20 || l.l3 + l.ihl > f.length) return;
  put16(f, l.l3 + 10, 0);
  put16(f, l.l3 + 10, fold(sum16(f, l.l3, l.l3 + l.ihl, 0)));
  if (l.fragment) return;
  const totlen = (f[l.l3 + 2]! << 8) | f[l.l3 + 3]!;
  const end = l.l3 + totlen;
  if (totlen < l.ihl || end > f.length) return;
  const len = totlen - l.ihl;
  const ck = l.proto === 6 ? 16 : l.proto === 17 ? 6 : l.proto === 1 ? 2 : -1;
  if (ck < 0 || len < ck + 2) return;
  put16(f, l.l4 + ck, 0);
  let init = 0;
  if (l.proto !== 1) {
    init = sum16(f, l.l3 + 12, l.l3 + 20, l.proto + len);
  }
  let c = fold(sum16(f, l.l4, end, init));
  if (l.proto === 17 && c === 0) c = 0xffff; // RFC 768: zero means "no checksum"
  put16(f, l.l4 + ck, c);
}

/** The names of the mutation operators, for histograms and failure messages. */
export const MUTATIONS = [
  "bit-flips",
  "random-bytes",
  "truncate",
  "extend",
  "swap-fields",
  "tcp-options",
  "boundary-field",
  "tcp-flags",
  "random-frame",
] as const;

/** One mutation operator's name. */
export type MutationName = typeof MUTATIONS[number];

const BOUNDARY16 = [0, 1, 2, 7, 8, 19, 20, 21, 40, 59, 60, 576, 1499, 1500, 1501, 0x7fff, 0xfffe];

function boundary16(rng: Rng, frameLen: number, fieldBase: number): number {
  if (rng.chance(0.3)) {
    const around = frameLen - fieldBase + rng.int(5) - 2;
    return around & 0xffff;
  }
  return rng.chance(0.1) ? 0xffff : rng.pick(BOUNDARY16);
}

/** Options bytes that stress the parsers: every kind with good and bad lengths. */
const OPTION_SNIPPETS: readonly number[][] = [
  [0],
  [1],
  [2, 4, 0, 0],
  [2, 4, 0xff, 0xff],
  [2, 3, 5],
  [3, 3, 14],
  [3, 3, 15],
  [3, 3, 255],
  [3, 2],
  [4, 2],
  [4, 3, 0],
  [5, 10, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
  [5, 2],
  [5, 34],
  [5, 9, 1, 2, 3, 4, 5, 6, 7],
  [8, 10, 0, 0, 0, 1, 0, 0, 0, 0],
  [8, 9],
  [8, 255],
  [0xfe, 0],
  [0xfe, 1],
  [0xfe, 40],
  [0x1c, 4, 0, 0],
];

/**
 * Apply one mutation to a copy of `src` and return it with the operator's name. With
 * probability `repair` the checksums are recomputed afterwards so the damage reaches the parsers
 * behind them.
 */
export function mutate(
  rng: Rng,
  src: Uint8Array,
  repair = 0.7,
): { frame: Uint8Array; op: MutationName } {
  const op = rng.pick(MUTATIONS);
  let f: Uint8Array = src.slice();
  const l = layoutOf(f);
  switch (op) {
    case "bit-flips": {
      const n = 1 + rng.int(8);
      for (let i = 0; i < n && f.length > 0; i++) {
        const at = rng.chance(0.7) && f.length > l.l3 ? l.l3 + rng.int(f.length - l.l3) : rng.int(
          f.length,
        );
        f[at]! ^= 1 << rng.int(8);
      }
      break;
    }
    case "random-bytes": {
      const n = 1 + rng.int(6);
      for (let i = 0; i < n && f.length > 0; i++) f[rng.int(f.length)] = rng.int(256);
      break;
    }
    case "truncate": {
      const cuts = [13, 14, 17, l.l3 + 19, l.l3 + 20, l.l4 + 7, l.l4 + 8, l.l4 + 19, l.l4 + 20];
      const cut = rng.chance(0.5) ? rng.pick(cuts) : rng.int(f.length + 1);
      f = f.slice(0, Math.max(0, Math.min(cut, f.length)));
      break;
    }
    case "extend": {
      const n = rng.chance(0.1) ? 1 + rng.int(66000) : 1 + rng.int(64);
      const g = new Uint8Array(f.length + n);
      g.set(f);
      for (let i = f.length; i < g.length; i++) g[i] = rng.chance(0.5) ? 0 : rng.int(256);
      f = g;
      break;
    }
    case "swap-fields": {
      // Swap two aligned words of the same size: ports, addresses, seq/ack, MACs.
      const size = rng.pick([2, 4, 6]);
      const a = rng.int(Math.max(1, Math.floor(f.length / size))) * size;
      const b = rng.int(Math.max(1, Math.floor(f.length / size))) * size;
      for (let i = 0; i < size && a + i < f.length && b + i < f.length; i++) {
        const t = f[a + i]!;
        f[a + i] = f[b + i]!;
        f[b + i] = t;
      }
      break;
    }
    case "tcp-options": {
      if (l.proto !== 6 || f.length < l.l4 + 20) break;
      const doff = (f[l.l4 + 12]! >>> 4) * 4;
      const optEnd = Math.min(f.length, l.l4 + Math.max(doff, 20));
      let at = l.l4 + 20;
      if (optEnd <= at) {
        // No options: grow the data offset over the payload so the option parser runs.
        f[l.l4 + 12] = (f[l.l4 + 12]! & 0x0f) | ((5 + 1 + rng.int(10)) << 4);
      }
      const limit = Math.min(f.length, l.l4 + 60);
      const n = 1 + rng.int(3);
      for (let k = 0; k < n && at < limit; k++) {
        at = l.l4 + 20 + rng.int(Math.max(1, limit - l.l4 - 20));
        for (const b of rng.pick(OPTION_SNIPPETS)) {
          if (at >= limit) break;
          f[at++] = b;
        }
      }
      break;
    }
    case "boundary-field": {
      const fields: Array<[number, number]> = [[l.l3 + 2, l.l3], [l.l3 + 6, 0], [
        l.l4 + 4,
        l.l4,
      ]];
      if (l.proto === 6) fields.push([l.l4 + 14, 0], [l.l4 + 18, 0], [l.l4 + 4, 0], [l.l4 + 8, 0]);
      if (l.proto === 17) fields.push([l.l4 + 4, l.l4]);
      const pickOne = rng.int(fields.length + 3);
      if (pickOne === fields.length && f.length > l.l3) {
        f[l.l3] = (rng.pick([4, 4, 4, 5, 6, 0, 15]) << 4) | rng.pick([0, 1, 4, 5, 6, 15]); // IHL
      } else if (pickOne === fields.length + 1 && l.proto === 6 && f.length > l.l4 + 12) {
        f[l.l4 + 12] = rng.pick([0, 1, 4, 5, 6, 15]) << 4; // TCP data offset
      } else if (pickOne === fields.length + 2 && f.length > l.l3 + 7) {
        put16(f, l.l3 + 6, rng.pick([0x2000, 0x4000, 0x1fff, 0x2001, 0x3fff, 0x0001, 0x8000]));
      } else if (pickOne < fields.length) {
        const [off, base] = fields[pickOne]!;
        put16(f, off, boundary16(rng, f.length, base));
      }
      break;
    }
    case "tcp-flags": {
      if (l.proto !== 6 || f.length < l.l4 + 14) break;
      f[l.l4 + 13] = rng.pick([
        0,
        0x01,
        0x02,
        0x03,
        0x04,
        0x06,
        0x05,
        0x07,
        0x14,
        0x12,
        0x29,
        0xff,
      ]);
      break;
    }
    case "random-frame": {
      const len = rng.int(rng.chance(0.2) ? 100 : 1600);
      const g = new Uint8Array(len);
      for (let i = 0; i < len; i++) g[i] = rng.int(256);
      // Keep our Ethernet header and an IPv4 EtherType most of the time so the bytes go deep.
      if (rng.chance(0.7)) g.set(src.subarray(0, Math.min(len, rng.chance(0.5) ? 14 : 34)));
      f = g;
      break;
    }
  }
  if (rng.chance(repair)) repairChecksums(f);
  return { frame: f, op };
}

/** `bytes` as hex, 32 bytes a line, for failure messages. */
export function hex(bytes: Uint8Array, max = 2048): string {
  const parts: string[] = [];
  for (let i = 0; i < Math.min(bytes.length, max); i += 32) {
    parts.push(
      Array.from(
        bytes.subarray(i, Math.min(i + 32, bytes.length, max)),
        (b) => b.toString(16).padStart(2, "0"),
      ).join(""),
    );
  }
  return parts.join("\n") + (bytes.length > max ? `\n... (${bytes.length} bytes)` : "");
}
