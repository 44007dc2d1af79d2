// Differential property tests of the wire hot paths: the JS and WASM engines must produce the
// same encoded bytes and the same 64-word receive descriptor (verdict included) for random
// valid frames, random mutations of them, random TCP option lists and random bytes; and encode
// then decode must round-trip the descriptor's fields. Seeded; fast-check prints the seed and
// the counterexample path on failure (rerun with TCPIP_SEED=<seed>).

import assert from "node:assert/strict";
import fc from "fast-check";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { createWasmEngine } from "../../src/kernels/wasm_engine.ts";
import type { Engine } from "../../src/kernels/engine.ts";
import {
  D_ARP_OP,
  D_ARP_TPA,
  D_DST_PORT,
  D_ETH_DST_HI,
  D_ETH_SRC_LO,
  D_ICMP_CODE,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_IP_DST,
  D_IP_FRAG,
  D_IP_ID,
  D_IP_PROTO,
  D_IP_SRC,
  D_IP_TOS,
  D_IP_TTL,
  D_KIND,
  D_OPT_MSS,
  D_OPT_SACK,
  D_OPT_SACK_N,
  D_OPT_SACK_OK,
  D_OPT_TS,
  D_OPT_TSECR,
  D_OPT_TSVAL,
  D_OPT_WS,
  D_PAYLOAD_LEN,
  D_SRC_PORT,
  D_TCP_ACK,
  D_TCP_FLAGS,
  D_TCP_SEQ,
  D_TCP_URG,
  D_TCP_WND,
  D_VERDICT,
  D_VLAN,
  F_SYN,
  K_ARP,
  K_ICMP,
  K_IPV4_FRAGMENT,
  K_IPV4_OTHER,
  K_TCP,
  K_UDP,
  RX_OFF,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";
import { ip4, refChecksum, tcpFrame } from "../support/wire_frames.ts";

const SEED = Number(Deno.env.get("TCPIP_SEED") ?? 0xd1ff);
const RUNS = Number(Deno.env.get("TCPIP_RUNS") ?? 400);

const js = createJsEngine();
const wasm = createWasmEngine();

/** A transmit descriptor as a sparse record of fields. */
type Desc = Record<number, number>;

const u16 = fc.nat(0xffff);
const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const u8 = fc.nat(0xff);

const ethIp = fc.record({
  [D_ETH_DST_HI]: u16,
  [D_ETH_DST_HI + 1]: i32,
  [D_ETH_DST_HI + 2]: u16,
  [D_ETH_SRC_LO]: i32,
  [D_VLAN]: fc.oneof(fc.constant(-1), u16),
  [D_IP_TOS]: u8,
  [D_IP_ID]: u16,
  [D_IP_FRAG]: fc.constantFrom(0, 0x4000),
  [D_IP_TTL]: u8,
  [D_IP_SRC]: i32,
  [D_IP_DST]: i32,
});

const tcpFields = fc.record({
  [D_KIND]: fc.constant(K_TCP),
  [D_SRC_PORT]: u16,
  [D_DST_PORT]: u16,
  [D_TCP_SEQ]: i32,
  [D_TCP_ACK]: i32,
  [D_TCP_FLAGS]: u8,
  [D_TCP_WND]: u16,
  [D_TCP_URG]: u16,
  [D_OPT_MSS]: fc.oneof(fc.constant(-1), u16),
  [D_OPT_WS]: fc.oneof(fc.constant(-1), fc.nat(14)),
  [D_OPT_SACK_OK]: fc.nat(1),
  [D_OPT_TS]: fc.nat(1),
  [D_OPT_TSVAL]: i32,
  [D_OPT_TSECR]: i32,
  [D_OPT_SACK_N]: fc.nat(4),
  [D_OPT_SACK]: i32,
  [D_OPT_SACK + 1]: i32,
  [D_OPT_SACK + 2]: i32,
  [D_OPT_SACK + 3]: i32,
  [D_OPT_SACK + 4]: i32,
  [D_OPT_SACK + 5]: i32,
  [D_OPT_SACK + 6]: i32,
  [D_OPT_SACK + 7]: i32,
});

const l4Fields: fc.Arbitrary<Desc> = fc.oneof(
  tcpFields,
  fc.record({ [D_KIND]: fc.constant(K_UDP), [D_SRC_PORT]: u16, [D_DST_PORT]: u16 }),
  fc.record({
    [D_KIND]: fc.constant(K_ICMP),
    [D_ICMP_TYPE]: u8,
    [D_ICMP_CODE]: u8,
    [D_ICMP_REST]: i32,
  }),
  fc.record({
    [D_KIND]: fc.constant(K_IPV4_FRAGMENT),
    [D_IP_PROTO]: u8,
    [D_IP_FRAG]: fc.integer({ min: 1, max: 0xffff }).filter((f) => (f & 0x3fff) !== 0),
  }),
  fc.record({
    [D_KIND]: fc.constant(K_IPV4_OTHER),
    [D_IP_PROTO]: u8.filter((p) => p !== 1 && p !== 6 && p !== 17),
  }),
  fc.record({
    [D_KIND]: fc.constant(K_ARP),
    [D_ARP_OP]: u16,
    [D_ARP_OP + 1]: u16,
    [D_ARP_OP + 2]: i32,
    [D_ARP_OP + 3]: i32,
    [D_ARP_OP + 4]: u16,
    [D_ARP_OP + 5]: i32,
    [D_ARP_TPA]: i32,
  }),
);

/** A valid frame's ingredients: descriptor fields and a payload. */
const frameSpec = fc.record({
  desc: fc.tuple(ethIp, l4Fields).map(([a, b]) => ({ ...a, ...b }) as Desc),
  payload: fc.oneof(
    { weight: 5, arbitrary: fc.uint8Array({ maxLength: 600 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1400, maxLength: 3000 }) },
  ),
});

/** Encode `spec` in `e`; returns the frame bytes (a copy) or the negative error. */
function encodeIn(e: Engine, spec: { desc: Desc; payload: Uint8Array }): Uint8Array | number {
  const d = e.txDesc;
  d.fill(0);
  d[D_OPT_MSS] = -1;
  d[D_OPT_WS] = -1;
  d[D_VLAN] = -1;
  for (const [k, v] of Object.entries(spec.desc)) d[Number(k)] = v;
  const payload = spec.desc[D_KIND] === K_ARP ? new Uint8Array(0) : spec.payload;
  e.mem.set(payload, TX_PAYLOAD_OFF);
  const start = e.encode(TX_PAYLOAD_OFF, payload.length);
  if (start < 0) return start;
  return e.mem.slice(start, TX_PAYLOAD_OFF + payload.length);
}

/** Decode `frame` at the same offset in both engines; assert equal descriptors; return it. */
function decodeBoth(frame: Uint8Array, shift: number): Int32Array {
  const off = RX_OFF + shift;
  js.mem.set(frame, off);
  wasm.mem.set(frame, off);
  const vj = js.decode(off, frame.length);
  const vw = wasm.decode(off, frame.length);
  assert.deepEqual(Array.from(wasm.rxDesc), Array.from(js.rxDesc));
  assert.equal(vj, vw);
  assert.equal(vj, js.rxDesc[D_VERDICT]);
  return js.rxDesc;
}

/** Recompute the IPv4 header checksum and the L4 checksum where the header allows it. */
function fixChecksums(f: Uint8Array): void {
  let l3 = 14;
  if (f.length < 14) return;
  if (f[12] === 0x81 && f[13] === 0x00) l3 = 18;
  if (f.length < l3 + 20) return;
  const hlen = (f[l3]! & 15) * 4;
  if (hlen < 20 || l3 + hlen > f.length) return;
  f[l3 + 10] = f[l3 + 11] = 0;
  const c = refChecksum(f.subarray(l3, l3 + hlen));
  f[l3 + 10] = c >>> 8;
  f[l3 + 11] = c & 0xff;
  const total = (f[l3 + 2]! << 8) | f[l3 + 3]!;
  if (total < hlen || l3 + total > f.length) return;
  const l4 = f.subarray(l3 + hlen, l3 + total);
  const proto = f[l3 + 9]!;
  const v = new DataView(f.buffer, f.byteOffset + l3);
  const pseudo = v.getUint16(12) + v.getUint16(14) + v.getUint16(16) + v.getUint16(18) + proto;
  if (proto === 6 && l4.length >= 20) {
    l4[16] = l4[17] = 0;
    const s = refChecksum(l4, pseudo + l4.length);
    l4[16] = s >>> 8;
    l4[17] = s & 0xff;
  } else if (proto === 17 && l4.length >= 8) {
    const ulen = (l4[4]! << 8) | l4[5]!;
    if (ulen < 8 || ulen > l4.length) return;
    l4[6] = l4[7] = 0;
    const s = refChecksum(l4.subarray(0, ulen), pseudo + ulen) || 0xffff;
    l4[6] = s >>> 8;
    l4[7] = s & 0xff;
  } else if (proto === 1 && l4.length >= 8) {
    l4[2] = l4[3] = 0;
    const s = refChecksum(l4);
    l4[2] = s >>> 8;
    l4[3] = s & 0xff;
  }
}

Deno.test("wire diff: valid frames encode identically and round-trip in both engines", () => {
  const prop = fc.property(frameSpec, fc.nat(7), (spec, shift) => {
    const a = encodeIn(js, spec);
    const b = encodeIn(wasm, spec);
    assert.deepEqual(b, a);
    if (typeof a === "number") return;
    const r = decodeBoth(a, shift);
    const d = spec.desc;
    assert.equal(r[D_VERDICT], 0);
    assert.equal(r[D_KIND], d[D_KIND]);
    for (const k of [D_ETH_DST_HI, D_ETH_DST_HI + 1, D_ETH_DST_HI + 2, D_ETH_SRC_LO, D_VLAN]) {
      assert.equal(r[k], d[k], `word ${k}`);
    }
    if (d[D_KIND] === K_ARP) {
      for (let k = D_ARP_OP; k <= D_ARP_TPA; k++) assert.equal(r[k], d[k], `word ${k}`);
      return;
    }
    for (const k of [D_IP_TOS, D_IP_ID, D_IP_FRAG, D_IP_TTL, D_IP_SRC, D_IP_DST]) {
      assert.equal(r[k], d[k], `word ${k}`);
    }
    const kind = d[D_KIND];
    if (kind === K_IPV4_FRAGMENT || kind === K_IPV4_OTHER) {
      assert.equal(r[D_IP_PROTO], d[D_IP_PROTO]);
      assert.equal(r[D_PAYLOAD_LEN], spec.payload.length);
      return;
    }
    assert.equal(r[D_PAYLOAD_LEN], spec.payload.length);
    if (kind === K_ICMP) {
      for (const k of [D_ICMP_TYPE, D_ICMP_CODE, D_ICMP_REST]) assert.equal(r[k], d[k]);
      return;
    }
    assert.equal(r[D_SRC_PORT], d[D_SRC_PORT]);
    assert.equal(r[D_DST_PORT], d[D_DST_PORT]);
    if (kind !== K_TCP) return;
    for (const k of [D_TCP_SEQ, D_TCP_ACK, D_TCP_FLAGS, D_TCP_WND, D_TCP_URG, D_OPT_TS]) {
      assert.equal(r[k], d[k], `word ${k}`);
    }
    if (d[D_OPT_TS]) {
      assert.deepEqual([r[D_OPT_TSVAL], r[D_OPT_TSECR]], [d[D_OPT_TSVAL], d[D_OPT_TSECR]]);
    }
    if ((d[D_TCP_FLAGS]! & F_SYN) !== 0) {
      assert.deepEqual([r[D_OPT_MSS], r[D_OPT_WS], r[D_OPT_SACK_N]], [
        d[D_OPT_MSS],
        d[D_OPT_WS],
        0,
      ]);
      assert.equal(r[D_OPT_SACK_OK], d[D_OPT_SACK_OK]);
    } else {
      const n = d[D_OPT_TS] && d[D_OPT_SACK_N]! > 3 ? 3 : d[D_OPT_SACK_N]!;
      assert.deepEqual([r[D_OPT_MSS], r[D_OPT_WS], r[D_OPT_SACK_OK], r[D_OPT_SACK_N]], [
        -1,
        -1,
        0,
        n,
      ]);
      for (let k = 0; k < 2 * n; k++) assert.equal(r[D_OPT_SACK + k], d[D_OPT_SACK + k]);
    }
  }); // deno-fmt-ignore-line
  fc.assert(prop, { seed: SEED, numRuns: RUNS });
});

const mutation = fc.record({
  edits: fc.array(fc.record({ pos: fc.nat(), at: fc.nat(80), val: u8, near: fc.boolean() }), {
    maxLength: 4,
  }),
  // Header fields the parsers branch on, relative to the IPv4 header: version/IHL, total
  // length, protocol, UDP length, TCP data offset, first option bytes.
  smash: fc.array(
    fc.record({
      at: fc.constantFrom(0, 2, 3, 9, 24, 25, 32, 40, 41),
      val: fc.oneof(u8, fc.integer({ min: 0x40, max: 0x4f }), fc.nat(40)),
    }),
    {
      maxLength: 2,
    },
  ),
  cut: fc.oneof(fc.constant(-1), fc.nat()),
  fix: fc.boolean(),
});

Deno.test("wire diff: mutated frames decode identically in both engines", () => {
  const prop = fc.property(frameSpec, mutation, fc.nat(7), (spec, mut, shift) => {
    const a = encodeIn(js, spec);
    if (typeof a === "number") return;
    let f = a.slice();
    // Most edits land in the headers, where the parsers branch.
    for (const e of mut.edits) f[e.near ? e.at % f.length : e.pos % f.length] = e.val;
    const l3 = f[12] === 0x81 && f[13] === 0 ? 18 : 14;
    for (const e of mut.smash) if (l3 + e.at < f.length) f[l3 + e.at] = e.val;
    if (mut.cut >= 0) f = f.slice(0, mut.cut % (f.length + 1));
    if (mut.fix) fixChecksums(f);
    decodeBoth(f, shift);
  });
  fc.assert(prop, { seed: SEED + 1, numRuns: RUNS * 2 });
});

/** One TCP option item as bytes, valid or not. */
const optionItem: fc.Arbitrary<number[]> = fc.oneof(
  fc.constant<number[]>([0]),
  fc.constant<number[]>([1]),
  u16.map((v) => [2, 4, v >> 8, v & 0xff]),
  u8.map((v) => [3, 3, v]),
  fc.constant<number[]>([4, 2]),
  fc.array(u8, { minLength: 8, maxLength: 32 }).map((
    b,
  ) => [5, 2 + (b.length & ~7), ...b.slice(0, b.length & ~7)]),
  fc.array(u8, { minLength: 8, maxLength: 8 }).map((b) => [8, 10, ...b]),
  fc.tuple(fc.nat({ max: 255 }), fc.nat(12)).map((
    [k, l],
  ) => [k, l, ...new Array<number>(Math.max(0, l - 2)).fill(7)]),
  fc.array(u8, { maxLength: 4 }),
); // deno-fmt-ignore-line

Deno.test("wire diff: random TCP option lists with valid checksums decode identically", () => {
  const ip = { src: ip4("10.0.0.1"), dst: ip4("10.0.0.2") };
  const prop = fc.property(fc.array(optionItem, { maxLength: 8 }), u8, (items, flags) => {
    const bytes = items.flat().slice(0, 40);
    while (bytes.length % 4 !== 0) bytes.push(0);
    const t = { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags, wnd: 5, options: bytes };
    decodeBoth(tcpFrame({}, ip, t, new Uint8Array(3)), 0);
  });
  fc.assert(prop, { seed: SEED + 2, numRuns: RUNS * 2 });
});

Deno.test("wire diff: random bytes and decodeIpv4 agree in both engines", () => {
  const prop = fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, fix) => {
    const f = bytes.slice();
    if (f.length >= 14) {
      f[12] = 0x08; // mostly IPv4 so that the deeper layers are reached
      f[13] = 0x00;
      if (f.length > 14) f[14] = 0x45;
    }
    if (fix) fixChecksums(f);
    decodeBoth(f, 0);
    js.mem.set(f, RX_OFF);
    wasm.mem.set(f, RX_OFF);
    const n = Math.max(0, f.length - 14);
    assert.equal(wasm.decodeIpv4(RX_OFF + 14, n), js.decodeIpv4(RX_OFF + 14, n));
    assert.deepEqual(Array.from(wasm.rxDesc), Array.from(js.rxDesc));
  });
  fc.assert(prop, { seed: SEED + 3, numRuns: RUNS * 2 });
});

Deno.test("wire diff: checksum agrees on random offsets and lengths", () => {
  const prop = fc.property(
    fc.uint8Array({ maxLength: 5000 }),
    fc.nat(15),
    i32,
    (b, shift, init) => {
      js.mem.set(b, RX_OFF + shift);
      wasm.mem.set(b, RX_OFF + shift);
      const want = refChecksum(b, init >>> 0);
      assert.equal(js.checksum(RX_OFF + shift, b.length, init), want);
      assert.equal(wasm.checksum(RX_OFF + shift, b.length, init), want);
    },
  );
  fc.assert(prop, { seed: SEED + 4, numRuns: RUNS });
});
