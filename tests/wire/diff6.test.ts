// Differential property tests of the IPv6 wire paths: the JS and WASM engines must build the
// same bytes for random IPv6 descriptors (TCP, UDP, ICMPv6, fragment, other), decode them to
// the same 64-word descriptor, and agree on random extension-header chains (hop-by-hop,
// routing, fragment, destination options, random options and lengths), mutated frames and
// random bytes. Checksums are checked against an independent reference over the RFC 8200
// section 8.1 pseudo-header. Seeded (TCPIP_SEED, TCPIP_RUNS); fast-check prints the seed.

import assert from "node:assert/strict";
import fc from "fast-check";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { createWasmEngine } from "../../src/kernels/wasm_engine.ts";
import type { Engine } from "../../src/kernels/engine.ts";
import {
  D_DST_PORT,
  D_ICMP_CODE,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_IP6_FLOW,
  D_IP6_FRAG_HDR,
  D_IP6_PTR,
  D_IP_FRAG,
  D_IP_ID,
  D_IP_PROTO,
  D_IP_TOS,
  D_IP_TTL,
  D_KIND,
  D_L3_OFF,
  D_OPT_MSS,
  D_OPT_SACK_N,
  D_OPT_TS,
  D_OPT_TSECR,
  D_OPT_TSVAL,
  D_OPT_WS,
  D_PAYLOAD_LEN,
  D_SRC_PORT,
  D_TCP_ACK,
  D_TCP_FLAGS,
  D_TCP_SEQ,
  D_TCP_WND,
  D_VERDICT,
  D_VLAN,
  DROP_IP6_FRAG_TOO_LONG,
  K_ICMP6,
  K_IPV6_FRAGMENT,
  K_IPV6_OTHER,
  K_TCP6,
  K_UDP6,
  RX_OFF,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";
import { refChecksum } from "../support/wire_frames.ts";

const SEED = Number(Deno.env.get("TCPIP_SEED") ?? 0x6d1f);
const RUNS = Number(Deno.env.get("TCPIP_RUNS") ?? 300);

const js = createJsEngine();
const wasm = createWasmEngine();

type Desc = Record<number, number>;
const u8 = fc.nat(0xff);
const u16 = fc.nat(0xffff);
const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });

const base = fc.record({
  [D_VLAN]: fc.oneof(fc.constant(-1), u16),
  [D_IP_TOS]: u8,
  [D_IP6_FLOW]: fc.nat(0xfffff),
  [D_IP_TTL]: u8,
});

const l4 = fc.oneof(
  fc.record({
    [D_KIND]: fc.constant(K_TCP6),
    [D_SRC_PORT]: u16,
    [D_DST_PORT]: u16,
    [D_TCP_SEQ]: i32,
    [D_TCP_ACK]: i32,
    [D_TCP_FLAGS]: u8,
    [D_TCP_WND]: u16,
    [D_OPT_MSS]: fc.oneof(fc.constant(-1), u16),
    [D_OPT_WS]: fc.oneof(fc.constant(-1), fc.nat(14)),
    [D_OPT_TS]: fc.nat(1),
    [D_OPT_TSVAL]: i32,
    [D_OPT_TSECR]: i32,
  }),
  fc.record({ [D_KIND]: fc.constant(K_UDP6), [D_SRC_PORT]: u16, [D_DST_PORT]: u16 }),
  fc.record({
    [D_KIND]: fc.constant(K_ICMP6),
    [D_ICMP_TYPE]: u8,
    [D_ICMP_CODE]: u8,
    [D_ICMP_REST]: i32,
  }),
  fc.record({
    [D_KIND]: fc.constant(K_IPV6_FRAGMENT),
    [D_IP_PROTO]: u8,
    [D_IP_ID]: i32,
    // offset > 0 or M, and a whole number of 8-byte units with M (the payload is sized below)
    [D_IP_FRAG]: fc.integer({ min: 1, max: 0xffff }).filter((f) => (f & 0xfff9) !== 0),
  }),
  fc.record({
    [D_KIND]: fc.constant(K_IPV6_OTHER),
    [D_IP_PROTO]: u8.filter((p) => ![0, 6, 17, 43, 44, 58, 60].includes(p)),
  }),
);

const spec = fc.record({
  desc: fc.tuple(base, l4).map(([a, b]) => ({ ...a, ...b }) as Desc),
  src: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  dst: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  payload: fc.oneof(
    { weight: 5, arbitrary: fc.uint8Array({ maxLength: 600 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1400, maxLength: 3000 }) },
  ),
});
type Spec = typeof spec extends fc.Arbitrary<infer T> ? T : never;

