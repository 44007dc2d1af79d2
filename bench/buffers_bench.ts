/**
 * Stream-buffer benchmarks, JS engine (baseline) against WASM engine.
 *
 *   deno bench -A bench/buffers_bench.ts
 *
 * Each iteration moves SEGMENTS segments of 1460 bytes (186,880 bytes): divide that by the time
 * per iteration for the throughput.
 * - `reassembly-inorder 1460`: insert the segments in order into a 256 KiB receive buffer, then
 *   read them all out into the user's buffer.
 * - `reassembly-ooo 1460`: the same with 10% of segments out of order (in every ten, the fifth
 *   arrives before the fourth and is held until the fourth fills the hole).
 * - `send-ring 1460`: write the bytes into a 256 KiB send ring in 64 KiB user writes, copy each
 *   segment into the transmit area, release every two segments (an ACK every two segments).
 *
 * @module
 */
import type { Engine } from "../src/kernels/engine.ts";
import { createJsEngine } from "../src/kernels/js_engine.ts";
import { createWasmEngine } from "../src/kernels/wasm_engine.ts";
import { RX_OFF, TX_PAYLOAD_OFF } from "../src/wire/layout.ts";

const MSS = 1460;
const SEGMENTS = 128;
const BYTES = MSS * SEGMENTS;
const CAPACITY = 256 * 1024;

/** Arrival order of one iteration's segments: in order, or the fifth of every ten first. */
function order(outOfOrder: boolean): Int32Array {
  const o = new Int32Array(SEGMENTS);
  for (let i = 0; i < SEGMENTS; i++) o[i] = i;
  if (outOfOrder) {
    for (let i = 3; i + 1 < SEGMENTS; i += 10) {
      o[i] = i + 1;
      o[i + 1] = i;
    }
  }
  return o;
}

function reassembly(make: () => Engine, outOfOrder: boolean): () => void {
  const e = make();
  for (let i = 0; i < MSS; i++) e.mem[RX_OFF + i] = i * 31;
  const h = e.rcvCreate(CAPACITY, 1000);
  const arrival = order(outOfOrder);
  const user = new Uint8Array(CAPACITY);
  let base = 1000;
  return () => {
    for (let i = 0; i < SEGMENTS; i++) {
      e.rcvInsert(h, (base + arrival[i]! * MSS) >>> 0, RX_OFF, MSS);
    }
    if (e.rcvRead(h, user) !== BYTES) throw new Error("Reassembly bench lost bytes");
    base = (base + BYTES) >>> 0;
  };
}

function sendRing(make: () => Engine): () => void {
  const e = make();
  const h = e.sndCreate(CAPACITY, 5000);
  const chunk = new Uint8Array(65536);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i * 7;
  return () => {
    let written = 0, sent = 0;
    let next = e.sndHead(h);
    while (sent < SEGMENTS) {
      if (written < BYTES) {
        written += e.sndWrite(h, chunk.subarray(0, Math.min(65536, BYTES - written)));
      }
      e.sndCopy(h, next, MSS, TX_PAYLOAD_OFF);
      next = (next + MSS) >>> 0;
      if (++sent % 2 === 0) e.sndRelease(h, next);
    }
  };
}

const engines: ReadonlyArray<readonly ["js" | "wasm", () => Engine]> = [
  ["js", createJsEngine],
  ["wasm", createWasmEngine],
];

for (const [name, make] of engines) {
  Deno.bench({
    name,
    group: "reassembly-inorder 1460",
    baseline: name === "js",
    fn: reassembly(make, false),
  });
}
for (const [name, make] of engines) {
  Deno.bench({
    name,
    group: "reassembly-ooo 1460",
    baseline: name === "js",
    fn: reassembly(make, true),
  });
}
for (const [name, make] of engines) {
  Deno.bench({ name, group: "send-ring 1460", baseline: name === "js", fn: sendRing(make) });
}
