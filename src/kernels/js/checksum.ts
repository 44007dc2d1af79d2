/**
 * Internet checksum (RFC 1071) in plain TypeScript: the JS engine's baseline.
 *
 * The bulk of the data is summed as aligned 32-bit little-endian words read through a
 * `Uint32Array` over the same buffer, accumulated in a double (exact below 2^53) and folded
 * once at the end (32-bit words fold like 16-bit ones, since 2^16 = 1 mod 0xffff). Summing little-endian words
 * gives the byte-swapped ones'-complement sum (RFC 1071 section 2 (B), byte order
 * independence); bytes are paired by their absolute address, so the result is swapped back
 * only when `off` is even (for an odd `off` the absolute pairing is already the data's
 * big-endian pairing rotated by a whole byte). Assumes a little-endian host, as every
 * platform Deno runs on is.
 *
 * @module
 */

let cachedBuffer: ArrayBufferLike | null = null;
let cachedWords: Uint32Array = new Uint32Array(0);

/** A Uint32Array over the whole buffer of `mem`, cached so that no call allocates. */
function wordsOf(mem: Uint8Array): Uint32Array {
  const buf = mem.buffer;
  if (buf !== cachedBuffer) {
    cachedBuffer = buf;
    cachedWords = new Uint32Array(buf, 0, buf.byteLength >>> 2);
  }
  return cachedWords;
}

/**
 * The unfolded ones'-complement sum of `mem[off, off+len)` with 16-bit words paired by
 * absolute address parity in little-endian order (see the module note). Below 2^53.
 */
function sumLe(mem: Uint8Array, off: number, len: number): number {
  const base = mem.byteOffset;
  let a = base + off; // absolute address in the buffer
  const end = a + len;
  let lo = 0;
  // Leading bytes up to a 4-byte boundary: a byte at an odd address is a high byte.
  while ((a & 3) !== 0 && a < end) {
    const b = mem[a - base]!;
    lo += (a & 1) !== 0 ? b << 8 : b;
    a++;
  }
  const words = wordsOf(mem);
  let i = a >>> 2;
  const wEnd = end >>> 2;
  // Aligned words, eight per iteration, summed whole in a double: below 2^53 for any buffer
  // under 8 PiB, and V8 keeps the loads unboxed. Folding happens once at the end.
  let s = 0;
  const wEnd8 = wEnd - ((wEnd - i) & 7);
  while (i < wEnd8) {
    s += words[i]! + words[i + 1]! + words[i + 2]! + words[i + 3]! + words[i + 4]! +
      words[i + 5]! + words[i + 6]! + words[i + 7]!;
    i += 8;
  }
  while (i < wEnd) s += words[i++]!;
  a = i << 2 > a ? i << 2 : a;
  // Trailing bytes.
  while (a < end) {
    const b = mem[a - base]!;
    lo += (a & 1) !== 0 ? b << 8 : b;
    a++;
  }
  return lo + s;
}

/**
 * Throw a RangeError unless `[off, off+len)` lies inside `mem`: a caller's mistake, unlike
 * malformed bytes, which are never an exception.
 *
 * @example
 * ```ts
 * import { checkWireSpan } from "./checksum.ts";
 * checkWireSpan(new Uint8Array(10), 2, 8); // fine
 * ```
 */
export function checkWireSpan(mem: Uint8Array, off: number, len: number): void {
  if (!(off >= 0 && len >= 0 && off + len <= mem.length)) {
    throw new RangeError(
      `Cannot use bytes [${off}, ${off + len}): packet memory holds ${mem.length} bytes`,
    );
  }
}

/** Below this many bytes, headers mostly, 16-bit big-endian reads beat the word path. */
const SHORT = 64;

/** The unfolded sum of the big-endian 16-bit words of a short run (below 2^22). */
function sumShort(mem: Uint8Array, off: number, len: number): number {
  let s = 0;
  let i = off;
  const end = off + len - 1;
  for (; i < end; i += 2) s += (mem[i]! << 8) | mem[i + 1]!;
  if (i === end) s += mem[i]! << 8;
  return s;
}

/**
 * Internet checksum (RFC 1071) of `mem[off, off+len)` plus `initial` (an unfolded partial
 * sum such as `pseudoHeaderSum`, below 2^32). Odd lengths are padded with a zero byte.
 * Returns the complement of the folded sum (0 when verifying data that holds its checksum).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsChecksum } from "./checksum.ts";
 * // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
 * const data = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
 * assert(jsChecksum(data, 0, 8, 0) === (~0xddf2 & 0xffff));
 * ```
 */
export function jsChecksum(mem: Uint8Array, off: number, len: number, initial: number): number {
  checkWireSpan(mem, off, len);
  let s: number;
  if (len < SHORT) {
    s = sumShort(mem, off, len);
  } else {
    s = sumLe(mem, off, len);
    while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
    if (((mem.byteOffset + off) & 1) === 0) s = ((s & 0xff) << 8) | (s >>> 8);
  }
  s += initial >>> 0;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}