function encodeIn(e: Engine, s: Spec): Uint8Array | number {
  const d = e.txDesc;
  d.fill(0);
  d[D_OPT_MSS] = -1;
  d[D_OPT_WS] = -1;
  for (const [k, v] of Object.entries(s.desc)) d[Number(k)] = v;
  let payload = s.payload;
  if (s.desc[D_KIND] === K_IPV6_FRAGMENT) payload = payload.subarray(0, payload.length & ~7);
  e.mem.set(s.src, TX_IP6_SRC);
  e.mem.set(s.dst, TX_IP6_DST);
  e.mem.set(payload, TX_PAYLOAD_OFF);
  const start = e.encode(TX_PAYLOAD_OFF, payload.length);
  if (start < 0) return start;
  return e.mem.slice(start, TX_PAYLOAD_OFF + payload.length);
}

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

/** The reference sum of the IPv6 pseudo-header (RFC 8200 section 8.1) of `f` at `l3`. */
function pseudo6(f: Uint8Array, l3: number, nh: number, len: number): number {
  let s = nh + len;
  for (let i = l3 + 8; i < l3 + 40; i += 2) s += (f[i]! << 8) | f[i + 1]!;
  return s;
}

Deno.test("wire diff6: IPv6 frames encode identically, verify, and round-trip", () => {
  const prop = fc.property(spec, fc.nat(7), (s, shift) => {
    const a = encodeIn(js, s);
    const b = encodeIn(wasm, s);
    assert.deepEqual(b, a);
    if (typeof a === "number") return;
    const l3 = s.desc[D_VLAN]! >= 0 ? 18 : 14;
    assert.equal(a[l3]! >> 4, 6);
    assert.deepEqual(a.slice(l3 + 8, l3 + 24), s.src);
    assert.deepEqual(a.slice(l3 + 24, l3 + 40), s.dst);
    const kind = s.desc[D_KIND]!;
    const upper = a.subarray(l3 + 40);
    // An independent check of the checksums over the pseudo-header.
    if (kind === K_TCP6) assert.equal(refChecksum(upper, pseudo6(a, l3, 6, upper.length)), 0);
    if (kind === K_UDP6) assert.equal(refChecksum(upper, pseudo6(a, l3, 17, upper.length)), 0);
    if (kind === K_ICMP6) assert.equal(refChecksum(upper, pseudo6(a, l3, 58, upper.length)), 0);
    const r = decodeBoth(a, shift);
    const fo = s.desc[D_IP_FRAG]!;
    if (kind === K_IPV6_FRAGMENT && (fo >>> 3) * 8 + upper.length - 8 > 0xffff) {
      // RFC 8200 section 4.5: would reassemble past 65535; the pointer names the offset field.
      assert.deepEqual([r[D_VERDICT], r[D_IP6_PTR]], [DROP_IP6_FRAG_TOO_LONG, 42]);
      return;
    }
    assert.equal(r[D_VERDICT], 0);
    assert.equal(r[D_KIND], kind);
    for (const k of [D_VLAN, D_IP_TOS, D_IP6_FLOW, D_IP_TTL]) assert.equal(r[k], s.desc[k]);
    if (kind === K_IPV6_FRAGMENT) {
      for (const k of [D_IP_PROTO, D_IP_ID, D_IP_FRAG]) assert.equal(r[k], s.desc[k]);
      assert.equal(r[D_IP6_FRAG_HDR], r[D_L3_OFF]! + 40);
      return;
    }
    if (kind === K_IPV6_OTHER) {
      assert.equal(r[D_IP_PROTO], s.desc[D_IP_PROTO]);
      assert.equal(r[D_PAYLOAD_LEN], s.payload.length);
      return;
    }
    assert.equal(r[D_PAYLOAD_LEN], s.payload.length);
    if (kind === K_ICMP6) {
      for (const k of [D_ICMP_TYPE, D_ICMP_CODE, D_ICMP_REST]) assert.equal(r[k], s.desc[k]);
      return;
    }
    assert.deepEqual([r[D_SRC_PORT], r[D_DST_PORT]], [s.desc[D_SRC_PORT], s.desc[D_DST_PORT]]);
    if (kind === K_TCP6) {
      for (const k of [D_TCP_SEQ, D_TCP_ACK, D_TCP_FLAGS, D_TCP_WND, D_OPT_TS]) {
        assert.equal(r[k], s.desc[k]);
      }
      assert.equal(r[D_OPT_SACK_N], 0);
    }
  });
  fc.assert(prop, { seed: SEED, numRuns: RUNS, endOnFailure: true });
});

