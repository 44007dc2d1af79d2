/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 section 3.4). Every comparison of
 * sequence numbers in the project goes through this module; never use `<` on raw values.
 *
 * @module
 */

/** a + n modulo 2^32, as a u32 number. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** The signed distance b - a in (-2^31, 2^31]. */
export function seqDiff(b: number, a: number): number {
  return (b - a) | 0;
}

/** a < b modulo 2^32. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** a <= b modulo 2^32. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** a > b modulo 2^32. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** a >= b modulo 2^32. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** start <= x < start + len (modulo 2^32); false when len is 0. */
export function seqInWindow(x: number, start: number, len: number): boolean {
  return ((x - start) >>> 0) < len;
}

/** The larger of a and b modulo 2^32. */
export function seqMax(a: number, b: number): number {
  return seqLt(a, b) ? b >>> 0 : a >>> 0;
}

/** The smaller of a and b modulo 2^32. */
export function seqMin(a: number, b: number): number {
  return seqLt(a, b) ? a >>> 0 : b >>> 0;
}
