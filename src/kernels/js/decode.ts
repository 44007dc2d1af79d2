/**
 * Whole-frame decode in plain TypeScript. PLACEHOLDER: the foundation issue fills it in.
 *
 * @module
 */

/** Decode the Ethernet frame at mem[off, off+len) into `desc`; returns the verdict. */
export function jsDecode(_mem: Uint8Array, _off: number, _len: number, _desc: Int32Array): number {
  throw new Error("jsDecode not built yet");
}

/** Decode the IPv4 datagram at mem[off, off+len) into `desc`; returns the verdict. */
export function jsDecodeIpv4(
  _mem: Uint8Array,
  _off: number,
  _len: number,
  _desc: Int32Array,
): number {
  throw new Error("jsDecodeIpv4 not built yet");
}
