/**
 * IPv6 address text (RFC 4291 section 2.2) to 16 bytes and back in the canonical form of
 * RFC 5952 section 4 (lower case, leading zeros dropped, the longest run of two or more zero
 * groups, the first of equals, as "::"; an IPv4-mapped address with a dotted quad tail).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatIpv6, parseIpv6 } from "./ipv6_address.ts";
 * const a = parseIpv6("FD00:0:0:0::0002")!;
 * assert.equal(a[15], 2);
 * assert.equal(formatIpv6(a), "fd00::2");
 * assert.equal(parseIpv6("1::2::3"), null);
 * ```
 *
 * @module
 */

const HEX = /^[0-9a-fA-F]{1,4}$/;
const QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The groups of one side of "::" (an IPv4 tail is two groups), or null when malformed. */
function groups(text: string, tailAllowed: boolean): number[] | null {
  if (text === "") return [];
  const parts = text.split(":");
  const out: number[] = [];
  for (const [i, p] of parts.entries()) {
    if (tailAllowed && i === parts.length - 1 && p.includes(".")) {
      if (!QUAD.test(p)) return null;
      const q = p.split(".").map(Number);
      out.push((q[0]! << 8) | q[1]!, (q[2]! << 8) | q[3]!);
    } else if (HEX.test(p)) {
      out.push(parseInt(p, 16));
    } else {
      return null;
    }
  }
  return out;
}

/**
 * Parse IPv6 address text (no zone, no brackets, no prefix length) into 16 bytes, or null
 * when it is not an IPv6 address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIpv6 } from "./ipv6_address.ts";
 * assert.deepEqual(Array.from(parseIpv6("::1")!), [...new Array(15).fill(0), 1]);
 * assert.equal(parseIpv6("10.0.0.1"), null);
 * ```
 */
export function parseIpv6(text: string): Uint8Array | null {
  if (text.length > 45 || !text.includes(":")) return null;
  const halves = text.split("::");
  let words: number[];
  if (halves.length === 1) {
    const g = groups(text, true);
    if (g === null || g.length !== 8) return null;
    words = g;
  } else if (halves.length === 2) {
    const a = groups(halves[0]!, false);
    const b = groups(halves[1]!, true);
    if (a === null || b === null || a.length + b.length > 7) return null;
    words = [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
  } else {
    return null;
  }
  const out = new Uint8Array(16);
  for (const [i, w] of words.entries()) {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  }
  return out;
}

/**
 * Format 16 address bytes (from `off`) as RFC 5952 text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatIpv6 } from "./ipv6_address.ts";
 * const b = new Uint8Array(16);
 * b[0] = 0xfe;
 * b[1] = 0x80;
 * b[15] = 1;
 * assert.equal(formatIpv6(b), "fe80::1");
 * ```
 */
export function formatIpv6(bytes: Uint8Array, off = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((bytes[off + 2 * i]! << 8) | bytes[off + 2 * i + 1]!);
  // IPv4-mapped (RFC 5952 section 5): ::ffff:a.b.c.d
  if (w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff) {
    return `::ffff:${w[6]! >> 8}.${w[6]! & 0xff}.${w[7]! >> 8}.${w[7]! & 0xff}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = w.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}
