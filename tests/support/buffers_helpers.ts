/**
 * Helpers for the stream-buffer tests: the engines under test and a deterministic byte pattern
 * so that any byte's expected value follows from its sequence number.
 *
 * @module
 */
import type { Engine } from "../../src/kernels/engine.ts";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { createWasmEngine } from "../../src/kernels/wasm_engine.ts";
import { RX_OFF } from "../../src/wire/layout.ts";

/** Both engines, by name. */
export const ENGINES: ReadonlyArray<readonly [string, () => Engine]> = [
  ["js", createJsEngine],
  ["wasm", createWasmEngine],
];

/** The stream byte carried by sequence number `seq` (salted so streams differ). */
export function patternByte(seq: number, salt = 0): number {
  const s = (seq + salt) >>> 0;
  return (s ^ (s >>> 8) ^ (s >>> 16) ^ 0x5a) & 0xff;
}

/** `len` pattern bytes from `seq` on. */
export function pattern(seq: number, len: number, salt = 0): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = patternByte(seq + i, salt);
  return out;
}

/** Put `bytes` in packet memory at RX_OFF and insert them at `seq`; returns rcvInsert's result. */
export function insertBytes(e: Engine, h: number, seq: number, bytes: Uint8Array): number {
  e.mem.set(bytes, RX_OFF);
  return e.rcvInsert(h, seq >>> 0, RX_OFF, bytes.length);
}

/** Insert pattern bytes [seq, seq+len). */
export function insertPattern(e: Engine, h: number, seq: number, len: number, salt = 0): number {
  return insertBytes(e, h, seq, pattern(seq, len, salt));
}

/** Read everything readable. */
export function readAll(e: Engine, h: number): Uint8Array {
  const out = new Uint8Array(e.rcvReadable(h));
  const n = e.rcvRead(h, out);
  return out.subarray(0, n);
}

/** The SACK blocks as [left, right] pairs. */
export function sackList(e: Engine, h: number, max = 4): Array<[number, number]> {
  const out = new Uint32Array(8);
  const n = e.rcvSack(h, out, max);
  const list: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) list.push([out[2 * i]!, out[2 * i + 1]!]);
  return list;
}