/** One extension header: its Next Header value and bytes with room for the next one's value. */
const option = fc.oneof(
  fc.constant([0]), // Pad1
  fc.nat(5).map((n) => [1, n, ...new Array<number>(n).fill(0)]), // PadN
  fc.tuple(u8, fc.nat(6)).map(([t, n]) => [t, n, ...new Array<number>(n).fill(0xab)]),
  fc.constant([5, 2, 0, 0]), // router alert (MLD), action 00
);
const extHeader = fc.oneof(
  fc.tuple(fc.constantFrom(0, 60), fc.array(option, { maxLength: 4 }), fc.boolean()).map(
    ([nh, opts, lie]) => {
      const body = opts.flat();
      while ((body.length + 2) % 8 !== 0) body.push(0);
      const len = (body.length + 2) / 8 - 1 + (lie ? 1 : 0); // lie: runs past its bytes
      return { nh, bytes: [0, len, ...body] };
    },
  ),
  fc.tuple(u8, fc.oneof(fc.constant(0), u8)).map(([type, left]) => ({
    nh: 43,
    bytes: [0, 0, type, left, 0, 0, 0, 0],
  })),
  fc.tuple(fc.oneof(fc.constant(0), fc.constant(1), u16), i32).map(([fo, id]) => ({
    nh: 44,
    bytes: [0, 0, fo >> 8, fo & 0xff, id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff],
  })),
  fc.array(u8, { minLength: 2, maxLength: 10 }).map((b) => ({ nh: b[0]!, bytes: b })),
);

/** Insert `chain` between the IPv6 header and the upper layer; Next Headers relinked. */
function withChain(frame: Uint8Array, l3: number, chain: { nh: number; bytes: number[] }[]) {
  const ulNh = frame[l3 + 6]!;
  const ext: number[] = [];
  const nhs = [...chain.map((c) => c.nh), ulNh];
  for (const [i, c] of chain.entries()) {
    const b = c.bytes.slice();
    b[0] = nhs[i + 1]!;
    ext.push(...b);
  }
  const out = new Uint8Array(frame.length + ext.length);
  out.set(frame.subarray(0, l3 + 40));
  out.set(ext, l3 + 40);
  out.set(frame.subarray(l3 + 40), l3 + 40 + ext.length);
  out[l3 + 6] = nhs[0]!;
  const plen = out.length - l3 - 40;
  out[l3 + 4] = plen >> 8;
  out[l3 + 5] = plen & 0xff;
  return out;
}

Deno.test("wire diff6: random extension-header chains decode identically", () => {
  const prop = fc.property(
    spec,
    fc.array(extHeader, { maxLength: 10 }),
    fc.nat(7),
    (s, chain, shift) => {
      const a = encodeIn(js, s);
      if (typeof a === "number" || a.length - 14 > 0xffff - 200) return;
      const l3 = s.desc[D_VLAN]! >= 0 ? 18 : 14;
      const f = withChain(a, l3, chain);
      if (f.length - l3 - 40 > 0xffff) return;
      const r = decodeBoth(f, shift);
      const fo = s.desc[D_IP_FRAG]!;
      if (s.desc[D_KIND] === K_IPV6_FRAGMENT && (fo >>> 3) * 8 + s.payload.length > 0xfff0) return;
      // A chain of plain padding headers leaves the upper layer and its checksum intact.
      const plain = chain.every((c) =>
        (c.nh === 0 || c.nh === 60) && c.bytes.slice(2).every((x) => x === 0) &&
        c.bytes[1] === (c.bytes.length >> 3) - 1
      );
      if (
        plain && chain.length <= 8 &&
        (chain.length === 0 || chain.findIndex((c) => c.nh === 0) <= 0)
      ) {
        assert.equal(r[D_VERDICT], 0);
        assert.equal(r[D_KIND], s.desc[D_KIND]);
      }
    },
  ); // deno-fmt-ignore-line
  fc.assert(prop, { seed: SEED + 1, numRuns: RUNS * 2, endOnFailure: true });
});

Deno.test("wire diff6: mutated IPv6 frames and random bytes decode identically", () => {
  const prop = fc.property(
    spec,
    fc.array(fc.record({ at: fc.nat(120), val: u8 }), { maxLength: 4 }),
    fc.oneof(fc.constant(-1), fc.nat()),
    fc.uint8Array({ maxLength: 160 }),
    (s, edits, cut, noise) => {
      const a = encodeIn(js, s);
      if (typeof a === "number") return;
      let f = a.slice();
      for (const e of edits) f[e.at % f.length] = e.val;
      if (cut >= 0) f = f.slice(0, cut % (f.length + 1));
      decodeBoth(f, 0);
      const n = noise.slice();
      if (n.length >= 15) {
        n[12] = 0x86;
        n[13] = 0xdd;
        n[14] = 0x60 | (n[14]! & 15);
      }
      decodeBoth(n, 1);
      js.mem.set(n, RX_OFF);
      wasm.mem.set(n, RX_OFF);
      const len = Math.max(0, n.length - 14);
      assert.equal(wasm.decodeIpv6(RX_OFF + 14, len), js.decodeIpv6(RX_OFF + 14, len));
      assert.deepEqual(Array.from(wasm.rxDesc), Array.from(js.rxDesc));
    },
  );
  fc.assert(prop, { seed: SEED + 2, numRuns: RUNS * 2, endOnFailure: true });
});
