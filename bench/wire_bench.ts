/**
 * Wire hot paths, JS engine (baseline) against WASM engine: Internet checksum, whole-frame
 * decode of a TCP frame (or UDP datagram) with every checksum verified, and whole-frame encode
 * with checksums filled in (IPv4, and TCP over IPv6 in the `*-tcp6` groups). One group per
 * operation and size (`<operation> <bytes>`), two benches per group: `js` and `wasm`.
 *
 *   deno bench -A bench/wire_bench.ts
 *
 * @module
 */

import { createJsEngine } from "../src/kernels/js_engine.ts";
import { createWasmEngine } from "../src/kernels/wasm_engine.ts";
import type { Engine } from "../src/kernels/engine.ts";
import { Rng } from "../tests/support/rng.ts";
import {
  D_ETH_DST_HI,
  D_IP_DST,
  D_IP_FRAG,
  D_IP_SRC,
  D_IP_TTL,
  D_KIND,
  D_OPT_MSS,
  D_OPT_SACK_N,
  D_OPT_TS,
  D_OPT_TSECR,
  D_OPT_TSVAL,
  D_OPT_WS,
  D_SRC_PORT,
  D_TCP_ACK,
  D_TCP_FLAGS,
  D_TCP_SEQ,
  D_TCP_WND,
  D_VLAN,
  F_ACK,
  F_PSH,
  K_TCP,
  K_TCP6,
  K_UDP,
  RX_OFF,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../src/wire/layout.ts";

const engines: Engine[] = [createJsEngine(), createWasmEngine()];

/** Deterministic filler bytes. */
function fill(m: Uint8Array, off: number, len: number): void {
  new Rng(0x9e3779b9).fill(m, off, len);
}

/** Describe a PSH+ACK data segment; timestamps when `ts` (a 32-byte TCP header). */
function describeTcp(e: Engine, ts: boolean): void {
  const d = e.txDesc;
  d.fill(0);
  d[D_KIND] = K_TCP;
  d[D_ETH_DST_HI] = 0x0200;
  d[D_VLAN] = -1;
  d[D_IP_TTL] = 64;
  d[D_IP_FRAG] = 0x4000;
  d[D_IP_SRC] = 0x0a000001;
  d[D_IP_DST] = 0x0a000002;
  d[D_SRC_PORT] = 80;
  d[D_SRC_PORT + 1] = 49152;
  d[D_TCP_SEQ] = 2001;
  d[D_TCP_ACK] = 201;
  d[D_TCP_FLAGS] = F_PSH | F_ACK;
  d[D_TCP_WND] = 502;
  d[D_OPT_MSS] = -1;
  d[D_OPT_WS] = -1;
  d[D_OPT_TS] = ts ? 1 : 0;
  d[D_OPT_TSVAL] = 12345;
  d[D_OPT_TSECR] = 54321;
  d[D_OPT_SACK_N] = 0;
}

/** TCP frame of `size` bytes: headers and payload; returns the payload length. */
function tcpPayloadLen(size: number): { ts: boolean; payload: number } {
  const ts = size >= 576;
  return { ts, payload: size - 14 - 20 - (ts ? 32 : 20) };
}

for (const size of [20, 64, 576, 1500, 9000, 65536]) {
  for (const e of engines) {
    fill(e.mem, RX_OFF, size);
    Deno.bench({
      name: e.kind,
      group: `checksum ${size}`,
      baseline: e.kind === "js",
      n: size >= 9000 ? 20000 : 200000,
      fn() {
        e.checksum(RX_OFF, size, 0);
      },
    });
  }
}

for (const [k, size] of [64, 576, 1500, 9000, 65536].entries()) {
  // Each size has its own frame: every bench is registered before any runs.
  const at = RX_OFF + 0x20000 * (k + 1);
  for (const e of engines) {
    const { ts, payload } = tcpPayloadLen(size);
    describeTcp(e, ts);
    fill(e.mem, TX_PAYLOAD_OFF, payload);
    const start = e.encode(TX_PAYLOAD_OFF, payload);
    if (start < 0 || TX_PAYLOAD_OFF + payload - start !== size) {
      throw new Error("Bench setup failed");
    }
    e.mem.copyWithin(at, start, start + size);
    if (e.decode(at, size) !== 0 || e.rxDesc[D_KIND] !== K_TCP) {
      throw new Error(`Bench frame of ${size} bytes does not decode`);
    }
    Deno.bench({
      name: e.kind,
      group: `decode-tcp ${size}`,
      baseline: e.kind === "js",
      n: size >= 9000 ? 20000 : 200000,
      fn() {
        if (e.decode(at, size) !== 0) throw new Error("Bench frame does not decode");
      },
    });
  }
}

for (const size of [64, 576, 1500, 9000, 65536]) {
  for (const e of engines) {
    const { ts, payload } = tcpPayloadLen(size);
    describeTcp(e, ts);
    fill(e.mem, TX_PAYLOAD_OFF, payload);
    const desc = e.txDesc; // the memory does not grow during the benchmark
    const tsFlag = ts ? 1 : 0;
    Deno.bench({
      name: e.kind,
      group: `encode-tcp ${size}`,
      baseline: e.kind === "js",
      n: size >= 9000 ? 20000 : 200000,
      fn() {
        desc[D_KIND] = K_TCP; // other groups share the descriptor
        desc[D_OPT_TS] = tsFlag;
        e.encode(TX_PAYLOAD_OFF, payload);
      },
    });
  }
}

// UDP datagrams: decode (pseudo-header checksum verified) and encode, 64 to 1500 bytes.
for (const [k, size] of [64, 576, 1500].entries()) {
  const at = RX_OFF + 0x20000 * (k + 6);
  const payload = size - 14 - 20 - 8;
  for (const e of engines) {
    describeTcp(e, false);
    e.txDesc[D_KIND] = K_UDP;
    fill(e.mem, TX_PAYLOAD_OFF, payload);
    const start = e.encode(TX_PAYLOAD_OFF, payload);
    e.mem.copyWithin(at, start, start + size);
    if (e.decode(at, size) !== 0 || e.rxDesc[D_KIND] !== K_UDP) {
      throw new Error(`Bench datagram of ${size} bytes does not decode`);
    }
    Deno.bench({
      name: e.kind,
      group: `decode-udp ${size}`,
      baseline: e.kind === "js",
      n: 200000,
      fn() {
        if (e.decode(at, size) !== 0) throw new Error("Bench datagram does not decode");
      },
    });
    const desc = e.txDesc;
    Deno.bench({
      name: e.kind,
      group: `encode-udp ${size}`,
      baseline: e.kind === "js",
      n: 200000,
      fn() {
        desc[D_KIND] = K_UDP; // other groups share the descriptor
        e.encode(TX_PAYLOAD_OFF, payload);
      },
    });
  }
}

// TCP over IPv6 (RFC 8200): decode with the pseudo-header checksum verified, and encode, beside
// the IPv4 groups of the same sizes (`decode-tcp <size>`, `encode-tcp <size>`).
for (const [k, size] of [96, 1500, 9000].entries()) {
  const at = RX_OFF + 0x20000 * (k + 9);
  const { ts } = tcpPayloadLen(size);
  const payload = size - 14 - 40 - (ts ? 32 : 20);
  for (const e of engines) {
    describeTcp(e, ts);
    e.txDesc[D_KIND] = K_TCP6;
    e.mem.set([0xfd, 0, ...new Array<number>(13).fill(0), 1], TX_IP6_SRC);
    e.mem.set([0xfd, 0, ...new Array<number>(13).fill(0), 2], TX_IP6_DST);
    fill(e.mem, TX_PAYLOAD_OFF, payload);
    const start = e.encode(TX_PAYLOAD_OFF, payload);
    if (start < 0 || TX_PAYLOAD_OFF + payload - start !== size) {
      throw new Error("Bench setup failed");
    }
    e.mem.copyWithin(at, start, start + size);
    if (e.decode(at, size) !== 0 || e.rxDesc[D_KIND] !== K_TCP6) {
      throw new Error(`Bench IPv6 frame of ${size} bytes does not decode`);
    }
    Deno.bench({
      name: e.kind,
      group: `decode-tcp6 ${size}`,
      baseline: e.kind === "js",
      n: size >= 9000 ? 20000 : 200000,
      fn() {
        if (e.decode(at, size) !== 0) throw new Error("Bench frame does not decode");
      },
    });
    const desc = e.txDesc;
    const tsFlag = ts ? 1 : 0;
    Deno.bench({
      name: e.kind,
      group: `encode-tcp6 ${size}`,
      baseline: e.kind === "js",
      n: size >= 9000 ? 20000 : 200000,
      fn() {
        desc[D_KIND] = K_TCP6; // other groups share the descriptor
        desc[D_OPT_TS] = tsFlag;
        e.encode(TX_PAYLOAD_OFF, payload);
      },
    });
  }
}
