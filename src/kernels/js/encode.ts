/**
 * Whole-frame encode in plain TypeScript. PLACEHOLDER: the foundation issue fills it in.
 *
 * @module
 */

/** Build the headers described by `desc` in front of the payload; returns the frame start. */
export function jsEncode(
  _mem: Uint8Array,
  _desc: Int32Array,
  _payloadOff: number,
  _payloadLen: number,
): number {
  throw new Error("jsEncode not built yet");
}
