/**
 * Internet checksum (RFC 1071) in plain TypeScript. PLACEHOLDER: the foundation issue fills it in.
 *
 * @module
 */

/** Checksum of mem[off, off+len) plus `initial`; returns the complemented 16-bit value. */
export function jsChecksum(_mem: Uint8Array, _off: number, _len: number, _initial: number): number {
  throw new Error("jsChecksum not built yet");
}
